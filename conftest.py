"""Test configuration: nothing the tests run may write into the repository."""

from __future__ import annotations

import os
import re
import tempfile

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Send everything the series writes (models, figures) to a temporary folder for this run."""
    # Set before any notebook kernel starts, so kernels started by nbval and papermill inherit it.
    output = tempfile.mkdtemp(prefix="mnist-tutorial-test-")
    os.environ["MNIST_TUTORIAL_OUTPUT"] = output
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    config._mnist_output = output  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the temporary output folder."""
    import shutil

    output = getattr(config, "_mnist_output", None)
    if output:
        shutil.rmtree(output, ignore_errors=True)


def pytest_collectstart(collector: pytest.Collector) -> None:
    """nbval: compare text outputs, not stderr or rich HTML (TensorFlow may log to stderr on any machine)."""
    if getattr(collector, "fspath", None) and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("text/html", "application/javascript", "stderr")


# Notebooks whose full settings train for minutes (09, 10): nbval runs them with the smoke run's short settings,
# the same as `scripts/run_series.py --quick`. Their outputs that depend on the settings are tagged
# nbval-ignore-output; their accuracy targets are asserted by full runs (`make run`), their time targets checked
# by `make bench`.
LONG_NOTEBOOK_PARAMETER = "TRAIN_IMAGES"


def _quick_parameters() -> dict[str, object]:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent / "scripts" / "run_series.py"
    spec = importlib.util.spec_from_file_location("run_series", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.QUICK_PARAMETERS


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """nbval: give the long notebooks' parameters cells the quick settings (an extra cell-end block)."""
    quick = None
    for item in items:
        cell = getattr(item, "cell", None)
        if cell is None or "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        if not re.search(rf"^{LONG_NOTEBOOK_PARAMETER}\s*=", cell.source, re.M):
            continue
        quick = quick or _quick_parameters()
        declared = {name: value for name, value in quick.items() if re.search(rf"^{name}\s*=", cell.source, re.M)}
        lines = [f"{name} = {value!r}" for name, value in declared.items()]
        cell.source = cell.source + "\n# Quick settings for the tests (conftest.py)\n" + "\n".join(lines) + "\n"
