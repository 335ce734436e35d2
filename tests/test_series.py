"""scripts/series.py: the one list of the notebooks, the quick settings, the plan of a run, `execute`, `run_child` and
the pins."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

import series


def test_the_list_is_the_folder() -> None:
    """Every numbered notebook in notebooks/ is in the series' list, in order, and every listed one exists."""
    on_disk = sorted(path.name for path in series.NOTEBOOKS_DIR.glob(series.NOTEBOOK_GLOB))
    assert [path.name for path in series.NOTEBOOKS] == on_disk
    assert [name[:2] for name in series.NOTEBOOK_NAMES] == [f"{i:02d}" for i in range(len(series.NOTEBOOK_NAMES))]


def test_model_types_agree_with_helpers() -> None:
    import helpers

    assert series.MODEL_TYPES == helpers.MODEL_TYPES


def test_notebook_and_select_find_by_prefix() -> None:
    assert series.notebook("05").name == "05_training.ipynb"
    assert [p.name[:2] for p in series.select(["05", "07"])] == ["05", "07"]
    assert series.select(None) == list(series.NOTEBOOKS)
    with pytest.raises(ValueError, match="names 0 notebooks"):
        series.notebook("99")


def test_the_quick_settings_reach_only_the_notebooks_that_declare_them() -> None:
    jobs = dict.fromkeys(series.NOTEBOOK_NAMES)
    for path, parameters in series.plan(quick=True):
        jobs[path.stem] = jobs[path.stem] or []
        jobs[path.stem].append(parameters)
    assert jobs["01_reading_the_data"] == [{}]
    assert jobs["05_training"] == [{"FIT_VERBOSE": 2, "EPOCHS": 1}]
    assert jobs["09_going_faster"][0]["TRAIN_IMAGES"] == series.QUICK_PARAMETERS["TRAIN_IMAGES"]
    for path, parameters in series.plan(quick=True):
        assert set(parameters) <= set(series.declared_parameters(path)), path.name


def test_plan_overrides_epochs_and_model_types() -> None:
    jobs = series.plan(series.select(["05", "09"]), epochs=3, model_types=["cnn"])
    assert jobs[0] == (series.notebook("05"), {"FIT_VERBOSE": 2, "EPOCHS": 3, "MODEL_TYPES": ["cnn"]})
    assert "MODEL_TYPES" not in jobs[1][1], "09 trains the CNN only and does not declare MODEL_TYPES"
    assert series.plan(series.select(["06"]), model_types=series.MODEL_TYPES) == [(series.notebook("06"), {})]


def _tiny_notebook(path: Path, body: str) -> Path:
    notebook = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell("GREETING = 'hello'")
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, nbformat.v4.new_code_cell(body)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


def test_execute_injects_parameters_and_runs_in_the_given_folder(tmp_path: Path) -> None:
    source = _tiny_notebook(tmp_path / "tiny.ipynb", "import os\nprint(GREETING, os.path.basename(os.getcwd()))")
    (tmp_path / "here").mkdir()
    output = series.execute(source, {"GREETING": "bonjour"}, tmp_path / "out.ipynb", cwd=tmp_path / "here", timeout=60)
    executed = nbformat.read(output, as_version=4)
    assert executed.cells[-1].outputs[0]["text"] == "bonjour here\n"
    assert "papermill" in executed.metadata, "a run into a build folder keeps papermill's record"


def test_execute_clean_in_place_stores_only_what_a_learner_sees(tmp_path: Path) -> None:
    source = _tiny_notebook(tmp_path / "tiny.ipynb", "print(GREETING)")
    before = nbformat.read(source, as_version=4)
    series.execute(source, None, source, cwd=tmp_path, timeout=60, clean=True)
    executed = nbformat.read(source, as_version=4)
    assert [cell.metadata for cell in executed.cells] == [cell.metadata for cell in before.cells]
    assert executed.cells[-1].outputs[0]["text"] == "hello\n"
    assert [cell.execution_count for cell in executed.cells] == [1, 2]
    assert "papermill" not in executed.metadata
    for cell in executed.cells:
        assert not {"papermill", "execution"} & set(cell.metadata), json.dumps(cell.metadata)
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.ipynb"], "no temporary file left behind"


def test_execute_clean_with_parameters_stores_no_injected_cell(tmp_path: Path) -> None:
    source = _tiny_notebook(tmp_path / "tiny.ipynb", "print(GREETING)")
    series.execute(source, {"GREETING": "bonjour"}, source, cwd=tmp_path, timeout=60, clean=True)
    executed = nbformat.read(source, as_version=4)
    assert len(executed.cells) == 2 and executed.cells[0].source == "GREETING = 'hello'"
    assert executed.cells[-1].outputs[0]["text"] == "bonjour\n"
    assert [cell.execution_count for cell in executed.cells] == [1, 2]


def test_fit_shows_a_live_bar_by_default_and_one_line_per_epoch_in_the_series_runs(tmp_path: Path) -> None:
    """FIT_VERBOSE: the notebooks' default ("auto") gives a learner Keras' progress bar; the runs pass 2."""
    for path in series.NOTEBOOKS:
        declared = series.declared_parameters(path)
        if "FIT_VERBOSE" in declared:
            assert declared["FIT_VERBOSE"]["default"] == '"auto"', path.name
            fits = [
                c.source
                for c in nbformat.read(path, as_version=4).cells
                if ".fit(" in c.source and "verbose=FIT_VERBOSE" in c.source
            ]
            assert fits, f"{path.name} declares FIT_VERBOSE but no fit uses it"
    training = {p.stem[:2] for p in series.NOTEBOOKS if "FIT_VERBOSE" in series.declared_parameters(p)}
    assert training == {"00", "05", "09", "10", "11"}  # 00 runs the whole tutorial, one epoch
    body = (
        "import helpers, numpy as np, keras\nhelpers.setup(1)\n"
        "model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation='softmax')])\n"
        "model.compile('adam', 'sparse_categorical_crossentropy')\n"
        "model.fit(np.zeros((256, 4)), np.zeros(256), batch_size=32, epochs=2, verbose=FIT_VERBOSE)"
    )
    source = _tiny_notebook(tmp_path / "fit.ipynb", body.replace("FIT_VERBOSE", "VERBOSE"))
    notebook = nbformat.read(source, as_version=4)
    notebook.cells[0].source = 'VERBOSE = "auto"'
    nbformat.write(notebook, source)
    texts = {}
    for verbose in ("auto", 2):
        output = series.execute(source, {"VERBOSE": verbose}, tmp_path / f"out-{verbose}.ipynb", timeout=120)
        texts[verbose] = "".join(o.get("text", "") for o in nbformat.read(output, as_version=4).cells[-1].outputs)
    assert "━" in texts["auto"] and "\r" in texts["auto"], texts["auto"]  # the bar, redrawn in place
    assert "━" not in texts[2] and texts[2].count("Epoch ") == 2 and texts[2].count(" - loss: ") == 2, texts[2]


def test_execute_clean_leaves_the_notebook_as_it_was_when_a_cell_fails(tmp_path: Path) -> None:
    from papermill.exceptions import PapermillExecutionError

    source = _tiny_notebook(tmp_path / "tiny.ipynb", "raise RuntimeError('broken')")
    before = source.read_bytes()
    with pytest.raises(PapermillExecutionError, match="broken"):
        series.execute(source, None, source, cwd=tmp_path, timeout=60, clean=True)
    assert source.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.ipynb"]


def test_proving_the_exercises_turns_every_waiting_experiment_on() -> None:
    """Every experiment waits for its one switch, in its own cell; the run that proves the exercises turns
    that switch on in the copy it executes, and nothing else of the cell changes."""
    jobs = dict((path.stem[:2], parameters) for path, parameters in series.plan(quick=True))
    assert jobs["05"] == {"FIT_VERBOSE": 2, "EPOCHS": 1} and jobs["03"] == {}, "no parameter switches an experiment"
    for prefix in [path.stem[:2] for path in series.NOTEBOOKS[1:]]:
        notebook = nbformat.read(series.notebook(prefix), as_version=4)
        waiting = [c for c in notebook.cells if c.source.startswith(series.EXPERIMENT_SWITCH)]
        proved = series.with_exercise_proofs(notebook)
        turned = [c for c in proved.cells if "experiment" in c.metadata.get("tags", [])]
        assert waiting and all("experiment" in c.metadata.get("tags", []) for c in waiting), prefix
        on = [c for c in turned if c.source.startswith("run_experiment = True")]
        assert len(on) == len(waiting) and not [c for c in turned if c.source.startswith(series.EXPERIMENT_SWITCH)]
        assert [c.source.split("\n", 1)[1] for c in on] == [c.source.split("\n", 1)[1] for c in waiting]
        assert all(c.source.startswith(series.EXPERIMENT_SWITCH) for c in waiting), "the committed notebook waits"


def _exercise_notebook(path: Path, wrong: str = "answer = 41") -> Path:
    notebook = nbformat.v4.new_notebook()
    task = nbformat.v4.new_markdown_cell(
        "### Exercise 1 · Forty-two\n\n<details><summary>Solution (try first!)</summary>"
        "\n\n```python\nanswer = 6 * 7\n```\n\n</details>"
    )
    answer = nbformat.v4.new_code_cell("# Your answer: answer = ...")
    check = nbformat.v4.new_code_cell(
        'if "answer" not in globals():\n    print("Not attempted yet")\n'
        'elif answer != 42:\n    print("Not yet")\nelse:\n    print("Right")'
    )
    check.metadata.update(tags=["check"], exercise={"wrong": wrong})
    notebook.cells = [task, answer, check]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


def test_execute_proves_exercises_with_their_wrong_answer_and_solution(tmp_path: Path) -> None:
    source = _exercise_notebook(tmp_path / "exercise.ipynb")
    output = series.execute(source, None, tmp_path / "out.ipynb", cwd=tmp_path, timeout=60, prove_exercises=True)
    cells = nbformat.read(output, as_version=4).cells
    said = [(c.metadata.get("tags", []), c.outputs[0]["text"].strip()) for c in cells if c.get("outputs")]
    assert said == [
        (["check"], "Not attempted yet"),
        (["proof", "proof-wrong"], "Not yet"),
        (["proof", "proof-right"], "Right"),
        (["proof", "proof-answer"], f"{series.ANSWER_MARK}42"),  # the accepted answer, for the answer-above test
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exercise.ipynb", "out.ipynb"], "the proof copy is removed"
    with pytest.raises(ValueError, match="no solution in the exercise above it, or no wrong answer"):
        series.exercise_parts(nbformat.read(_exercise_notebook(tmp_path / "bad.ipynb", wrong=""), as_version=4))


# ------------------------------------------------------------------------------------- run_child: one child process
SPAWNER = """\
import os, subprocess, sys, time
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
with open(sys.argv[1], "w") as pids:
    pids.write(f"{os.getpid()} {grandchild.pid}")
time.sleep(60)
"""
LINUX = sys.platform == "linux"


def _running(pid: int) -> bool:
    """Whether a process runs (a zombie, ended and waiting to be reaped by its parent, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _all_ended(pids: list[int], within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(_running(pid) for pid in pids)


def test_run_child_reports_the_exit_code_the_time_and_the_peak_memory(tmp_path: Path) -> None:
    code = "import os, sys; data = b'x' * (100 << 20); print(os.environ['GREETING']); sys.exit(3)"  # writes 100 MB
    with open(tmp_path / "out.txt", "w") as out:
        child = series.run_child([sys.executable, "-c", code], env={**os.environ, "GREETING": "hello"}, stdout=out)
    assert child.returncode == 3 and not child.timed_out and 0 < child.seconds < 30
    assert (tmp_path / "out.txt").read_text() == "hello\n"
    if LINUX:  # os.wait4 and /proc/stat
        import resource

        # Until exec, the forked child holds this process' pages: its peak can reach this process' size (a test
        # process with TensorFlow loaded: over 1 GB). Off by 1024 (kB, bytes) would be far outside either bound.
        parent_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        assert 100 <= child.peak_mb < parent_mb + 1000, (child.peak_mb, parent_mb)  # MB, not kB or bytes
        assert 0 < child.cpu_seconds < 30 and child.other_load >= 0


@pytest.mark.skipif(not LINUX, reason="process groups, and /proc to see which processes run")
def test_run_child_kills_the_child_and_its_children_when_the_time_is_up(tmp_path: Path) -> None:
    started = time.monotonic()
    child = series.run_child([sys.executable, "-c", SPAWNER, str(tmp_path / "pids")], timeout=2)
    assert child.timed_out and child.returncode == -signal.SIGKILL and time.monotonic() - started < 10
    pids = [int(pid) for pid in (tmp_path / "pids").read_text().split()]
    assert len(pids) == 2 and _all_ended(pids), "the child and its grandchild are gone"


@pytest.mark.skipif(not LINUX, reason="process groups, and /proc to see which processes run")
def test_run_child_stops_the_child_and_its_children_on_ctrl_c_and_passes_it_on(tmp_path: Path) -> None:
    pids, done = tmp_path / "pids", threading.Event()

    def press_ctrl_c() -> None:  # as a terminal does: SIGINT to this process, once the child and grandchild run
        deadline = time.monotonic() + 10
        while not (pids.exists() and pids.read_text()) and time.monotonic() < deadline and not done.is_set():
            time.sleep(0.02)
        if not done.is_set() and pids.exists():
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=press_ctrl_c, daemon=True).start()
    try:
        with pytest.raises(KeyboardInterrupt):
            series.run_child([sys.executable, "-c", SPAWNER, str(pids)], timeout=30)
    finally:
        done.set()
    assert _all_ended([int(pid) for pid in pids.read_text().split()]), "the child and its grandchild are gone"


# ------------------------------------------------------------------------------------------------------- the pins
def test_pins_reads_name_and_version_past_comments_options_and_markers(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(
        "# the pins\n--index-url https://example.org/simple\n\n"
        "Foo_Bar==1.2.0  # a comment after the pin\n"
        "numpy==2.4.6 ; python_version >= '3'\n"
        "pywin32==311 ; sys_platform == 'no-such-system'\n"
    )
    assert series.pins(path) == {"foo-bar": "1.2.0", "numpy": "2.4.6"}, "canonical names; pywin32's marker is false"
    (foo, _, no_marker), numpy, (pywin32, version, marker) = series.read_pins(path)  # every pin, for any system
    assert (foo, no_marker, numpy[:2], pywin32, version) == ("foo-bar", None, ("numpy", "2.4.6"), "pywin32", "311")
    assert "no-such-system" in str(marker)
    assert series.pins(series.REPO_ROOT / "requirements.txt")["tensorflow"] == "2.21.0"


@pytest.mark.parametrize("line", ["numpy>=2", "numpy", "numpy==2.*", "numpy==1,<3", "-r other.txt", "numpy = 2.4.6"])
def test_pins_refuses_a_line_that_is_not_name_equals_version(tmp_path: Path, line: str) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(f"# fine\nkeras==3.15.1\n{line}\n")
    with pytest.raises(ValueError, match="line 3: .* is not name==version"):
        series.pins(path)


def test_pins_refuses_two_versions_of_one_package(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text("numpy==2.4.6\nNumPy==2.4.5\n")
    with pytest.raises(ValueError, match="numpy is pinned twice, to 2.4.6 and to 2.4.5"):
        series.pins(path)
