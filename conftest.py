"""Test configuration: nothing the tests run may write into the repository."""

from __future__ import annotations

import os
import re
import tempfile

import pytest
import series  # scripts/series.py: pytest.ini puts scripts/ on the import path


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """nbval: give the long notebooks' parameters cells the quick settings (an extra cell-end block)."""
    for item in items:
        cell = getattr(item, "cell", None)
        if cell is None or "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        declared = re.findall(r"^(\w+)\s*=", cell.source, re.M)
        run = {name: value for name, value in series.RUN_PARAMETERS.items() if name in declared}
        if run:  # one line per epoch from fit, as stored (series.RUN_PARAMETERS)
            cell.source += "\n# As the series' runs (conftest.py)\n" + "\n".join(f"{n} = {v!r}" for n, v in run.items()) + "\n"
        if not re.search(rf"^{LONG_NOTEBOOK_PARAMETER}\s*=", cell.source, re.M):
            continue
        quick = series.quick_parameters(re.findall(r"^(\w+)\s*=", cell.source, re.M))
        lines = [f"{name} = {value!r}" for name, value in quick.items()]
        cell.source = cell.source + "\n# Quick settings for the tests (conftest.py)\n" + "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------- the suite's budget
# `make test` must stay within 15 minutes on an AVX2-only 2-core machine and 7 on an AVX-512 one (README, "For
# maintainers"). Every run ends with the time each test file took, so that a file that grows shows at once.
_FILE_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::", 1)[0]
    _FILE_SECONDS[path] = _FILE_SECONDS.get(path, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if not _FILE_SECONDS:
        return
    terminalreporter.section("seconds per test file (setup + call + teardown)")
    for path, seconds in sorted(_FILE_SECONDS.items(), key=lambda item: -item[1]):
        terminalreporter.write_line(f"{seconds:7.1f} s  {path}")
    terminalreporter.write_line(f"{sum(_FILE_SECONDS.values()):7.1f} s  in all")
