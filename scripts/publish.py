"""Set where the series is published: its repository URL and ref (a branch or tag), and optionally a JupyterHub.

    python scripts/publish.py --repo https://github.com/ORG/mnist-tf-tutorial --ref v2.0
    python scripts/publish.py --repo https://github.com/ORG/mnist-tf-tutorial --ref main --hub https://hub.example.edu
    python scripts/publish.py --check          # do the notebooks agree with scripts/series.py? (exit status 1 if not)

It writes the settings into scripts/series.py (which the website's conf.py reads for its launch buttons), the
repository into CITATION.cff (repository-code), and both into the Colab step, every notebook's first code cell
(series.COLAB_STEP), which fetches the series from there when a notebook runs outside a clone of it (Colab, a
notebook downloaded on its own). Commit the result, and tag the ref if it is a tag. tests/test_colab.py checks that
the notebooks and series.py agree.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import nbformat

import series

SETTINGS = {"repo": "REPOSITORY_URL", "ref": "REPOSITORY_REF", "hub": "JUPYTERHUB_URL"}
CITATION = series.REPO_ROOT / "CITATION.cff"
# CITATION.cff's repository-code line: commented out until the series is published at a web address (CFF wants an
# http(s) URL there: a git@, ssh:// or file:// repository leaves it commented).
UNPUBLISHED_CITATION = "# repository-code: written by scripts/publish.py --repo URL (not published yet)"


def colab_cell(notebook) -> nbformat.NotebookNode:
    """The notebook's Colab step: its first code cell, recognized by what it is (series.is_colab_cell)."""
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    if not code or not series.is_colab_cell(code[0]):
        raise ValueError(f"the first code cell is not the Colab step ({series.COLAB_TITLE!r}): restore it (setup.md)")
    return code[0]


def with_colab_step(notebook, repo: str, ref: str) -> None:
    """Write the Colab step for `repo` and `ref` into `notebook`'s Colab cell: its source and its metadata (a form in
    Colab, collapsed in JupyterLab, left off the website)."""
    cell, fresh = colab_cell(notebook), series.colab_cell(repo, ref)
    cell.source = fresh.source
    cell.metadata.update(fresh.metadata)


def write_settings(path: Path, values: dict[str, str]) -> None:
    text = path.read_text()
    for key, value in values.items():
        text, count = re.subn(
            rf"^{SETTINGS[key]} = .*?(  #.*)?$",
            lambda m, key=key, value=value: f"{SETTINGS[key]} = {json.dumps(value)}{m.group(1) or ''}",
            text,
            count=1,
            flags=re.M,
        )
        if count != 1:
            raise ValueError(f"{path.name} has no {SETTINGS[key]} line")
    path.write_text(text)


def write_citation(path: Path, repo: str) -> None:
    """Set CITATION.cff's repository-code to `repo`, or comment it out when `repo` is not a web address."""
    line = f"repository-code: {json.dumps(repo)}" if re.match(r"https?://", repo) else UNPUBLISHED_CITATION
    text, count = re.subn(r"^#? ?repository-code:.*$", lambda m: line, path.read_text(), count=1, flags=re.M)
    if count != 1:
        raise ValueError(f"{path.name} has no repository-code line")
    path.write_text(text)


def disagreeing(repo: str, ref: str) -> list[str]:
    """The notebooks whose Colab cell is not the step for `repo` and `ref`, as series.colab_cell makes it."""
    fresh = series.colab_cell(repo, ref)
    wrong = []
    for path in series.NOTEBOOKS:
        try:
            cell = colab_cell(nbformat.read(path, as_version=4))
        except ValueError:
            wrong.append(path.name)
            continue
        if cell.source != fresh.source or any(cell.metadata.get(k) != v for k, v in fresh.metadata.items()):
            wrong.append(path.name)
    return wrong


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", help="the series' git repository URL (https://github.com/ORG/NAME)")
    parser.add_argument("--ref", help=f"the branch or tag the notebooks fetch (now {series.REPOSITORY_REF!r})")
    parser.add_argument("--hub", help="a JupyterHub's URL, for the website's JupyterHub button (empty: no button)")
    parser.add_argument("--check", action="store_true", help="only check that the notebooks agree with series.py")
    args = parser.parse_args(argv)
    if args.check:
        wrong = disagreeing(series.REPOSITORY_URL, series.REPOSITORY_REF)
        print("Every notebook agrees with scripts/series.py." if not wrong else f"Out of step: {', '.join(wrong)}")
        return 1 if wrong else 0
    if not args.repo:
        parser.error("--repo is required (or --check)")
    repo = args.repo.strip().rstrip("/")
    values = {
        "repo": repo[: -len(".git")] if repo.endswith(".git") else repo,
        "ref": (args.ref or series.REPOSITORY_REF).strip(),
    }
    if args.hub is not None:
        values["hub"] = args.hub.strip().rstrip("/")
    if not re.fullmatch(r"(https?://|git@|ssh://|file://)\S+", values["repo"]) or not re.fullmatch(
        r"[\w./-]+", values["ref"]
    ):
        parser.error("--repo must be a git URL (https://, ssh://, git@ or file://) and --ref a branch or tag name")
    write_settings(Path(series.__file__), values)
    write_citation(CITATION, values["repo"])
    for path in series.NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        with_colab_step(notebook, values["repo"], values["ref"])
        nbformat.write(notebook, path)
    print(
        f"Published as {values['repo']} at {values['ref']}: scripts/series.py and {len(series.NOTEBOOKS)} notebooks "
        "updated."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
