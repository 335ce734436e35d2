"""The Colab step (series.COLAB_STEP): a notebook outside a clone of the series fetches it and runs unchanged.

Real Colab cannot be reached from here. The simulation: a git repository whose one commit holds this working tree
(uncommitted changes and new files included) stands for the published series; notebook 00 is copied alone into an
empty folder and run by papermill there (up to its data check), with a stand-in `google.colab` module importable and
MNIST_TUTORIAL_REPO pointing at that repository. Every failure of the step (no repository set, a ref or repository
that does not exist, a server that asks for a password) must be one line, not a traceback, and never a wait for a
password. This is the one place that checks the step: it is every notebook's first code cell (the first test), and no
lesson cell depends on a name it defines.
"""

from __future__ import annotations

import ast
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest
from install_missing import main as install_main
from install_missing import missing, needed
from nbclient import NotebookClient
from publish import colab_cell, disagreeing, with_colab_step, write_citation, write_settings
from publish import main as publish_main

import series

# A Python without the series: the helpers module this environment has installed (pip install -e .) hidden.
HIDE = (
    "import os, sys\nhere = here if 'here' in globals() else os.getcwd()\nos.chdir(here)\n"
    "sys.modules.pop('helpers', None)\nsys.path_importer_cache.clear()\n"
    "sys.path[:] = [p for p in sys.path if not p.rstrip('/').endswith('notebooks')]"
)
GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main"]


def test_every_notebook_starts_with_the_same_colab_step() -> None:
    """Every notebook's first code cell is the step, with the publishing settings in it: at most 12 lines, a form in
    Colab, collapsed in JupyterLab, its input left off the website; no other cell holds any of it."""
    assert not disagreeing(series.REPOSITORY_URL, series.REPOSITORY_REF), "run scripts/publish.py (see setup.md)"
    step = series.colab_step()
    assert len(step.splitlines()) <= 12 and step.startswith("# @title ") and '{ display-mode: "form" }' in step
    for path in series.NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        cell = colab_cell(notebook)
        assert cell.source == step and cell.metadata["cellView"] == "form", path.name
        assert cell.metadata["jupyter"]["source_hidden"] is True and "remove-input" in cell.metadata["tags"]
        assert cell.outputs == [], f"{path.name}: inside a clone the step prints nothing"
        others = [c for c in notebook.cells if c is not cell]
        assert not [c for c in others if "MNIST_TUTORIAL_REPO" in c.source or series.is_colab_cell(c)], path.name
        assert "import helpers" not in cell.source


def _names(source: str) -> tuple[set[str], set[str]]:
    """(names a cell reads, names it binds), anywhere in its code (functions included)."""
    loads, binds = set(), set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            (loads if isinstance(node.ctx, ast.Load) else binds).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            binds |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            binds.add(node.name)
        elif isinstance(node, ast.arg):
            binds.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            binds.add(node.name)
    return loads, binds


@pytest.mark.parametrize("path", series.NOTEBOOKS, ids=lambda p: p.stem)
def test_no_lesson_cell_depends_on_the_colab_step(path: Path) -> None:
    """A learner may delete the Colab cell: every name a lesson cell reads that the step defines (os, pathlib, ...)
    is bound by a lesson cell at or before it (the setup cell imports what the notebook uses), by the code's names.
    The check itself is checked: a cell that reads os and pathlib without importing them fails it."""
    notebook = nbformat.read(path, as_version=4)
    step = colab_cell(notebook)
    only_step = _names(step.source)[1]
    assert {"os", "pathlib", "importlib", "subprocess", "SetupStopped", "REPO", "CLONE"} <= only_step

    def depending(cells) -> list[str]:
        bound, found = set(), []
        for cell in cells:
            loads, binds = _names(cell.source)
            bound |= binds
            found += [f"{cell.get('id')}: {name}" for name in sorted(loads & only_step - bound)]
        return found

    lesson = [c for c in notebook.cells if c.cell_type == "code" and c is not step]
    assert not depending(lesson), f"{path.name}: these lesson cells read names only the Colab step binds"
    bare = nbformat.v4.new_code_cell("import helpers\nprint(os.getcwd(), pathlib.Path.cwd())")
    assert depending([bare]) == [f"{bare.get('id')}: os", f"{bare.get('id')}: pathlib"]


def test_publish_writes_the_settings_everywhere(tmp_path: Path) -> None:
    settings = tmp_path / "series.py"
    settings.write_text('REPOSITORY_URL = ""\nREPOSITORY_REF = "main"  # a branch or tag\nJUPYTERHUB_URL = ""\n')
    values = {"repo": "https://github.com/example/mnist-tf-tutorial", "ref": "v2.0", "hub": "https://hub.example.edu"}
    write_settings(settings, values)
    assert settings.read_text() == (
        'REPOSITORY_URL = "https://github.com/example/mnist-tf-tutorial"\n'
        'REPOSITORY_REF = "v2.0"  # a branch or tag\n'
        'JUPYTERHUB_URL = "https://hub.example.edu"\n'
    )
    step = series.colab_step("https://github.com/example/mnist-tf-tutorial", "v2.0")
    assert 'get("MNIST_TUTORIAL_REPO") or "https://github.com/example/mnist-tf-tutorial"' in step
    assert 'get("MNIST_TUTORIAL_REF") or "v2.0"' in step and len(step.splitlines()) <= 12
    assert max(len(line) for line in step.splitlines()) <= 120, "within the line length the linter allows"
    notebook = nbformat.read(series.notebook("01"), as_version=4)
    before = [c.source for c in notebook.cells if not series.is_colab_cell(c)]
    colab_cell(notebook).metadata.pop("cellView")  # an older cell, its metadata lost: written again
    with_colab_step(notebook, "https://github.com/example/mnist-tf-tutorial", "v2.0")
    assert colab_cell(notebook).source == step and colab_cell(notebook).metadata["cellView"] == "form"
    assert [c.source for c in notebook.cells if not series.is_colab_cell(c)] == before, "nothing else changes"
    with pytest.raises(SystemExit):
        publish_main(["--repo", "not a url"])
    notebook.cells = [c for c in notebook.cells if not series.is_colab_cell(c)]
    with pytest.raises(ValueError, match="first code cell is not the Colab step"):
        colab_cell(notebook)


def test_publish_normalizes_the_url_and_checks_the_notebooks(tmp_path: Path, monkeypatch) -> None:
    written: dict = {}
    monkeypatch.setattr("publish.write_settings", lambda path, values: written.update(values))
    monkeypatch.setattr("publish.write_citation", lambda path, repo: written.update(citation=repo))
    monkeypatch.setattr("publish.series.NOTEBOOKS", ())
    assert publish_main(["--repo", "https://github.com/example/mnist-tf-tutorial.git/", "--ref", "v2"]) == 0
    url = "https://github.com/example/mnist-tf-tutorial"
    assert written == {"repo": url, "ref": "v2", "citation": url}


def test_publish_writes_the_repository_into_the_citation(tmp_path: Path) -> None:
    citation = tmp_path / "CITATION.cff"
    citation.write_text((series.REPO_ROOT / "CITATION.cff").read_text())
    write_citation(citation, "https://github.com/example/mnist-tf-tutorial")
    assert 'repository-code: "https://github.com/example/mnist-tf-tutorial"\n' in citation.read_text()
    write_citation(citation, "git@github.com:example/mnist-tf-tutorial.git")  # not a web address: commented out
    assert citation.read_text() == (series.REPO_ROOT / "CITATION.cff").read_text()
    citation.write_text("cff-version: 1.2.0\n")
    with pytest.raises(ValueError, match="no repository-code line"):
        write_citation(citation, "https://example.org/x")


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
    """pip fails (here without asking any index: PIP_NO_INDEX, so the network plays no part): one line says why."""
    wanted = tmp_path / "requirements.in"
    wanted.write_text("no-such-package-here==1.0\n")
    done = subprocess.run(
        [sys.executable, series.REPO_ROOT / "scripts" / "install_missing.py", "--requirements", wanted],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PIP_NO_INDEX": "1"},
    )
    assert done.returncode == 1 and done.stdout == "Installing what this environment lacks: no-such-package-here==1.0\n"
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Could not install no-such-package-here==1.0: ERROR:"), done.stderr


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository whose one commit holds this working tree (tracked and new files, as they are now), as the
    published series. Light: it borrows the repository's objects (git alternates), so only what changed since the
    last commit is written; nothing is written into the repository itself."""
    origin = tmp_path_factory.mktemp("published") / "mnist-tf-tutorial"
    subprocess.run([*GIT, "init", "-q", origin], check=True)
    objects = subprocess.run(
        ["git", "rev-parse", "--path-format=absolute", "--git-path", "objects"],
        cwd=series.REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (origin / ".git" / "objects" / "info" / "alternates").write_text(objects + "\n")
    listed = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    files = subprocess.run(listed, cwd=series.REPO_ROOT, capture_output=True, text=True, check=True).stdout.split("\0")
    present = [name for name in dict.fromkeys(files) if name and (series.REPO_ROOT / name).is_file()]
    into = [*GIT, f"--git-dir={origin / '.git'}", f"--work-tree={series.REPO_ROOT}"]  # this tree, the copy's index
    subprocess.run([*into, "update-index", "--add", "-z", "--stdin"], input="\0".join(present), text=True, check=True)
    subprocess.run([*into, "commit", "-q", "-m", "the series"], check=True)
    return origin


def _fake_colab(folder: Path) -> Path:
    """A stand-in google.colab (no google/__init__.py: protobuf shares the `google` namespace)."""
    package = folder / "google" / "colab"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from . import output\n")
    (package / "output.py").write_text("def enable_custom_widget_manager():\n    pass\n")
    return folder


def test_notebook_00_alone_in_colab_fetches_the_series_and_reports_colab_versions(
    published: Path, tmp_path: Path, monkeypatch
) -> None:
    """Notebook 00 opened alone in (stand-in) Colab: the step fetches the series, installs nothing that is there,
    and the versions report calls a version that differs from the pin Colab's own, expected, never advising a
    reinstall (here numpy's, made to differ). It runs up to its data check: its timed training is the series run's."""
    alone = tmp_path / "content"
    alone.mkdir()
    notebook = nbformat.read(series.notebook("00"), as_version=4)
    devices = next(i for i, c in enumerate(notebook.cells) if c.source.startswith("## Devices"))
    notebook.cells = [nbformat.v4.new_code_cell(HIDE), *notebook.cells[:devices]]  # in a Python without the series
    setup = next(i for i, c in enumerate(notebook.cells) if c.source.startswith("import helpers"))
    colab_numpy = 'version = lambda name, real=version: "0.0.1" if name == "numpy" else real(name)'
    notebook.cells.insert(setup + 1, nbformat.v4.new_code_cell(colab_numpy))
    nbformat.write(notebook, alone / "00.ipynb")
    monkeypatch.setenv("PYTHONPATH", str(_fake_colab(tmp_path / "fake")))
    monkeypatch.setenv("MNIST_TUTORIAL_REPO", str(published))
    monkeypatch.setenv("MNIST_TUTORIAL_REF", "main")
    series.execute(alone / "00.ipynb", {}, tmp_path / "00-run.ipynb", cwd=alone, timeout=600)
    assert (alone / "mnist-tf-tutorial" / "notebooks" / "helpers.py").is_file()
    assert (alone / "mnist-tf-tutorial" / "data" / "train-images.idx3-ubyte").is_file()
    executed = nbformat.read(tmp_path / "00-run.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    print(text)  # the report, as a learner in Colab sees it
    assert "Installing" not in text and "DIFFERENT" not in text and "pip install" not in text
    assert "numpy       pinned 2.4.6    installed 0.0.1    Colab's own, expected" in text
    assert "tensorflow  pinned 2.21.0   installed 2.21.0   ok" in text
    assert text.count(" OK\n") == 4, "the four data files, read from the fetched clone"


def _printed(cell) -> str:
    """What a cell printed (a kernel under load may send one print in several pieces)."""
    return "".join(output.get("text", "") for output in cell.outputs if output.output_type == "stream")


def _run_cells(folder: Path, *sources: str) -> list:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    resources = {"metadata": {"path": str(folder)}}
    NotebookClient(notebook, kernel_name="python3", allow_errors=True, timeout=120, resources=resources).execute()
    return notebook.cells


def test_inside_a_clone_the_colab_step_does_nothing(tmp_path: Path, monkeypatch) -> None:
    """In Colab within the series' notebooks/ folder, or elsewhere with helpers installed: no fetch, no output."""
    monkeypatch.setenv("MNIST_TUTORIAL_REPO", str(tmp_path / "never-used"))
    probe = (
        "print(os.getcwd() == here, pathlib.Path('mnist-tf-tutorial').exists(), 'GIT_TERMINAL_PROMPT' in os.environ)"
    )
    (tmp_path / "elsewhere").mkdir()
    for folder, colab in ((series.NOTEBOOKS_DIR, True), (tmp_path / "elsewhere", False)):
        if colab:
            monkeypatch.setenv("PYTHONPATH", str(_fake_colab(tmp_path / "fake")))
        else:
            monkeypatch.delenv("PYTHONPATH", raising=False)
        cells = _run_cells(folder, "import os\nhere = os.getcwd()", series.colab_step(), probe)
        assert cells[1].outputs == [], cells[1].outputs
        assert _printed(cells[2]) == "True False False\n", (folder, cells[2].outputs)
    assert not list((tmp_path / "elsewhere").iterdir()) and not (series.NOTEBOOKS_DIR / "mnist-tf-tutorial").exists()


def test_a_notebook_alone_outside_colab_fetches_the_series_too(published: Path, tmp_path: Path, monkeypatch) -> None:
    """Outside Colab the step looks for the helpers module: here it is hidden, as in a Python without the series.
    The folder holds what a fetch cut short leaves (mnist-tf-tutorial.part): the step fetches the series again."""
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.setenv("MNIST_TUTORIAL_REPO", str(published))
    monkeypatch.setenv("MNIST_TUTORIAL_REF", "main")
    cut_short = tmp_path / "downloads" / "mnist-tf-tutorial.part"
    cut_short.mkdir(parents=True)
    subprocess.run([*GIT, "init", "-q"], cwd=cut_short, check=True)  # as a fetch stopped half-way leaves it
    (cut_short / "half-written.pack").write_bytes(b"\0" * 100)
    # Where `import helpers` would import it from (found, not imported: TensorFlow's import is not under test here;
    # the test above runs a notebook on the fetched series).
    probe = (
        "import importlib.util\nfound = pathlib.Path(importlib.util.find_spec('helpers').origin)\n"
        "print(found.parents[2].name, found.parent.name, os.getcwd() == str(found.parent))"
    )
    fetched = "print((pathlib.Path(here) / 'mnist-tf-tutorial' / '.git' / 'index').stat().st_mtime_ns)"
    # Twice, as after a restart: the second time the step finds the clone it fetched, and fetches nothing.
    cells = _run_cells(
        tmp_path / "downloads", HIDE, series.colab_step(), probe, fetched, HIDE, series.colab_step(), probe, fetched
    )
    assert all(o.output_type != "error" for c in cells for o in c.outputs), [c.outputs for c in cells]
    assert _printed(cells[2]) == _printed(cells[6]) == "downloads notebooks True\n"
    assert cells[5].outputs == [] and _printed(cells[3]) == _printed(cells[7]), "the second time, nothing is fetched"
    clone = tmp_path / "downloads" / "mnist-tf-tutorial"
    assert (clone / "notebooks" / "helpers.py").is_file() and not cut_short.exists(), "fetched again, then moved"
    assert sorted(p.name for p in (tmp_path / "downloads").iterdir()) == ["mnist-tf-tutorial"]


class _AsksForAPassword(http.server.BaseHTTPRequestHandler):
    """A git server that wants a user name and password (as a private or mistyped GitHub repository does)."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="series"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def asks_for_a_password(monkeypatch):
    """The URL of a local server that answers 401; git, with no credential helper or askpass program that would
    answer instead (none of this machine's settings), could only ask on the terminal."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _AsksForAPassword)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for name in ("GIT_ASKPASS", "SSH_ASKPASS", "GIT_TERMINAL_PROMPT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/series.git"
    finally:
        server.shutdown()
        server.server_close()


def test_every_failure_of_the_colab_step_is_one_line(
    published: Path, tmp_path: Path, monkeypatch, asks_for_a_password: str
) -> None:
    """One line each, no traceback: no repository set (not published yet), a ref or a repository that does not
    exist, a host that does not resolve, and a server that asks for a password (the step never waits for one: it
    sets GIT_TERMINAL_PROMPT=0 itself)."""
    monkeypatch.delenv("MNIST_TUTORIAL_REF", raising=False)
    monkeypatch.setenv("PYTHONPATH", str(_fake_colab(tmp_path / "fake")))
    nowhere, invalid, private = tmp_path / "nothing-here", "https://nonexistent.invalid/x.git", asks_for_a_password
    host = private.rsplit("/", 1)[0]
    unpublished = series.UNPUBLISHED
    cases = {
        "": f"Setup stopped: could not fetch main of {unpublished}: fatal: repository '{unpublished}' does not exist",
        f"{published}|no-such-ref": f"Setup stopped: could not fetch no-such-ref of {published}: fatal: Remote branch "
                                    "no-such-ref not found",
        str(nowhere): f"Setup stopped: could not fetch main of {nowhere}: fatal: ",
        invalid: f"Setup stopped: could not fetch main of {invalid}: fatal: ",
        private: f"Setup stopped: could not fetch main of {private}: fatal: could not read Username for '{host}': "
                 "terminal prompts disabled",
    }  # fmt: skip
    cells = []
    for setting in cases:
        repo, _, ref = setting.partition("|")
        cells.append(
            nbformat.v4.new_code_cell(
                f"os.environ['MNIST_TUTORIAL_REPO'] = {repo!r}\nos.environ['MNIST_TUTORIAL_REF'] = {ref or 'main'!r}\n"
                "os.environ.pop('GIT_TERMINAL_PROMPT', None)\n" + series.colab_step()
            )
        )
    (tmp_path / "work").mkdir()
    ran = _run_cells(tmp_path / "work", HIDE, *(cell.source for cell in cells))
    for cell, expected in zip(ran[1:], cases.values(), strict=True):
        errors = [output for output in cell.outputs if output.output_type == "error"]
        assert len(errors) == 1 and len(errors[0].traceback) == 1, cell.outputs
        assert errors[0].traceback[0].startswith(expected), errors[0].traceback
        assert "Traceback" not in errors[0].traceback[0] and "\n" not in errors[0].traceback[0]
    assert not (tmp_path / "work" / "mnist-tf-tutorial").exists()
