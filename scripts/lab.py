"""Start JupyterLab for learners: from this project's environment, at notebook 00, with no pop-ups.

    make lab                              (or: .venv/bin/python scripts/lab.py)
    .venv\\Scripts\\python scripts\\lab.py   (Windows, PowerShell)
    python scripts/lab.py --settings-only  (write the settings into this Python's environment and stop: Binder)

On its first start JupyterLab asks whether to fetch Jupyter's news, and it checks for updates: neither belongs in
a classroom (nor offline). The settings that turn both off go into this environment's own JupyterLab settings
(`overrides.json` under the virtual environment), never into the learner's home folder; outside a virtual
environment nothing is written and only the command-line switches apply. Extra arguments go to `jupyter lab`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import series

OVERRIDES = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}
SWITCHES = ["--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]


def write_overrides(prefix: Path) -> Path:
    """Merge OVERRIDES into the environment's JupyterLab overrides.json (other settings there are kept)."""
    path = prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    current = json.loads(path.read_text()) if path.exists() else {}
    merged = {**current, **{name: {**current.get(name, {}), **values} for name, values in OVERRIDES.items()}}
    if merged != current:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(merged, indent=2) + "\n")
    return path


def command(extra: list[str]) -> list[str]:
    """jupyter lab, at the series' first notebook, served from the repository root; `extra` may override both."""
    first = series.notebook("00").relative_to(series.REPO_ROOT).as_posix()
    defaults = [f"--ServerApp.root_dir={series.REPO_ROOT}", f"--LabApp.default_url=/lab/tree/{first}"]
    given = {arg.split("=", 1)[0] for arg in extra}
    return [
        sys.executable,
        "-m",
        "jupyterlab",
        *SWITCHES,
        *(d for d in defaults if d.split("=", 1)[0] not in given),
        *extra,
    ]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--settings-only"]:  # an environment made for the series (Binder's postBuild): settings only
        print("JupyterLab settings written to", write_overrides(Path(sys.prefix)))
        return 0
    if sys.prefix != sys.base_prefix:  # a virtual environment: its settings are the project's own
        write_overrides(Path(sys.prefix))
    else:
        print("Not in a virtual environment: starting JupyterLab without writing its settings (see the README).")
    try:
        # the environment's programs first on the PATH, as if it were activated: %tensorboard (notebook 05) finds
        # its own
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        return subprocess.call(command(argv), cwd=series.REPO_ROOT, env={**os.environ, "PATH": path})
    except KeyboardInterrupt:  # Ctrl-C: JupyterLab shuts its kernels down itself
        return 130


if __name__ == "__main__":
    sys.exit(main())
