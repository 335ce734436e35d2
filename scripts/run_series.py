"""Execute the whole series with papermill and print a summary, with the two models compared.

Executed notebooks go to a build folder (never over the sources); trained models land in
saved_model/mnist_{fc,cnn}/ (or under $MNIST_TUTORIAL_OUTPUT when that is set).

    python scripts/run_series.py                 # the README's run command calls this
    python scripts/run_series.py --epochs 1      # fewer epochs in the notebooks that train
    python scripts/run_series.py --quick         # a smoke run: QUICK_PARAMETERS (the tests use it)
    python scripts/run_series.py --model-types cnn   # one model only (a workshop short of time)
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import series


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--build-dir",
        type=Path,
        default=series.REPO_ROOT / "build" / "run",
        help="where the executed notebooks go (default: build/run)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="override EPOCHS in the notebooks that train (default: the notebooks' own, 5)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"short settings for a smoke run: {series.QUICK_PARAMETERS} where a notebook declares them",
    )
    parser.add_argument(
        "--model-types",
        nargs="+",
        default=list(series.MODEL_TYPES),
        choices=series.MODEL_TYPES,
        help="the models notebooks 05-08 train and use (default: both)",
    )
    parser.add_argument(
        "--exercises",
        action="store_true",
        help="prove the exercises (each wrong answer and solution run after its check) and run the "
        "experiments (the tests use it)",
    )
    parser.add_argument("--cell-timeout", type=int, default=1800, help="seconds one cell may run (default 1800)")
    parser.add_argument("--only", nargs="*", default=None, help="run only notebooks whose name starts so (e.g. 05)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: run one notebook (a JSON job)
    return parser.parse_args(argv)


def compare_models(output_root: Path, model_types: list[str], since: float = 0.0) -> str:
    """A Markdown table of the models trained in this run (their metrics.json written after `since`): parameters,
    seconds per epoch, test accuracy."""
    lines = ["| model | parameters | epochs | seconds per epoch | test accuracy |", "|---|---:|---:|---:|---:|"]
    for model_type in model_types:
        metrics_path = output_root / "saved_model" / f"mnist_{model_type}" / "metrics.json"
        if metrics_path.exists() and metrics_path.stat().st_mtime >= since:
            m = json.loads(metrics_path.read_text())["runs"]["tutorial"]  # helpers.write_metrics' format
            lines.append(
                f"| {model_type.upper()} | {m['parameters']:,} | {m['epochs']} | "
                f"{m['seconds_per_epoch']:.1f} | {m['test_accuracy']:.4f} |"
            )
    return "\n".join(lines) if len(lines) > 2 else ""


# Each notebook runs in a child process of its own (`--worker`, started by series.run_child), so that the run can
# report its peak memory (the child's and its kernel's), keep the kernel's start-up warnings out of the way, and stop
# cleanly on Ctrl-C by ending the child's whole process group.
EPOCH_LINE = re.compile(r"^(?:Training the \w+ model|Epoch \d+/\d+|\d+/\d+ - .*\bloss\b)")


class _EpochLines(io.TextIOBase):
    """Receives what the notebook prints, as it comes, and passes on the training's lines (model, epoch, result)."""

    def __init__(self) -> None:
        self.pending = ""

    def write(self, text: str) -> int:
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            if EPOCH_LINE.match(line.strip()):
                print(f"    {line.strip()}", flush=True)
        return len(text)


class _CellProgress(logging.Handler):
    """papermill's "Executing Cell N" log lines, as a progress count on one terminal line."""

    def __init__(self, total: int) -> None:
        super().__init__()
        self.total = total

    def emit(self, record: logging.LogRecord) -> None:
        found = re.match(r"Executing Cell (\d+)", record.getMessage())
        if found and sys.stdout.isatty():
            print(f"\r    cell {found.group(1)}/{self.total} ", end="", flush=True)


def worker(job: dict) -> int:
    """Execute one notebook (the child process): stream its epoch lines, write the outcome to job["result"]."""
    import nbformat
    from papermill.exceptions import PapermillExecutionError

    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # the kernel's transport warnings and TensorFlow's start-up lines
    progress = _CellProgress(len(nbformat.read(job["notebook"], as_version=4).cells) + 1)
    logger = logging.getLogger("papermill")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(progress)
    status = "ok"
    try:
        series.execute(
            job["notebook"],
            job["parameters"],
            job["output"],
            timeout=job["timeout"],
            prove_exercises=job["exercises"],
            stdout_file=_EpochLines(),
            log_cells=True,
        )
    except PapermillExecutionError as error:
        status = f"FAILED ({error.ename}: {error.evalue})"
    except Exception as error:  # a kernel that died, a timeout: report it and go on with the series
        status = f"FAILED ({type(error).__name__}: {error})"
    if sys.stdout.isatty():
        print("\r" + " " * 30 + "\r", end="", flush=True)
    Path(job["result"]).write_text(status)
    return 0


def run_one(job: dict) -> tuple[str, float, float]:
    """Run `worker(job)` in a child process: (status, seconds, peak memory in MB of the child and its kernel)."""
    child = series.run_child([sys.executable, __file__, "--worker", json.dumps(job)])
    result = Path(job["result"])
    status = result.read_text() if result.exists() else f"FAILED (the run ended with exit code {child.returncode})"
    return status, child.seconds, child.peak_mb


def summary(rows: list[tuple[str, str, float, float]], build_dir: Path) -> None:
    print("\nSummary")
    width = max(len(name) for name, *_ in rows) if rows else 10
    for name, status, seconds, peak in rows:
        memory = f"peak memory {peak:,.0f} MB" if peak == peak else "peak memory not measured here"
        print(f"  {name:<{width}}  {status:<6}  {seconds:6.1f} s  {memory}")
    print(f"  executed notebooks: {os.path.relpath(build_dir)}/")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker(json.loads(args.worker))
    build_dir = args.build_dir.resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    output_root = Path(os.environ.get("MNIST_TUTORIAL_OUTPUT") or series.REPO_ROOT)
    rows = []
    started = time.time()
    jobs = series.plan(series.select(args.only), quick=args.quick, epochs=args.epochs, model_types=args.model_types)
    with tempfile.TemporaryDirectory() as results:
        for index, (path, parameters) in enumerate(jobs):
            output = build_dir / path.name
            label = f"{path.name} {parameters}" if parameters else path.name
            print(f"Running {label} ...", flush=True)
            job = {
                "notebook": str(path),
                "parameters": parameters,
                "output": str(output),
                "timeout": args.cell_timeout,
                "exercises": args.exercises,
                "result": str(Path(results) / f"{index}.txt"),
            }
            try:
                status, seconds, peak = run_one(job)
            except KeyboardInterrupt:
                print(f"\nStopped (Ctrl-C) during {path.name}; its kernel is stopped too.")
                summary(rows, build_dir)
                return 130
            rows.append((output.name, status, seconds, peak))
    summary(rows, build_dir)
    full = not (args.quick or args.exercises or args.epochs is not None)
    if full and list(args.model_types) == list(series.MODEL_TYPES):
        ran = {Path(name).stem: seconds for name, status, seconds, _ in rows if status == "ok"}
        series.record_run_times(ran, series.cpu_label())  # the notebooks' own settings: the minutes count them
        print(f"  run times at full settings recorded in {os.path.relpath(series.RUN_TIMES)} ({series.cpu_label()})")
    comparison = compare_models(output_root, args.model_types, since=started)
    if comparison:
        print("\n" + comparison)
        (build_dir / "comparison.md").write_text(comparison + "\n")
    failed = [name for name, status, *_ in rows if status != "ok"]
    if failed:
        print(f"{len(failed)} notebook run(s) failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
