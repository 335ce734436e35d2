"""ruff, the linter and formatter, over everything the project writes in Python: scripts/, tests/, notebooks/*.py,
the notebooks' code cells, conftest.py and conf.py (the settings are pyproject.toml's [tool.ruff])."""

from __future__ import annotations

import subprocess
import sys

import pytest

from series import REPO_ROOT


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_is_clean(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "--no-cache", "."],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"ruff {' '.join(command)}:\n{result.stdout[-4000:]}{result.stderr[-2000:]}"


def test_ruff_sees_the_notebooks_and_the_scripts() -> None:
    """The lint covers what it should: the notebooks' cells among them (a file it skipped would pass silently)."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--show-files", "."],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = {line.strip().removeprefix(str(REPO_ROOT) + "/") for line in result.stdout.splitlines()}
    for expected in (
        "scripts/series.py",
        "tests/test_lint.py",
        "notebooks/helpers.py",
        "notebooks/multi_worker.py",
        "notebooks/05_training.ipynb",
        "conftest.py",
        "conf.py",
    ):
        assert expected in seen, f"ruff does not check {expected}"
