"""The Colab step (series.COLAB_STEP): a notebook outside a clone of the series fetches it and runs unchanged.

Real Colab cannot be reached from here. The simulation: a git repository made from this working tree stands for
the published series; notebook 01 is copied alone into an empty folder and run by papermill there, with a stand-in
`google.colab` module importable and MNIST_TUTORIAL_REPO pointing at that repository. Every failure of the step
(no repository set, a ref or repository that does not exist) must be one line, not a traceback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import series
from nbclient import NotebookClient
from publish import disagreeing, main as publish_main, setup_cell, with_colab_step, write_settings

from install_missing import main as install_main
from install_missing import missing, needed

GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main"]


def test_every_notebook_starts_with_the_same_colab_step() -> None:
    assert not disagreeing(series.REPOSITORY_URL, series.REPOSITORY_REF), "run scripts/publish.py (see setup.md)"
    for path in series.NOTEBOOKS:
        source = setup_cell(nbformat.read(path, as_version=4)).source
        rest = source[len(series.colab_step()):].lstrip("\n")
        assert rest.startswith("import helpers") and "helpers.setup(SEED)" in rest, path.name


def test_publish_writes_the_settings_everywhere(tmp_path: Path) -> None:
    settings = tmp_path / "series.py"
    settings.write_text('REPOSITORY_URL = ""\nREPOSITORY_REF = "main"  # a branch or tag\nJUPYTERHUB_URL = ""\n')
    write_settings(settings, {"repo": "https://github.com/example/mnist-tf-tutorial", "ref": "v2.0", "hub": "https://hub.example.edu"})
    assert settings.read_text() == (
        'REPOSITORY_URL = "https://github.com/example/mnist-tf-tutorial"\nREPOSITORY_REF = "v2.0"  # a branch or tag\n'
        'JUPYTERHUB_URL = "https://hub.example.edu"\n'
    )
    step = series.colab_step("https://github.com/example/mnist-tf-tutorial", "v2.0")
    assert 'get("MNIST_TUTORIAL_REPO") or "https://github.com/example/mnist-tf-tutorial"' in step
    assert 'get("MNIST_TUTORIAL_REF") or "v2.0"' in step
    source = setup_cell(nbformat.read(series.notebook("01"), as_version=4)).source
    changed = with_colab_step(source, step)
    assert changed.startswith(step) and changed.endswith(source[len(series.colab_step()):])
    with pytest.raises(SystemExit):
        publish_main(["--repo", "not a url"])
    # An older step is replaced whatever its settings; what follows it (environment settings) is kept.
    older = series.colab_step("https://example.org/old.git", "v1") + '\nos.environ["X"] = "1"\nimport helpers\n'
    assert with_colab_step(older, step) == step + '\nos.environ["X"] = "1"\nimport helpers\n'


def test_publish_normalizes_the_url_and_checks_the_notebooks(tmp_path: Path, monkeypatch) -> None:
    written: dict = {}
    monkeypatch.setattr("publish.write_settings", lambda path, values: written.update(values))
    monkeypatch.setattr("publish.series.NOTEBOOKS", ())
    assert publish_main(["--repo", "https://github.com/example/mnist-tf-tutorial.git/", "--ref", "v2"]) == 0
    assert written == {"repo": "https://github.com/example/mnist-tf-tutorial", "ref": "v2"}


def test_install_missing_names_only_what_is_not_installed(tmp_path: Path, capsys) -> None:
    pins = needed()
    assert ("tensorflow", "2.21.0") in pins and ("ipycanvas", "0.14.3") in pins
    assert missing(pins) == []  # this environment has everything
    assert missing([("numpy", "0.0.1"), ("no-such-package-here", "1.0")]) == ["no-such-package-here==1.0"]
    wanted = tmp_path / "requirements.in"
    wanted.write_text("# a comment\nnumpy==0.0.1\nno-such-package-here==1.0  # not on any index\n")
    assert install_main(["--dry-run", "--requirements", str(wanted)]) == 0
    assert capsys.readouterr().out == "Missing here: no-such-package-here==1.0\n"


def test_install_missing_says_in_one_line_why_pip_failed(tmp_path: Path) -> None:
    wanted = tmp_path / "requirements.in"
    wanted.write_text("no-such-package-here==1.0\n")
    done = subprocess.run([sys.executable, series.REPO_ROOT / "scripts" / "install_missing.py", "--requirements", wanted],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and done.stdout == "Installing what this environment lacks: no-such-package-here==1.0\n"
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Could not install no-such-package-here==1.0: ERROR:"), done.stderr


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository holding this working tree (tracked and new files), as the published series."""
    origin = tmp_path_factory.mktemp("published") / "mnist-tf-tutorial"
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=series.REPO_ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        if (series.REPO_ROOT / name).is_file():
            (origin / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(series.REPO_ROOT / name, origin / name)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "the series"]):
        subprocess.run([*GIT, *args], cwd=origin, check=True)
    return origin


def _fake_colab(folder: Path) -> Path:
    """A stand-in google.colab (no google/__init__.py: protobuf shares the `google` namespace)."""
    package = folder / "google" / "colab"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from . import output\n")
    (package / "output.py").write_text("def enable_custom_widget_manager():\n    pass\n")
    return folder


def test_a_notebook_alone_fetches_the_series_and_runs(published: Path, tmp_path: Path, monkeypatch) -> None:
    alone = tmp_path / "content"
    alone.mkdir()
    shutil.copy(series.notebook("01"), alone / "01.ipynb")
    monkeypatch.setenv("PYTHONPATH", str(_fake_colab(tmp_path / "fake")))
    monkeypatch.setenv("MNIST_TUTORIAL_REPO", str(published))
    monkeypatch.setenv("MNIST_TUTORIAL_REF", "main")
    series.execute(alone / "01.ipynb", {}, tmp_path / "01-run.ipynb", cwd=alone, timeout=600)
    assert (alone / "mnist-tf-tutorial" / "notebooks" / "helpers.py").is_file()
    assert (alone / "mnist-tf-tutorial" / "data" / "train-images.idx3-ubyte").is_file()
    executed = nbformat.read(tmp_path / "01-run.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert "TensorFlow 2.21.0 with Keras 3.15.1" in text and "Installing" not in text
    assert "DATA_DIR = helpers.DATA_DIR" in "".join(c.source for c in executed.cells)  # read from the fetched clone


def _run_cells(folder: Path, *sources: str) -> list:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    NotebookClient(notebook, kernel_name="python3", allow_errors=True, timeout=120, resources={"metadata": {"path": str(folder)}}).execute()
    return notebook.cells


def test_inside_a_clone_the_colab_step_does_nothing(tmp_path: Path, monkeypatch) -> None:
    """In Colab within the series' notebooks/ folder, or elsewhere with helpers installed: no fetch, no output."""
    monkeypatch.setenv("MNIST_TUTORIAL_REPO", str(tmp_path / "never-used"))
    probe = "print(OUTSIDE, os.getcwd() == here)"
    (tmp_path / "elsewhere").mkdir()
    for folder, colab in ((series.NOTEBOOKS_DIR, True), (tmp_path / "elsewhere", False)):
        if colab:
            monkeypatch.setenv("PYTHONPATH", str(_fake_colab(tmp_path / "fake")))
        else:
            monkeypatch.delenv("PYTHONPATH", raising=False)
        cells = _run_cells(folder, "import os\nhere = os.getcwd()", series.colab_step(), probe)
        assert cells[1].outputs == [], cells[1].outputs
        assert cells[2].outputs[0]["text"] == "False True\n", (folder, cells[2].outputs)
    assert not list((tmp_path / "elsewhere").iterdir()) and not (series.NOTEBOOKS_DIR / "mnist-tf-tutorial").exists()


def test_a_notebook_alone_outside_colab_fetches_the_series_too(published: Path, tmp_path: Path, monkeypatch) -> None:
    """Outside Colab the step looks for the helpers module: here it is hidden, as in a Python without the series."""
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.setenv("MNIST_TUTORIAL_REPO", str(published))
    monkeypatch.setenv("MNIST_TUTORIAL_REF", "main")
    hide = ("import os, sys\nhere = here if 'here' in globals() else os.getcwd()\nos.chdir(here)\n"
            "sys.modules.pop('helpers', None)\nsys.path_importer_cache.clear()\n"
            "sys.path[:] = [p for p in sys.path if not p.rstrip('/').endswith('notebooks')]")
    (tmp_path / "downloads").mkdir()
    probe = "import helpers\nprint(OUTSIDE, helpers.REPO_ROOT.parent.name, os.getcwd().endswith('notebooks'))"
    fetched = "print((pathlib.Path(here) / 'mnist-tf-tutorial' / '.git' / 'FETCH_HEAD').stat().st_mtime_ns)"
    # Twice, as after a restart: the second time the step finds the clone it fetched, and fetches nothing.
    cells = _run_cells(tmp_path / "downloads", hide, series.colab_step(), probe, fetched,
                       hide, series.colab_step(), probe, fetched)
    assert all(o.output_type != "error" for c in cells for o in c.outputs), [c.outputs for c in cells]
    assert cells[2].outputs[0]["text"] == cells[6].outputs[0]["text"] == "True downloads True\n"
    assert cells[5].outputs == [] and cells[3].outputs[0]["text"] == cells[7].outputs[0]["text"]
    assert (tmp_path / "downloads" / "mnist-tf-tutorial" / ".git").is_dir()


def test_every_failure_of_the_colab_step_is_one_line(published: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MNIST_TUTORIAL_REF", raising=False)
    monkeypatch.setenv("PYTHONPATH", str(_fake_colab(tmp_path / "fake")))
    cases = {
        "": "Setup stopped: this notebook needs the rest of the series: open it in a clone of the series (setup.md)",
        f"{published}|no-such-ref": f"Setup stopped: could not fetch no-such-ref of {published}: fatal: couldn't find remote ref",
        str(tmp_path / "nothing-here"): f"Setup stopped: could not fetch main of {tmp_path / 'nothing-here'}: fatal: ",
        "https://nonexistent.invalid/x.git": "Setup stopped: could not fetch main of https://nonexistent.invalid/x.git: fatal: ",
    }
    cells = []
    for setting in cases:
        repo, _, ref = setting.partition("|")
        cells.append(nbformat.v4.new_code_cell(
            f"os.environ['MNIST_TUTORIAL_REPO'] = {repo!r}\nos.environ['MNIST_TUTORIAL_REF'] = {ref or 'main'!r}\n"
            + series.colab_step()
        ))
    (tmp_path / "work").mkdir()
    ran = _run_cells(tmp_path / "work", "import os", *(cell.source for cell in cells))
    for cell, expected in zip(ran[1:], cases.values()):
        errors = [output for output in cell.outputs if output.output_type == "error"]
        assert len(errors) == 1 and len(errors[0].traceback) == 1, cell.outputs
        assert errors[0].traceback[0].startswith(expected), errors[0].traceback
        assert "Traceback" not in errors[0].traceback[0] and "\n" not in errors[0].traceback[0]
    assert not (tmp_path / "work" / "mnist-tf-tutorial" / "notebooks").exists()
