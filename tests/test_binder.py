"""Binder: the files in binder/ make an environment that runs the notebooks, beside Binder's own Jupyter.

Binder (repo2docker) builds its base environment (base.txt: its JupyterLab, notebook, ipywidgets ...), installs
binder/requirements.txt into it with pip and runs binder/postBuild. This test does the same in a fresh venv: the
base pins, then exactly binder/requirements.txt, then postBuild; `pip check` must be clean, and notebook 01 must
run in it. The installs use uv (cold on a fresh machine: seconds, not the minute pip takes for TensorFlow); the
venv's own pip is the one `python -m venv` would install (ensurepip's wheel), installed by uv too.
What is not simulated: Binder's conda Python and its image build (see instructors.md, "Hosting a class").
"""

from __future__ import annotations

import ensurepip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from test_lock import _pins

import series

BINDER = series.REPO_ROOT / "binder"
UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
PIP_WHEEL = next((Path(ensurepip.__file__).parent / "_bundled").glob("pip-*.whl"), None)  # what venv installs


def test_binder_files_are_in_step() -> None:
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    post_build = BINDER / "postBuild"
    assert os.access(post_build, os.X_OK) and post_build.read_text().count("set -euo pipefail") == 1
    wanted, runtime = _pins("requirements.txt"), _pins("binder/requirements.in")
    for name, versions in runtime.items():
        listed = sorted(wanted.get(name, []))
        assert wanted.get(name) == versions, f"{name}: {sorted(versions)} for Binder, {listed} in requirements.txt"
    locked, base = _pins("binder/requirements.txt"), _pins("binder/base.txt")
    for name, versions in runtime.items():
        assert locked.get(name) == versions, f"{name} is not locked at {sorted(versions)} for Binder"
    for name, versions in locked.items():
        if name in base:
            assert versions == base[name], f"{name}: the Binder lock would change Binder's own {sorted(base[name])}"
    development = {"sphinx", "selenium", "pytest", "papermill", "jupyterlab"}
    assert not development & set(locked), "Binder's lock is for run time"


@pytest.mark.skipif(
    sys.platform == "win32" or UV is None, reason="needs bash and uv (installed from requirements.lock)"
)
def test_a_binder_environment_runs_notebook_01(tmp_path: Path) -> None:
    venv = tmp_path / "binder-venv"
    python = venv / "bin" / "python"
    # A venv, and its pip: ensurepip's wheel through uv (seconds faster than `python -m venv` installing it).
    subprocess.run([sys.executable, "-m", "venv", *(["--without-pip"] if PIP_WHEEL else []), venv], check=True)
    own_pip = [PIP_WHEEL] if PIP_WHEEL else []
    for requirements in ("base.txt", "requirements.txt"):  # Binder's base first, then what Binder installs
        subprocess.run(
            [
                UV,
                "pip",
                "install",
                "--quiet",
                "--link-mode",
                "symlink",
                "--python",
                python,
                "-r",
                BINDER / requirements,
                *own_pip,
            ],
            check=True,
        )  # symlinks into uv's cache: no copies
        own_pip = []
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": str(venv)}
    env.pop("PYTHONPATH", None)
    subprocess.run(["bash", BINDER / "postBuild"], cwd=series.REPO_ROOT, env=env, check=True, capture_output=True)
    overrides = venv / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert '"fetchNews": "false"' in overrides.read_text()

    # `pip check` while the notebook runs: neither changes the environment.
    check = subprocess.Popen(
        [python, "-m", "pip", "check"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    output = tmp_path / "01.ipynb"
    run = subprocess.run(
        [
            python,
            "-m",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            series.notebook("01"),
            "--output",
            output,
            "--ExecutePreprocessor.kernel_name=python3",
            "--ExecutePreprocessor.timeout=600",
        ],
        cwd=series.NOTEBOOKS_DIR,
        env={**env, "MNIST_TUTORIAL_OUTPUT": str(tmp_path / "out")},
        capture_output=True,
        text=True,
    )
    checked = check.communicate(timeout=300)[0]
    assert check.returncode == 0, checked
    assert run.returncode == 0, run.stderr[-3000:]
    executed = nbformat.read(output, as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    text = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert "TensorFlow 2.21.0 with Keras 3.15.1" in text
