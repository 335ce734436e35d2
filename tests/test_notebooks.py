"""The series itself, each notebook executed once: the README's run command, with the exercises proven.

One run of `scripts/run_series.py --quick --exercises` executes every notebook of the series once, in order, each in
a fresh kernel, with the quick settings (series.QUICK_PARAMETERS: one epoch, fewer images in 09-11). From that one
execution the tests prove:
the run and its summary, a clean output (no error, no stderr), the stored outputs of every notebook (compared with
nbval's rules, tests/stored_outputs.py), every exercise's check ("Not attempted yet", "Not yet" to a wrong answer,
"Right" to the solution) and every experiment's result. The notebooks' conventions are checked on their files.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import stored_outputs
from alt_text import alt_text_problem
from processes import processes_left

import series
from series import NOTEBOOKS, REPO_ROOT

# The notebooks that train or use the two models (they declare MODEL_TYPES).
TRAINING = [p for p in NOTEBOOKS if "MODEL_TYPES" in series.declared_parameters(p)]


def declared(path: Path) -> dict:
    """A notebook's parameters with their defaults, as papermill reads them (evaluated where they are literals)."""
    import ast

    found = {}
    for name, parameter in series.declared_parameters(path).items():
        try:
            found[name] = ast.literal_eval(parameter["default"])
        except (ValueError, SyntaxError):
            found[name] = parameter["default"]
    return found


# The series run in two lanes, each one run of the README's run command over a part of the series: notebook 05 and
# the notebooks that use the models it trains, and the rest. Each notebook is executed once, in one lane. A lane's
# tests are one class (TestModelsLane, TestRestLane); pytest-xdist (pytest.ini: -n 2 --dist loadscope) sends a class
# to one worker, so the two lanes run side by side.
LANES = {
    "models": ("00", "05", "06", "07", "08", "12"),  # 06-08 and 12 load the models 05 saves in the lane's output folder
    "rest": ("01", "02", "03", "04", "09", "10", "11"),  # (00 trains a model of its own: here the lanes even out)
}
LANE_OF = {path: lane for lane, prefixes in LANES.items() for path in series.select(prefixes)}
_RUNS: dict[str, tuple[subprocess.CompletedProcess[str], Path, Path]] = {}


@pytest.fixture(scope="session")
def series_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """run(lane): the README's run command with the quick settings for the lane's notebooks, into a temporary
    folder, once per test session; with --exercises, every exercise's wrong answer and solution run after its check,
    and the experiments run."""

    def run(lane: str) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
        if lane not in _RUNS:
            tmp = tmp_path_factory.mktemp(f"series-{lane}")
            command = [sys.executable, str(REPO_ROOT / "scripts" / "run_series.py"), "--build-dir", str(tmp / "build")]
            command += ["--quick", "--exercises", "--cell-timeout", "600", "--only", *LANES[lane]]
            env = {**os.environ, "MNIST_TUTORIAL_OUTPUT": str(tmp / "out")}
            result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=2400, cwd=tmp)
            _RUNS[lane] = result, tmp / "build", tmp / "out"
        return _RUNS[lane]

    return run


def test_the_lanes_hold_every_notebook_once() -> None:
    assert sorted(LANE_OF) == sorted(NOTEBOOKS) and sum(len(p) for p in LANES.values()) == len(NOTEBOOKS)
    assert {LANE_OF[path] for path in TRAINING} == {"models"}


def test_the_notebooks_that_train_are_the_ones_expected() -> None:
    assert [p.name[:2] for p in TRAINING] == ["05", "06", "07", "08"]


# The series run's settings against those the stored outputs were made with (`make refresh`), per notebook.
RUN = dict(series.plan(quick=True))
STORED = dict(series.plan())


@pytest.fixture(scope="class")
def run(request: pytest.FixtureRequest, series_run):  # type: ignore[no-untyped-def]
    """The series run of the test class' lane."""
    return series_run(request.cls.LANE)


class _Lane:
    """The tests of one lane of the series run; `path` is each of the lane's notebooks (pytest_generate_tests)."""

    LANE = ""

    def test_run_series_executes_every_notebook_once(self, run) -> None:
        result, build, _ = run
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        expected = [path.name for path in series.select(LANES[self.LANE])]
        assert sorted(p.name for p in build.glob("*.ipynb")) == sorted(expected)
        summary = result.stdout.split("\nSummary\n", 1)[1]
        for name in expected:
            assert re.search(rf"^  {re.escape(name)}\s+ok\s+\d+\.\d s  peak memory [\d,]+ MB$", summary, re.M), summary
        assert "Kernel is running over TCP" not in result.stdout + result.stderr, "no kernel transport warnings"
        if self.LANE == "models":
            epoch_lines = re.search(r"^    Training the CNN model\n    \d+/\d+ - .*val_accuracy", result.stdout, re.M)
            assert epoch_lines, "epoch lines as they come"
            assert re.search(r"^\| FC \| 104,938 \| 1 \| \d+\.\d \| 0\.9\d{3} \|$", summary, re.M), summary
            assert re.search(r"^\| CNN \| 121,930 \| 1 \| \d+\.\d \| 0\.9\d{3} \|$", summary, re.M), summary
            assert (build / "comparison.md").read_text().startswith("| model | parameters |")

    def test_executed_notebooks_are_clean(self, run, path: Path) -> None:
        _, build, _ = run
        notebook = nbformat.read(build / path.name, as_version=4)
        for cell in notebook.cells:
            for output in cell.get("outputs", []):
                assert output.output_type != "error", f"{path.name}: {output.get('ename')}: {output.get('evalue')}"
                assert output.get("name") != "stderr", f"{path.name}: stderr output {output.get('text', '')[:200]!r}"

    def test_stored_outputs_are_what_a_fresh_run_shows(self, run, path: Path) -> None:
        """nbval's check, on the series run's execution: every cell nbval compares shows what the committed notebook
        stores, except the cells that read a setting the quick run changes (EPOCHS, TRAIN_IMAGES...) and experiments:
        their stored outputs are those of the full settings, which `make refresh` and `make run` execute."""
        _, build, _ = run
        stored = nbformat.read(path, as_version=4)
        executed = nbformat.read(build / path.name, as_version=4)
        changed = [name for name, value in RUN[path].items() if STORED[path].get(name, declared(path)[name]) != value]
        reads_changed = re.compile(r"\b(?:" + "|".join(changed) + r")\b") if changed else None
        skip = {cell.get("id") for cell in stored.cells if reads_changed and reads_changed.search(cell.source)}
        found = stored_outputs.differences(stored, executed, skip=frozenset(skip))
        assert not found, "\n".join(found)
        compared = [cell.get("id") for cell in stored.cells if stored_outputs.compared(cell) and cell.outputs]
        left = [cell_id for cell_id in compared if cell_id not in skip]
        assert left, f"{path.name}: none of its {len(compared)} cells with outputs compared"

    def test_every_exercise_is_proven_and_every_experiment_runs(self, run, path: Path) -> None:
        """In the quick run with --exercises: each check says "Not attempted yet" on Run All, "Not yet" to each wrong
        answer and "Right" to its solution; each experiment prints its result."""
        _, build, _ = run
        proven, refuted = 0, 0
        for cell in nbformat.read(build / path.name, as_version=4).cells:
            tags = cell.metadata.get("tags", [])
            where = f"{path.name} {cell.get('id')}: {_text(cell)[:200]!r}"
            if "check" in tags:
                assert _text(cell).startswith("Not attempted yet"), where
            elif "proof-wrong" in tags:
                assert _text(cell).startswith("Not yet"), where
                refuted += 1
            elif "proof-right" in tags:
                assert _text(cell).startswith("Right"), where
                proven += 1
            elif "experiment" in tags:
                assert "Result:" in _text(cell) and "You predicted" in _text(cell), where
        exercises = series.exercise_parts(nbformat.read(path, as_version=4))
        forms = sum(1 + len(check.metadata.get("exercise", {}).get("right_also", [])) for _, check, *_ in exercises)
        assert proven == forms and refuted == sum(len(wrong) for *_, wrong in exercises) >= len(exercises)

    def test_no_exercise_answer_is_shown_above_it(self, run, path: Path) -> None:
        """The accepted answer of each exercise (the values its solution assigns, as the proof run prints them) is
        neither stated nor printed above the exercise: not in the visible Markdown, the code or the stored outputs of
        the committed notebook's cells before it. Numbers only (a named option is listed in the task on purpose);
        an integer of two digits or more, a fraction in its 3-4 significant-digit and percent forms."""
        _, build, _ = run
        executed = {cell.get("id"): cell for cell in nbformat.read(build / path.name, as_version=4).cells}
        committed = nbformat.read(path, as_version=4)
        found = []
        for task, check, _, _ in series.exercise_parts(committed):
            printed = _text(executed[f"{check.get('id')}-answer"])
            values = [_number(line[len(series.ANSWER_MARK) :]) for line in printed.splitlines()]
            above = committed.cells[: committed.cells.index(task)]
            text = "\n".join(_visible(cell) for cell in above)
            for value in filter(None, values):
                for form in _forms(value):
                    if re.search(rf"(?<![\d.,]){re.escape(form)}(?![\d]|[.,]\d)", text):
                        found.append(f"{task.source.splitlines()[0]}: its answer {form} is shown above it")
        assert not found, "\n".join(found)


class TestModelsLane(_Lane):
    LANE = "models"

    def test_run_series_leaves_models_in_the_output_folder(self, run) -> None:
        _, _, out = run
        for model_type in ("fc", "cnn"):
            folder = out / "saved_model" / f"mnist_{model_type}"
            assert (folder / "model.keras").is_file() and (folder / "model.h5").is_file()
            assert (folder / "serving" / "saved_model.pb").is_file()
            written = json.loads((folder / "metrics.json").read_text())
            metrics = written["runs"]["tutorial"]
            assert metrics["model_type"] == model_type and metrics["epochs"] == 1 and metrics["test_accuracy"] > 0.9
            assert metrics["images_per_second"] > 0 and (written["peak_memory_mb"] or 0) > 100
        assert sorted(p.name for p in (out / "assets").iterdir()) == ["pred_1000.png"]


class TestRestLane(_Lane):
    LANE = "rest"

    def test_run_series_leaves_the_figures_in_the_output_folder(self, run) -> None:
        _, _, out = run
        assert sorted(p.name for p in (out / "assets").iterdir()) == ["mnist_10_examples.png"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A lane's tests take `path`: each notebook of the lane."""
    lane = getattr(metafunc.cls, "LANE", "")
    if lane and "path" in metafunc.fixturenames:
        metafunc.parametrize("path", series.select(LANES[lane]), ids=lambda p: p.stem)


def test_a_missing_model_is_trained_from_any_directory_and_a_failing_notebook_is_reported(tmp_path: Path) -> None:
    """One run of notebook 06 with EPOCHS=0, from another folder, with no trained model in the output folder."""
    env = {**os.environ, "MNIST_TUTORIAL_OUTPUT": str(tmp_path / "out")}
    result = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "scripts" / "run_series.py"),
            "--build-dir",
            str(tmp_path / "build"),
            "--only",
            "06",
            "--model-types",
            "fc",
            "--epochs",
            "0",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    # The notebook trains the missing model (and says so) and saves it, wherever it is started from ...
    executed = (tmp_path / "build" / "06_evaluating_and_predicting.ipynb").read_text()
    assert "No trained model at saved_model/mnist_fc/model.keras: training one now (0 epochs" in executed
    assert (tmp_path / "out" / "saved_model" / "mnist_fc" / "model.keras").is_file()
    # ... and 0 epochs train nothing, so its accuracy check fails and the run says which notebook failed.
    assert result.returncode == 1
    assert re.search(r"06_evaluating_and_predicting\.ipynb\s+FAILED \(AssertionError", result.stdout), result.stdout
    assert "1 notebook run(s) failed: 06_evaluating_and_predicting.ipynb" in result.stdout
    assert not (tmp_path / "out" / "saved_model" / "mnist_cnn").exists(), "--model-types fc: the FC model only"


def test_ctrl_c_stops_the_run_cleanly(tmp_path: Path) -> None:
    """Ctrl-C during a notebook: one line, the summary of what ran, exit code 130, no traceback, no kernel left."""
    import signal

    marker = str(tmp_path / "out")  # every process of this run has it in its environment
    env = {**os.environ, "MNIST_TUTORIAL_OUTPUT": marker}
    run = subprocess.Popen(
        [
            sys.executable,
            str(REPO_ROOT / "scripts" / "run_series.py"),
            "--build-dir",
            str(tmp_path / "build"),
            "--quick",
            "--only",
            "01",
            "05",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as in a terminal, where Ctrl-C is SIGINT
    )
    seen = []
    for line in run.stdout:  # type: ignore[union-attr]
        seen.append(line)
        if "Training the FC model" in line:
            run.send_signal(signal.SIGINT)
            break
    output = "".join(seen) + run.communicate(timeout=120)[0]
    assert run.returncode == 130, output
    assert "Stopped (Ctrl-C) during 05_training.ipynb" in output and "Traceback" not in output, output
    assert re.search(r"^  01_reading_the_data\.ipynb\s+ok", output, re.M), "the summary of what ran"
    left = processes_left(marker=marker)
    assert not left, f"processes of the stopped run are still there: {left}"


# ------------------------------------------------------------------------------------------------ conventions


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_conventions(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith(f"# {path.name[:2]} · ")
    assert "[Back to index](../index.md)" in first.source
    minutes = re.search(r"about \*\*(\d+) minutes\*\* \((\d+) teaching, (\d+) exercises", first.source)
    assert minutes, "the first cell gives the minutes: about **N minutes** (T teaching, E exercises)"
    assert int(minutes.group(1)) == int(minutes.group(2)) + int(minutes.group(3))
    assert "**Questions**" in first.source and "**Objectives**" in first.source
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert series.is_colab_cell(code[0]), "the first code cell is the Colab step (tests/test_colab.py checks it)"
    assert "parameters" in code[1].metadata.get("tags", []), "then the papermill parameters cell"
    assert "SEED" in code[1].source
    setup = code[2].source  # then the setup cell: helpers first (it imports TensorFlow quietly), then the rest
    assert setup.startswith("import helpers") and "helpers.setup(SEED)" in setup
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "run top to bottom in a fresh kernel"
    for cell in code:
        for output in cell.outputs:
            text = output.get("text", "") + output.get("data", {}).get("text/plain", "")
            assert output.output_type != "error" and output.get("name") != "stderr", cell.source[:80]
            assert not re.search(r"\bWarning\b|WARNING", text), text[:200]
            assert str(REPO_ROOT) not in text and "site-packages" not in text, text[:200]
    last = notebook.cells[-1]
    assert last.cell_type == "markdown" and "## Key points" in last.source
    links = re.findall(r"\]\(([^)]+\.ipynb)\)", last.source)
    index = NOTEBOOKS.index(path)
    if index + 1 < len(NOTEBOOKS):
        assert links == [NOTEBOOKS[index + 1].name], "the last cell links to the next notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_output_cells_that_vary_by_machine_are_followed_by_a_check(path: Path) -> None:
    """Every training or evaluation cell whose output nbval ignores is followed by an assertion."""
    notebook = nbformat.read(path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    for i, cell in enumerate(code):
        tags = cell.metadata.get("tags", [])
        if "experiment" in tags:  # an experiment prints its result for the learner to read beside a prediction
            continue
        if "nbval-ignore-output" in tags and re.search(r"\.(fit|evaluate)\(", cell.source):
            rest = re.split(r"\.(?:fit|evaluate)\(", cell.source)[-1]  # an assertion later in the same cell counts
            following = "\n".join([rest, *(c.source for c in code[i + 1 : i + 3])])
            asserts = re.search(r"^\s*assert\b", following, re.M)  # an assert statement, not the word in a comment
            assert asserts, f"{path.name}: no assertion after {cell.source[:60]!r}"


def _text(cell) -> str:
    """What a cell printed (stdout) and showed, without stderr."""
    return "".join(
        o.get("text", "") + o.get("data", {}).get("text/plain", "")
        for o in cell.get("outputs", [])
        if o.get("name") != "stderr"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercises_are_safe_from_run_all(path: Path) -> None:
    """Every exercise: the task with a hint and the solution as spoilers, an answer cell, a collapsed check that
    raises nothing and, as stored (a fresh Run All), says the exercise is not attempted yet."""
    notebook = nbformat.read(path, as_version=4)
    cells = notebook.cells
    starts = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("### Exercise")]
    assert len(starts) >= 2, f"{path.name} has {len(starts)} exercises; every notebook has at least two"
    assert len(series.exercise_parts(notebook)) == len(starts), "each exercise has one check, with a solution above"
    for i in starts:
        task, answer, check = cells[i], cells[i + 1], cells[i + 2]
        assert "<details><summary>Hint</summary>" in task.source and series.SOLUTION.search(task.source)
        assert answer.cell_type == "code" and answer.metadata.get("tags") == ["answer"]
        assert all(line.startswith("#") for line in answer.source.splitlines()), "the answer cell waits for the learner"
        assert check.cell_type == "code" and {"check", "hide-input"} <= set(check.metadata.get("tags", []))
        assert check.metadata.get("jupyter", {}).get("source_hidden") is True, (
            "collapsed: the check gives the answer away"
        )
        assert not re.search(r"^\s*assert\b", check.source, re.M), "a check prints; it never raises"
        assert "Not attempted yet" in check.source and "Not yet" in check.source and "Right" in check.source
        assert _text(check).startswith("Not attempted yet"), f"{path.name}: stored check output {_text(check)!r}"
    assert not [c for c in cells if "solution" in c.metadata.get("tags", [])], "no solution in a code cell"


@pytest.mark.parametrize("path", NOTEBOOKS[1:], ids=lambda p: p.stem)
def test_every_content_notebook_has_a_predict_then_run_experiment(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    cells = notebook.cells
    starts = [
        i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("## Predict, then run")
    ]
    assert starts, f"{path.name} has no predict-then-run experiment"
    for i in starts:
        prediction, run, reading = cells[i + 1], cells[i + 2], cells[i + 3]
        assert "my_prediction = None" in prediction.source and "prediction" in prediction.metadata.get("tags", [])
        assert {"experiment", "hide-output"} <= set(run.metadata.get("tags", []))
        assert run.metadata.get("jupyter", {}).get("outputs_hidden") is True, "the result is collapsed: predict first"
        assert "You predicted" in run.source and "Result:" in run.source
        assert reading.source.startswith("<details><summary>What happened, and why</summary>")
        # It waits for the learner, behind one switch in its own cell: its result is never stored (not even hidden:
        # GitHub's viewer and Colab show stored outputs), it appears when the learner turns it on and runs it.
        assert run.source.startswith(series.EXPERIMENT_SWITCH), f"{path.name}: {run.source[:80]!r}"
        assert "Result:" not in _text(run) and not [o for o in run.outputs if "data" in o], "no stored result"
        assert "RUN_EXPERIMENTS" not in prediction.source + run.source + cells[i].source, "one switch, in its cell"
        assert "nbval-ignore-output" in run.metadata.get("tags", []), "the series run turns it on: not compared"
    # Run All with every experiment off: no later cell reads a name that only an experiment binds.
    bound, experiment_only = set(), set()
    for cell in cells:
        if cell.cell_type != "code":
            continue
        loads, binds = _names(cell.source)
        if "experiment" in cell.metadata.get("tags", []):
            experiment_only |= binds - bound
        else:
            needed = loads & experiment_only - binds
            assert not needed, f"{path.name} {cell.get('id')}: reads {sorted(needed)}, bound only in an experiment"
            bound |= binds
            experiment_only -= binds


def _number(shown: str) -> float | None:
    """The number a repr shows ("136", "np.float64(0.9864)", "0.25"), or None (a string, a list...)."""
    found = re.fullmatch(r"(?:np\.\w+\()?(-?\d+(?:\.\d+)?(?:e-?\d+)?)\)?", shown.strip())
    return float(found.group(1)) if found else None


def _forms(value: float) -> set[str]:
    """How a notebook could show a number: an integer with and without thousands separators; a fraction at 3 and 4
    significant digits, and as a percent."""
    if value == int(value):
        return {str(int(value)), f"{int(value):,}"} if abs(value) >= 10 else set()
    forms = {f"{value:.{digits}g}" for digits in (3, 4)}
    if 0 < value < 1:
        forms |= {f"{100 * value:.{places}f}%" for places in (1, 2)}
    return forms


def _visible(cell) -> str:
    """What a reader sees of a cell: Markdown outside <details>, code, stored text outputs."""
    if cell.cell_type == "markdown":
        return re.sub(r"<details>.*?</details>", " ", cell.source, flags=re.S)
    if cell.cell_type != "code" or series.is_colab_cell(cell):
        return ""
    return cell.source + "\n" + _text(cell)


def _names(source: str) -> tuple[set[str], set[str]]:
    """(names a cell reads, names it binds) at its top level and in its functions (test_colab.py's rule)."""
    from test_colab import _names as names

    return names(source)


def test_the_series_has_its_exercises() -> None:
    assert sum(len(series.exercise_parts(nbformat.read(p, as_version=4))) for p in NOTEBOOKS) >= 22


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_has_alternative_text(path: Path) -> None:
    """Each cell that draws a figure says, for a reader who cannot see it, what it shows (myst-nb's image alt; the
    rule is tests/alt_text.py's, which the website's test applies to every image of the built pages)."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type != "code" or not any("image/png" in o.get("data", {}) for o in cell.outputs):
            continue
        problem = alt_text_problem(cell.metadata.get("mystnb", {}).get("image", {}).get("alt"))
        assert problem is None, f"{path.name}: the figure of {cell.source.splitlines()[0][:60]!r}: {problem}"


# The tutorial's own calls (../shared/tutorial/tutorial.md), each in the notebook that teaches it, in a code cell that
# Run All executes (not a solution). Modernized only where Keras 3 requires it; the notebooks say where.
TUTORIAL_CALLS = {
    "01_reading_the_data": ["struct.unpack(", "np.frombuffer(", "tf.keras.datasets.mnist.load_data()"],
    "02_exploring_the_data": [
        "print('Train data length: ', len(train_data), 'images')",
        "print('Data format: ', train_data[0].shape)",
        "print('Pixel value range:', train_data.min(), 'to', train_data.max())",
        "print('Unique labels:', np.unique(train_labels))",
        "fig, axes = plt.subplots(2, 5, figsize=(10, 5))",
        'ax.set_title(f"Label: {train_labels[i]}")',
    ],
    # (255. in the tutorial; 255.0 as the formatter writes it)
    "03_normalizing": ["def normalize_img(image, label):", "return tf.cast(image, tf.float32) / 255.0, label"],
    "04_defining_the_models": ["keras.Sequential(", "layers.Conv2D(", "layers.MaxPooling2D(", "model.summary()"],
    "05_training": [
        'OPTIMIZER = "adam"',
        'LOSS_FUNCTION = "sparse_categorical_crossentropy"',
        'METRICS = ["accuracy"]',
        "model.compile(optimizer=OPTIMIZER, loss=LOSS_FUNCTION, metrics=METRICS)",
        "history = model.fit(",
    ],
    "06_evaluating_and_predicting": [
        "test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=2)",
        "predictions = model.predict(test_images",
        "index = 1000",
        'plt.title(f"Predicted: {np.argmax(predictions[index])}, Label: {test_labels[index]}")',
    ],
    "07_exporting_and_reloading": [
        'model.save(OUTPUT_PATH / "model.h5")',
        "from keras.models import load_model",
        "load_model(h5_path)",
        "model.save(keras_path)",
        "model.export(serving_path",
    ],
}


@pytest.mark.parametrize("name", sorted(TUTORIAL_CALLS))
def test_the_tutorials_code_runs_in_the_open(name: str) -> None:
    notebook = nbformat.read(series.notebook(name), as_version=4)
    executed = [
        c.source
        for c in notebook.cells
        if c.cell_type == "code" and c.execution_count and "solution" not in c.metadata.get("tags", [])
    ]
    for call in TUTORIAL_CALLS[name]:
        assert any(call in source for source in executed), f"{name}: the tutorial's {call!r} is not in an executed cell"


def test_index_gives_each_notebook_its_minutes() -> None:
    """index.md's row for each notebook gives the minutes the notebook claims (the links themselves, in order, are
    checked on the built site: tests/test_docs.py)."""
    index = (REPO_ROOT / "index.md").read_text()
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        minutes = re.search(r"about \*\*(\d+) minutes\*\*", notebook.cells[0].source).group(1)
        row = next((line for line in index.splitlines() if f"](notebooks/{path.name})" in line), "")
        assert f"| {minutes} |" in row, f"index.md gives other minutes than {path.name} ({minutes}), or no row"


def test_committed_figures_exist() -> None:
    for name in ("mnist_10_examples.png", "pred_1000.png"):
        assert (REPO_ROOT / "assets" / name).read_bytes().startswith(b"\x89PNG")
