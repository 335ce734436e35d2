"""Test configuration: nothing the tests run may write into the repository."""

from __future__ import annotations

import os
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
