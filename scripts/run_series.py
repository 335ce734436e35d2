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
import json
import os
import sys
import time
from pathlib import Path

import series


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", type=Path, default=series.REPO_ROOT / "build" / "run",
                        help="where the executed notebooks go (default: build/run)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="override EPOCHS in the notebooks that train (default: the notebooks' own, 5)")
    parser.add_argument("--quick", action="store_true",
                        help=f"short settings for a smoke run: {series.QUICK_PARAMETERS} where a notebook declares them")
    parser.add_argument("--model-types", nargs="+", default=list(series.MODEL_TYPES), choices=series.MODEL_TYPES,
                        help="the models notebooks 05-08 train and use (default: both)")
    parser.add_argument("--exercises", action="store_true",
                        help="prove the exercises (each wrong answer and solution run after its check) and run the "
                             "experiments that train (the tests use it)")
    parser.add_argument("--cell-timeout", type=int, default=1800, help="seconds one cell may run (default 1800)")
    parser.add_argument("--only", nargs="*", default=None, help="run only notebooks whose name starts so (e.g. 05)")
    return parser.parse_args(argv)


def compare_models(output_root: Path, model_types: list[str], since: float = 0.0) -> str:
    """A Markdown table of the models trained in this run (their metrics.json written after `since`): parameters,
    seconds per epoch, test accuracy."""
    lines = ["| model | parameters | epochs | seconds per epoch | test accuracy |", "|---|---:|---:|---:|---:|"]
    for model_type in model_types:
        metrics_path = output_root / "saved_model" / f"mnist_{model_type}" / "metrics.json"
        if metrics_path.exists() and metrics_path.stat().st_mtime >= since:
            m = json.loads(metrics_path.read_text())
            lines.append(f"| {model_type.upper()} | {m['parameters']:,} | {m['epochs']} | "
                         f"{m['seconds_per_epoch']:.1f} | {m['test_accuracy']:.4f} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from papermill.exceptions import PapermillExecutionError

    build_dir = args.build_dir.resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    output_root = Path(os.environ.get("MNIST_TUTORIAL_OUTPUT") or series.REPO_ROOT)
    rows = []
    started = time.time()
    jobs = series.plan(series.select(args.only), quick=args.quick, epochs=args.epochs, model_types=args.model_types,
                       exercises=args.exercises)
    for path, parameters in jobs:
        output = build_dir / path.name
        label = f"{path.name} {parameters}" if parameters else path.name
        print(f"Running {label} ...", flush=True)
        start = time.perf_counter()
        status = "ok"
        try:
            series.execute(path, parameters, output, timeout=args.cell_timeout, prove_exercises=args.exercises)
        except PapermillExecutionError as error:
            status = f"FAILED ({error.ename}: {error.evalue})"
        except Exception as error:  # a kernel that died, a timeout: report it and go on with the series
            status = f"FAILED ({type(error).__name__}: {error})"
        rows.append((output.name, status, time.perf_counter() - start))

    print("\nSummary")
    width = max(len(name) for name, _, _ in rows) if rows else 10
    for name, status, seconds in rows:
        print(f"  {name:<{width}}  {status:<6}  {seconds:6.1f} s")
    print(f"  executed notebooks: {os.path.relpath(build_dir)}/")
    comparison = compare_models(output_root, args.model_types, since=started)
    if comparison:
        print("\n" + comparison)
        (build_dir / "comparison.md").write_text(comparison + "\n")
    failed = [name for name, status, _ in rows if status != "ok"]
    if failed:
        print(f"{len(failed)} notebook run(s) failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
