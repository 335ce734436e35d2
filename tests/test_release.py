"""The repository as newcomers and publishers meet it: one version label, the licences, a README as an entry point."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import series

REPO = series.REPO_ROOT
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def test_one_version_everywhere() -> None:
    """pyproject.toml holds the series' version; conf.py reads it; CITATION.cff and CHANGELOG.md's top entry say it."""
    citation = re.search(r'^version: "([^"]+)"$', (REPO / "CITATION.cff").read_text(), re.M)
    assert citation and citation.group(1) == VERSION, f"CITATION.cff's version is not pyproject.toml's {VERSION}"
    top = re.search(r"^## \[([^\]]+)\]", (REPO / "CHANGELOG.md").read_text(), re.M)
    assert top and top.group(1) == VERSION, f"CHANGELOG.md's first entry is not {VERSION}"
    code = "import conf; print(conf.release)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == VERSION


def test_the_readme_is_an_entry_point() -> None:
    """Short, no measurements (they live in benchmark.md, which make bench writes), and the links newcomers need."""
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 100, "the README is an entry point: maintainer material goes to CONTRIBUTING.md"
    assert "<!-- bench:" not in text, "make bench writes benchmark.md only"
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text), "no dated measurements in the README"
    assert not re.search(r"\d+ (passed|tests?)\b|\d+(\.\d+)? ?s\b", text), "no test counts or timings in seconds"
    for link in ("setup.md", "before-the-workshop.md", "CONTRIBUTING.md", "CHANGELOG.md", "LICENSE", "LICENSE-TEXT"):
        assert f"]({link})" in text and (REPO / link).is_file(), link
    for command in ("make run", "make test", "make lab"):
        assert command in text, command


def test_the_licences_are_there_and_named() -> None:
    assert (REPO / "LICENSE").read_text().split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert (REPO / "LICENSE-TEXT").read_text().startswith("Attribution 4.0 International")
    assert "CC BY-SA 3.0" in (REPO / "NOTICE").read_text()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0 AND CC-BY-4.0"
    assert set(project["license-files"]) == {"LICENSE", "LICENSE-TEXT", "NOTICE"}
    footer = subprocess.run(
        [sys.executable, "-c", "import conf; print(conf.html_theme_options['extra_footer'])"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for licence in ("CC BY 4.0", "CC BY-SA 3.0", "Apache 2.0"):
        assert licence in footer, licence
