"""scripts/blank.py (`make blank`): the live-coding copy of the series, into a temporary folder here."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from blank import main

import series

HINT = "<details><summary>Hint</summary>"


@pytest.fixture(scope="module")
def blank(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The whole series written once, and what blank.py printed."""
    out, printed = tmp_path_factory.mktemp("live") / "blank", io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["--out", str(out)]) == 0
    return out, printed.getvalue()


def test_every_notebook_is_written_blank_with_its_code(blank: tuple[Path, str]) -> None:
    out, printed = blank
    assert printed.splitlines() == [f"{p.name}: written" for p in series.NOTEBOOKS] + [
        f"{out}/: {len(series.NOTEBOOKS)} notebooks for live coding, and helpers.py, which loads notebooks/helpers.py"
    ]
    for path in series.NOTEBOOKS:
        committed, copy = (nbformat.read(p, as_version=4) for p in (path, out / path.name))
        code = [[c for c in nb.cells if c.cell_type == "code"] for nb in (committed, copy)]
        assert [c.source for c in code[1]] == [c.source for c in code[0]], f"{path.name}: the lesson's code as is"
        assert all(c.outputs == [] and c.execution_count is None for c in code[1]), path.name
        assert series.is_colab_cell(code[1][0]) and not any("exercise" in c.metadata for c in code[1])
        tagged = [(c.metadata.get("tags", []), c.source) for c in code[1]]
        assert all(s.startswith(series.EXPERIMENT_SWITCH) for tags, s in tagged if "experiment" in tags), path.name
        assert all("my_prediction = None" in s for tags, s in tagged if "prediction" in tags), path.name
        text = ["\n".join(c.source for c in nb.cells if c.cell_type == "markdown") for nb in (committed, copy)]
        assert series.SOLUTION.search(text[0]) and "Solution" not in text[1], f"{path.name}: solutions removed"
        assert text[1].count(HINT) == text[0].count(HINT) == 2, f"{path.name}: hints kept"
        assert series.SOLUTION.sub("", text[0]).split() == text[1].split(), f"{path.name}: the rest of the text kept"


def test_a_changed_copy_is_kept_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / series.notebook("03").name
    assert main(["--out", str(tmp_path), "03"]) == 0
    fresh = copy.read_text()
    assert main(["--out", str(tmp_path), "03"]) == 0 and f"{copy.name}: unchanged" in capsys.readouterr().out
    copy.write_text(fresh.replace("SEED = 42", "SEED = 7  # typed in class"))
    assert main(["--out", str(tmp_path)]) == 0
    assert f"{copy.name}: kept: it differs from a fresh copy" in capsys.readouterr().out
    assert "typed in class" in copy.read_text(), "the instructor's work stays"
    for backup in (".bak", ".bak2"):  # --force: the old copy kept beside it, never replaced
        assert main(["--out", str(tmp_path), "--force", "03"]) == 0
        assert f"replaced; the old copy is {copy.name}{backup}" in capsys.readouterr().out
        assert copy.read_text() == fresh and "typed in class" in Path(f"{copy}{backup}").read_text()
        copy.write_text(fresh.replace("SEED = 42", "SEED = 7  # typed in class"))


def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, monkeypatch, capsys) -> None:
    broken = tmp_path / "03_normalizing.ipynb"
    broken.write_text('{"cells": [')
    monkeypatch.setattr(series, "NOTEBOOKS", (series.notebook("00"), broken))
    assert main(["--out", str(tmp_path / "blank")]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"blank.py: cannot read {broken}: ") and error.count("\n") == 1, error
    assert not (tmp_path / "blank").exists(), "nothing written before every notebook is read"
    assert main(["--out", str(tmp_path / "blank"), "99"]) == 1
    assert capsys.readouterr().err == "blank.py: no notebook of the series starts with 99\n"


def test_import_helpers_there_gives_the_real_module(blank: tuple[Path, str]) -> None:
    """Even with the installed project's notebooks/ off the import path: the shim alone finds the real helpers."""
    hide = "import sys; sys.path[:] = [p for p in sys.path if not p.rstrip('/').endswith('notebooks')]\n"
    probe = "import helpers, importlib.util; print(helpers.REPO_ROOT, helpers.__file__, helpers.DATA_DIR.is_dir())"
    done = subprocess.run(
        [sys.executable, "-c", hide + probe], cwd=blank[0], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [str(series.REPO_ROOT), str(series.NOTEBOOKS_DIR / "helpers.py"), "True"]


def test_notebook_01_runs_from_the_blank_folder(blank: tuple[Path, str], tmp_path: Path) -> None:
    """Run All in blank/: the Colab step does nothing (helpers is found: the shim), every cell runs."""
    out = blank[0]
    notebook = nbformat.read(out / series.notebook("01").name, as_version=4)
    probe = "import importlib.machinery as m\nprint(m.PathFinder.find_spec('helpers').origin, helpers.__file__)"
    notebook.cells.append(nbformat.v4.new_code_cell(probe))
    nbformat.write(notebook, tmp_path / "01-probe.ipynb")
    series.execute(tmp_path / "01-probe.ipynb", {}, tmp_path / "01-run.ipynb", cwd=out, timeout=300)
    ran = [c for c in nbformat.read(tmp_path / "01-run.ipynb", as_version=4).cells if c.cell_type == "code"]
    assert series.is_colab_cell(ran[0]) and ran[0].outputs == [], "the Colab step prints nothing, fetches nothing"
    assert not any(o.output_type == "error" for c in ran for o in c.outputs)
    assert ran[-1].outputs[0].text.split() == [str(out / "helpers.py"), str(series.NOTEBOOKS_DIR / "helpers.py")]
    assert [p.name for p in out.iterdir() if p.suffix != ".ipynb" and p.name != "__pycache__"] == ["helpers.py"]
