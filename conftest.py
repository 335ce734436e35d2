"""Test configuration: nothing the tests run may write into the repository."""

from __future__ import annotations

import os
import tempfile

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Send everything the series writes (models, figures) to a temporary folder for this run."""
    # Set before any notebook kernel starts, so the kernels the tests start inherit it.
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


# ------------------------------------------------------------------------------------------- the suite's budget
# `make test` must stay within 15 minutes on an AVX2-only 2-core machine and 7 on an AVX-512 one (CONTRIBUTING.md,
# "The test suite and its budget"). Every run ends with the time each test file took, so that a file that grows
# shows at once.
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
