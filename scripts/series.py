"""The series' shape, in one place: the notebooks in order, the model types, the quick settings, and `execute`.

Everything that runs the notebooks imports this module: `scripts/run_series.py` (`make run`),
`scripts/refresh_notebooks.py` (`make refresh`), `scripts/bench.py` (`make bench`), `conftest.py` and the tests
(pytest puts `scripts/` on the import path, see `pytest.ini`). It imports neither TensorFlow nor the notebooks'
`helpers`, so it costs nothing to import. It also holds the plumbing the scripts share: `run_child` (a child process
in a process group of its own: its time, peak memory and the machine's other load) and `pins` (a requirements file's
pinned versions).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"

# The series, in the order a learner takes it. A numbered notebook in notebooks/ that is not listed here, or a
# listed one that is missing, fails the tests (tests/test_series.py).
NOTEBOOK_NAMES: tuple[str, ...] = (
    "00_setup_check",
    "01_reading_the_data",
    "02_exploring_the_data",
    "03_normalizing",
    "04_defining_the_models",
    "05_training",
    "06_evaluating_and_predicting",
    "07_exporting_and_reloading",
    "08_draw_your_own_digit",
    "09_going_faster",
    "10_going_further",
    "11_several_devices",
    "12_small_devices",
)
NOTEBOOKS: tuple[Path, ...] = tuple(NOTEBOOKS_DIR / f"{name}.ipynb" for name in NOTEBOOK_NAMES)
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"  # what counts as a notebook of the series in notebooks/

# The models of the series. Notebooks 05-08 declare MODEL_TYPES (both, by default) in their parameters cell; a run
# for fewer models (`run_series.py --model-types cnn`) passes it to them.
MODEL_TYPES: tuple[str, ...] = ("fc", "cnn")

# Short settings for a smoke run (`make test`, `run_series.py --quick`): given to each notebook that declares the
# parameter, by papermill and, for nbval, by conftest.py. Notebooks 09 and 10 check their speed and accuracy
# targets only with their own, full settings.
QUICK_PARAMETERS: dict[str, Any] = {"EPOCHS": 1, "FAST_EPOCHS": 1, "TRAIN_IMAGES": 2048, "KNOB_IMAGES": 512}


# What every run of the series by its scripts passes (run_series.py, refresh_notebooks.py, the tests): one line per
# epoch from `fit`, as the stored outputs and the website show. A learner in JupyterLab gets the notebooks' own
# default, "auto": Keras' live progress bar.
RUN_PARAMETERS: dict[str, Any] = {"FIT_VERBOSE": 2}

# Every predict-then-run experiment waits for the learner: its cell starts with this switch, the one place a learner
# turns it on once the prediction is written, so that its result is never stored in the notebook. A run that proves
# the exercises (`run_series.py --exercises`, the tests) turns it on in the copy it executes (`with_exercise_proofs`).
EXPERIMENT_SWITCH = "run_experiment = False"

# An exercise, the same in every notebook: a Markdown cell "### Exercise ..." with a hint and the solution as
# spoilers (<details>, the solution as a ```python block), an answer cell for the learner (tag "answer"), and a check
# cell (tag "check") that says "Not attempted yet", "Not yet: ..." or "Right: ..."; its metadata "exercise"/"wrong"
# holds a wrong answer, so that the tests can prove the check says "Not yet" to it.
SOLUTION = re.compile(r"<details><summary>Solution[^<]*</summary>\s*```python\n(.*?)```\s*</details>", re.S)


# Publishing settings: where the series lives online. `scripts/publish.py --repo URL --ref REF` writes them here
# and into every notebook's Colab step (below); the website's launch buttons (conf.py) are built from them. Empty
# until the series is published: a notebook run outside a clone then says how to get the series. The environment
# variables MNIST_TUTORIAL_REPO and MNIST_TUTORIAL_REF override them, in the notebooks and on the website alike.
REPOSITORY_URL = ""
REPOSITORY_REF = "main"
JUPYTERHUB_URL = ""  # a class's JupyterHub, for the website's JupyterHub button (nbgitpuller); optional

# Every notebook's first code cell, the Colab step: outside a clone of the series (Colab, or a notebook downloaded on
# its own: no `helpers` module beside the notebook or installed) it fetches the series at REPOSITORY_REF with git, which
# never asks for a password here, into `mnist-tf-tutorial.part` (left by a fetch cut short, it is fetched again), and
# runs scripts/colab_step.py from there: install what is missing, go on in the clone's notebooks/ folder. Inside a
# clone it does nothing. Every failure is one line, not a traceback (IPython shows `_render_traceback_` instead). At
# most 12 lines: a form in Colab (`# @title`, metadata `cellView`), collapsed in JupyterLab, left off the website.
# scripts/publish.py writes it into every notebook; tests/test_colab.py runs it.
COLAB_STEP = """\
# @title Colab, or this notebook on its own: fetch the series first { display-mode: "form" }
import importlib.util, os, pathlib, runpy, shutil, subprocess  # noqa: E401 (in a clone of the series: nothing to do)

SetupStopped = type("SetupStopped", (Exception,), {"_render_traceback_": lambda self: [f"Setup stopped: {self}"]})
REPO = os.environ.get("MNIST_TUTORIAL_REPO") or @REPO@
REF = os.environ.get("MNIST_TUTORIAL_REF") or @REF@  # where the series is published: scripts/publish.py writes both
CLONE, PART = pathlib.Path("mnist-tf-tutorial").absolute(), pathlib.Path("mnist-tf-tutorial.part").absolute()
if importlib.util.find_spec("helpers") is None and not CLONE.is_dir():  # fetch it (again, if a fetch was cut short)
    shutil.rmtree(PART, ignore_errors=True), os.environ.update(GIT_TERMINAL_PROMPT="0")  # git never asks a password
    if (GIT := subprocess.run(["git", "clone", "--depth=1", "-b", REF, REPO, PART], capture_output=True)).returncode:
        raise SetupStopped(f"could not fetch {REF} of {REPO}: {GIT.stderr.decode().strip().rsplit(chr(10))[-1]}")
importlib.util.find_spec("helpers") or runpy.run_path(f"{CLONE if CLONE.is_dir() else PART}/scripts/colab_step.py");"""
COLAB_TITLE = COLAB_STEP.splitlines()[0]  # how the cell is recognized (scripts/publish.py, the tests)
UNPUBLISHED = "(not published yet, see setup.md)"  # what the step names as the repository before scripts/publish.py


def colab_step(repo: str | None = None, ref: str | None = None) -> str:
    """The Colab step with the publishing settings (or `repo` and `ref`) in it, as every notebook's first code cell
    holds it."""
    repo, ref = REPOSITORY_URL if repo is None else repo, REPOSITORY_REF if ref is None else ref
    return COLAB_STEP.replace("@REPO@", json.dumps(repo or UNPUBLISHED)).replace("@REF@", json.dumps(ref))


def colab_cell(repo: str | None = None, ref: str | None = None) -> Any:
    """The Colab step as a notebook cell: a form in Colab, collapsed in JupyterLab, its input left off the website."""
    import nbformat

    cell = nbformat.v4.new_code_cell(colab_step(repo, ref))
    cell.metadata.update({"cellView": "form", "jupyter": {"source_hidden": True}, "tags": ["remove-input"]})
    return cell


def is_colab_cell(cell: Any) -> bool:
    """Whether a notebook cell is the Colab step (whatever its publishing settings)."""
    return cell.cell_type == "code" and cell.source.startswith(COLAB_TITLE)


def notebook(prefix: str) -> Path:
    """The notebook whose name starts with `prefix` ("05" or "05_training")."""
    matches = [path for path in NOTEBOOKS if path.stem.startswith(prefix)]
    if len(matches) != 1:
        raise ValueError(f"{prefix!r} names {len(matches)} notebooks of the series, not one")
    return matches[0]


def select(prefixes: Iterable[str] | None) -> list[Path]:
    """The series' notebooks whose names start with one of `prefixes` (all of them when None or empty)."""
    prefixes = list(prefixes or [])
    return [path for path in NOTEBOOKS if not prefixes or any(path.name.startswith(p) for p in prefixes)]


def declared_parameters(path: Path) -> dict[str, Any]:
    """The names a notebook declares in its papermill parameters cell, with their inferred defaults."""
    import papermill

    return dict(papermill.inspect_notebook(str(path)))


def quick_parameters(declared: Iterable[str]) -> dict[str, Any]:
    """QUICK_PARAMETERS, limited to the names a notebook declares."""
    names = set(declared)
    return {name: value for name, value in QUICK_PARAMETERS.items() if name in names}


def plan(
    paths: Iterable[Path] = NOTEBOOKS,
    *,
    quick: bool = False,
    epochs: int | None = None,
    model_types: Iterable[str] = MODEL_TYPES,
) -> list[tuple[Path, dict[str, Any]]]:
    """Every (notebook, parameters) pair of a run of the series, in the series' order."""
    jobs: list[tuple[Path, dict[str, Any]]] = []
    for path in paths:
        declared = declared_parameters(path)
        base = {name: value for name, value in RUN_PARAMETERS.items() if name in declared}
        base.update(quick_parameters(declared) if quick else {})
        if epochs is not None and "EPOCHS" in declared:
            base["EPOCHS"] = epochs
        if "MODEL_TYPES" in declared and list(model_types) != list(MODEL_TYPES):
            base["MODEL_TYPES"] = list(model_types)
        jobs.append((path, base))
    return jobs


def exercise_parts(notebook: Any) -> list[tuple[Any, Any, str, list[str]]]:
    """(task cell, check cell, solution, wrong answers) of every exercise of a notebook (an nbformat notebook).
    A check cell's metadata "exercise"/"wrong" holds one wrong answer or a list of them."""
    found, task = [], None
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("### Exercise"):
            task = cell
        elif cell.cell_type == "code" and "check" in cell.metadata.get("tags", []):
            solution = SOLUTION.search(task.source if task is not None else "")
            wrong = cell.metadata.get("exercise", {}).get("wrong")
            wrong = [wrong] if isinstance(wrong, str) else list(wrong or [])
            if solution is None or not wrong or not all(wrong):
                raise ValueError(
                    f"check cell {cell.get('id')}: no solution in the exercise above it, or no wrong answer"
                )
            found.append((task, cell, solution.group(1), wrong))
            task = None
    return found


def _answer_names(solution: str) -> list[str]:
    """The names a solution assigns at its top level (what the check reads)."""
    import ast

    names = []
    for node in ast.parse(solution).body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


ANSWER_MARK = "Accepted answer: "  # what a proof run prints after a solution, for the answer-not-above test


def with_exercise_proofs(notebook: Any) -> Any:
    """The notebook with, after each check cell: each wrong answer and the check again, then the solution and the
    check again (cells tagged "proof", the checks also "proof-wrong" and "proof-right"), then each other correct form
    the check must accept (metadata "exercise"/"right_also") and the check again (also "proof-right"); after the
    solution, a cell prints the values it assigned (ANSWER_MARK, tag "proof-answer"). And every experiment that
    waits for the learner (EXPERIMENT_SWITCH) is turned on."""
    import nbformat

    checks = {id(check): (solution, wrong) for _, check, solution, wrong in exercise_parts(notebook)}
    result = nbformat.from_dict({**notebook, "cells": []})
    for index, cell in enumerate(notebook.cells):
        if "experiment" in cell.metadata.get("tags", []) and cell.source.startswith(EXPERIMENT_SWITCH):
            cell = nbformat.from_dict(
                {**cell, "source": "run_experiment = True" + cell.source[len(EXPERIMENT_SWITCH) :]}
            )
        result.cells.append(cell)
        if id(cell) not in checks:
            continue
        solution, wrong = checks[id(cell)]
        also = cell.metadata.get("exercise", {}).get("right_also", [])
        name = cell.get("id") or f"cell{index}"
        answers = [(f"wrong{k}", source, "proof-wrong") for k, source in enumerate(wrong)]
        answers += [("right", solution, "proof-right")]
        answers += [(f"right{k + 1}", source, "proof-right") for k, source in enumerate(also)]
        for kind, source, tag in answers:
            answer = nbformat.v4.new_code_cell(source, id=f"{name}-{kind}")
            again = nbformat.v4.new_code_cell(cell.source, id=f"{name}-proof-{kind}")
            answer.metadata["tags"], again.metadata["tags"] = ["proof"], ["proof", tag]
            result.cells += [answer, again]
            if kind == "right":
                shown = "import numbers\n" + "".join(  # numbers only: the test looks for them above the exercise
                    f"print({ANSWER_MARK!r} + repr({n})) if isinstance({n}, numbers.Number) else None\n"
                    for n in _answer_names(source)
                )
                result.cells.append(nbformat.v4.new_code_cell(shown, id=f"{name}-answer"))
                result.cells[-1].metadata["tags"] = ["proof", "proof-answer"]
    return result


def execute(
    notebook: Path | str,
    parameters: Mapping[str, Any] | None,
    output: Path | str,
    *,
    cwd: Path | str | None = None,
    timeout: int | None = 1800,
    clean: bool = False,
    prove_exercises: bool = False,
    stdout_file: Any = None,
    log_cells: bool = False,
) -> Path:
    """Execute `notebook` in a fresh kernel with papermill, `parameters` injected, into `output`.

    The kernel runs in `cwd` (default: notebooks/); each cell may take `timeout` seconds. With `clean`, `output`
    gets the notebook as it was with only the fresh outputs and execution counts (none of the run's metadata:
    timings, papermill's record), so that `output` may be the notebook itself, and it is written only when every
    cell ran. With `prove_exercises`, every exercise's wrong answer and solution run after its check
    (`with_exercise_proofs`). `stdout_file` receives what the cells print as it comes, and `log_cells` logs each
    cell's start to papermill's logger (run_series.py shows both). Raises papermill's PapermillExecutionError when a
    cell fails (the output notebook shows where).
    """
    import nbformat
    import papermill

    if clean and prove_exercises:
        raise ValueError("prove_exercises adds cells: its run cannot be stored back into the notebook (clean)")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    output = Path(output)
    target = output
    if clean:  # run into a temporary file first: a failed run leaves the original untouched
        handle, name = tempfile.mkstemp(suffix=".ipynb", dir=output.parent)
        os.close(handle)
        target = Path(name)
    source_path = Path(notebook)
    if prove_exercises:  # run a copy with the proofs, written beside the output
        proofs = with_exercise_proofs(nbformat.read(notebook, as_version=4))
        source_path = output.with_name(f".{output.stem}.proofs.ipynb")
        nbformat.write(proofs, source_path)
    try:
        papermill.execute_notebook(
            str(source_path),
            str(target),
            parameters=dict(parameters or {}),
            kernel_name="python3",
            cwd=str(cwd or NOTEBOOKS_DIR),
            execution_timeout=timeout,
            progress_bar=False,
            log_output=log_cells,
            stdout_file=stdout_file,
        )
        if clean:
            source = nbformat.read(notebook, as_version=4)
            executed = nbformat.read(target, as_version=4)
            executed.cells = [c for c in executed.cells if "injected-parameters" not in c.metadata.get("tags", [])]
            if [c.get("id") for c in executed.cells] != [c.get("id") for c in source.cells]:
                raise RuntimeError(f"{notebook}: the executed notebook's cells differ from the source's; not written")
            count = 0
            for cell, ran in zip(source.cells, executed.cells):
                if cell.cell_type == "code":  # numbered 1, 2, ... as after Run All (no injected cell between)
                    count += ran.execution_count is not None
                    cell.outputs, cell.execution_count = ran.outputs, count if ran.execution_count is not None else None
            source.metadata["language_info"] = executed.metadata.get("language_info", {})
            source.metadata.pop("widgets", None)  # widget state changes from run to run
            nbformat.write(source, target)
            os.replace(target, output)
    finally:
        if clean and target.exists():
            target.unlink()
        if prove_exercises:
            source_path.unlink(missing_ok=True)
    return output


# ------------------------------------------------------------------------------------------------ minutes
# What a notebook asks of a learner's time, by construction (tests/test_lesson.py holds the notebooks to it;
# scripts/minutes.py writes the claims): its visible words at WORDS_PER_MINUTE, MINUTES_PER_EXERCISE per core
# exercise ("### Exercise N (extra) · ..." is for early finishers, not counted), MINUTES_PER_EXPERIMENT per
# predict-then-run experiment, and its run time at full settings on the slowest CPU measured, rounded to the nearest 5.
WORD = re.compile(r"[A-Za-z0-9']+")  # a word: a run of letters, digits and apostrophes
DETAILS = re.compile(r"<details>.*?</details>", re.S)  # collapsed: hints, solutions, "What happened", "More: ..."
WORDS_PER_MINUTE, MINUTES_PER_EXERCISE, MINUTES_PER_EXPERIMENT = 120, 5, 3
EXTRA_EXERCISE = re.compile(r"^### Exercise \d+ \(extra\) · ")
CLAIM = re.compile(r"about \*\*(\d+) minutes\*\* \((\d+) teaching, (\d+) exercises([^)]*)\)")


def visible_words(notebook: Any) -> int:
    """The words of a notebook's Markdown cells, collapsed <details> blocks left out."""
    text = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    return len(WORD.findall(DETAILS.sub(" ", text)))


def lesson_minutes(notebook: Any, run_seconds: float) -> dict[str, Any]:
    """A notebook's minutes by construction: words, core exercises, extra ones, experiments, the run's minutes, the
    practice minutes (exercises and experiments) and `least`, the fewest minutes it may claim."""
    markdown = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    exercises = [text for text in markdown if text.startswith("### Exercise")]
    extra = sum(bool(EXTRA_EXERCISE.match(text)) for text in exercises)
    experiments = sum(text.startswith("## Predict, then run") for text in markdown)
    words = visible_words(notebook)
    practice = MINUTES_PER_EXERCISE * (len(exercises) - extra) + MINUTES_PER_EXPERIMENT * experiments
    exact = words / WORDS_PER_MINUTE + practice + run_seconds / 60
    least = 5 * math.floor(exact / 5 + 0.5)  # the rule: the nearest 5
    return {"words": words, "core": len(exercises) - extra, "extra": extra, "experiments": experiments,
            "run_minutes": run_seconds / 60, "practice": practice, "least": least,
            "claim": 5 * math.ceil(exact / 5)}  # what scripts/minutes.py writes: never rounded down  # fmt: skip


# ------------------------------------------------------------------------------------------------ run times
# How long each notebook takes at its full settings, per CPU: `make run` (run_series.py at the notebooks' own settings,
# both models) records each notebook that ran to the end, under this machine's CPU_LABEL. The notebooks' claimed
# minutes count the slowest CPU measured (tests/test_lesson.py). Committed; a maintainer's run adds its CPU.
RUN_TIMES = REPO_ROOT / "scripts" / "run_times.json"
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile")  # the ones that matter


def cpu_info() -> tuple[str, list[str], int]:
    """This machine's CPU: its model name with family and model (from /proc/cpuinfo where there is one; elsewhere the
    platform's processor name), the vector flags of CPU_FLAGS it has, in that order, and the cores this process may
    use. The benchmark (scripts/bench.py) and the run-times table name machines by it."""
    import platform

    proc = Path("/proc/cpuinfo")
    info = proc.read_text() if proc.exists() else ""
    field = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in info.splitlines()[:40])}
    name, flags = field.get("model name", platform.processor() or "?"), field.get("flags", "").split()
    name = f"{name} (family {field.get('cpu family', '?')}, model {field.get('model', '?')})"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return name, [flag for flag in CPU_FLAGS if flag in flags], cores


def cpu_label() -> str:
    """The CPU in one line, as the run-times table names it: "<model> (family F, model M), N cores; flags: ..."."""
    name, flags, cores = cpu_info()
    return f"{name}, {cores} cores" + (f"; flags: {', '.join(flags)}" if flags else "")


def read_run_times(path: Path = RUN_TIMES) -> dict[str, dict[str, float]]:
    """CPU label -> {notebook name -> seconds at full settings}, as committed (empty if there is no table)."""
    if not path.exists():
        return {}
    return {cpu: {name: float(s) for name, s in times.items()} for cpu, times in json.loads(path.read_text()).items()}


def slowest_run_seconds(path: Path = RUN_TIMES) -> dict[str, float]:
    """Notebook name -> its longest full-settings run over the CPUs measured."""
    slowest: dict[str, float] = {}
    for times in read_run_times(path).values():
        for name, seconds in times.items():
            slowest[name] = max(slowest.get(name, 0.0), seconds)
    return slowest


def record_run_times(seconds: Mapping[str, float], cpu: str, path: Path = RUN_TIMES) -> None:
    """Add (or replace) this CPU's full-settings run times of the notebooks in `seconds`, keeping the others; the
    file is written whole or not at all."""
    table = read_run_times(path)
    table.setdefault(cpu, {}).update({name: round(value, 1) for name, value in seconds.items()})
    ordered = {cpu: dict(sorted(times.items())) for cpu, times in sorted(table.items())}
    handle, temporary = tempfile.mkstemp(suffix=".json", dir=path.parent)
    with os.fdopen(handle, "w") as file:
        file.write(json.dumps(ordered, indent=2) + "\n")
    os.replace(temporary, path)


# ------------------------------------------------------------------------------------------------ a child process
@dataclass(frozen=True)
class ChildRun:
    """How a child process that `run_child` ran ended. Memory and CPU time count the child and the descendants it
    waited for (a notebook's kernel); nan where they are not measured (Windows; other load: outside Linux)."""

    returncode: int  # negative: the signal that ended it
    seconds: float  # wall time
    peak_mb: float  # peak memory of the largest of those processes, not their sum
    cpu_seconds: float  # user + system time
    other_load: float  # CPU cores other processes kept busy meanwhile, on average (a measurement's noise)
    timed_out: bool = False  # killed, with its process group, when `timeout` ran out


def run_child(
    command: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    stdout: Any = None,
    stderr: Any = None,
    timeout: float | None = None,
) -> ChildRun:
    """Run `command` in a process group of its own (the child and what it starts: a notebook's kernel) and wait.

    After `timeout` seconds the whole group is killed. On Ctrl-C (KeyboardInterrupt here; the child, outside the
    terminal's process group, gets no SIGINT) the group gets SIGTERM, SIGKILL for what is left after a few seconds, and
    the KeyboardInterrupt goes on. Peak memory and CPU time come from os.wait4; Windows has neither wait4 nor process
    groups: there they are nan, and only the child itself is stopped. `stdout` and `stderr` are as for subprocess.Popen.
    """
    posix = hasattr(os, "wait4")
    busy, start = _cpu_busy_seconds(), time.perf_counter()
    child = subprocess.Popen(list(command), env=env, stdout=stdout, stderr=stderr, start_new_session=posix)
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        _signal_group(child, getattr(signal, "SIGKILL", signal.SIGTERM))

    timer = threading.Timer(timeout, expire) if timeout is not None else None
    try:
        if timer is not None:
            timer.start()
        try:
            returncode, peak_mb, cpu_seconds = _reap(child)
        finally:
            if timer is not None:
                timer.cancel()
    except KeyboardInterrupt:
        _stop(child)
        raise
    seconds = time.perf_counter() - start
    others = (_cpu_busy_seconds() - busy - cpu_seconds) / seconds  # nan where either is not measured
    return ChildRun(
        returncode, seconds, peak_mb, cpu_seconds, others if math.isnan(others) else max(0.0, others), expired.is_set()
    )


def _cpu_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores), from /proc/stat; nan elsewhere."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait
    except (OSError, ValueError, IndexError, AttributeError):  # AttributeError: no os.sysconf (Windows)
        return float("nan")


def _reap(child: subprocess.Popen, block: bool = True) -> tuple[int, float, float]:
    """Wait for the child: (exit code, peak memory in MB, CPU seconds); raise TimeoutError if it is still running
    and `block` is False."""
    if not hasattr(os, "wait4"):
        try:
            return child.wait(None if block else 0), float("nan"), float("nan")
        except subprocess.TimeoutExpired:
            raise TimeoutError from None
    pid, status, usage = os.wait4(child.pid, 0 if block else os.WNOHANG)
    if pid == 0:
        raise TimeoutError
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: the Popen object must not wait again
    peak_mb = usage.ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)  # bytes on macOS, kB elsewhere
    return child.returncode, peak_mb, usage.ru_utime + usage.ru_stime


def _signal_group(child: subprocess.Popen, signum: int) -> None:
    """Send `signum` to the child's process group (gone already: nothing to do); on Windows, end the child."""
    if hasattr(os, "killpg"):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signum)  # its group id is its process id (start_new_session)
    else:
        with contextlib.suppress(OSError):
            child.kill()


def _stop(child: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop the child's process group: SIGTERM, `grace` seconds to end, SIGKILL for what is left; reap the child."""
    _signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + grace
    try:
        while child.returncode is None and time.monotonic() < deadline:
            try:
                _reap(child, block=False)
            except TimeoutError:
                time.sleep(0.02)
    except ChildProcessError:  # reaped already
        pass
    finally:  # also on a second Ctrl-C
        _signal_group(child, getattr(signal, "SIGKILL", signal.SIGTERM))  # the child if it held on, its descendants
        if child.returncode is None:
            with contextlib.suppress(ChildProcessError):
                _reap(child)


# ------------------------------------------------------------------------------------------------ the pins
def read_pins(path: Path | str) -> list[tuple[str, str, Any]]:
    """(name, version, marker) of every pin of a requirements file, in order: the name canonical ("Foo_Bar" is
    "foo-bar"), the marker a packaging.markers.Marker or None. Comments, blank lines and option lines ("--index-url
    ...") are skipped; any other line that is not `name==version`, maybe with "; marker", raises ValueError."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    found = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        text = re.sub(r"(^|\s)#.*", "", line).strip()  # a comment: "#" at the start or after a space
        if not text or text.startswith("--"):
            continue
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            requirement = None
        specifiers = list(requirement.specifier) if requirement else []
        pinned = len(specifiers) == 1 and specifiers[0].operator == "==" and "*" not in specifiers[0].version
        if requirement is None or requirement.url or not pinned:
            raise ValueError(f"{path}, line {number}: {line.strip()!r} is not name==version (maybe with '; marker')")
        found.append((canonicalize_name(requirement.name), specifiers[0].version, requirement.marker))
    return found


def pins(path: Path | str) -> dict[str, str]:
    """Canonical name -> pinned version, of the pins of a requirements file (`read_pins`) that hold here: a line whose
    marker is false in this environment is left out, as pip leaves it. Two versions of one name here: ValueError."""
    pinned: dict[str, str] = {}
    for name, version, marker in read_pins(path):
        if marker is not None and not marker.evaluate():
            continue
        if pinned.setdefault(name, version) != version:
            raise ValueError(f"{path}: {name} is pinned twice, to {pinned[name]} and to {version}")
    return pinned
