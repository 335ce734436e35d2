"""Install what this environment lacks of what the notebooks need at run time (binder/requirements.in).

    python scripts/install_missing.py             # install the missing packages, at the series' versions
    python scripts/install_missing.py --dry-run   # only say what is missing

The notebooks' Colab step runs it after fetching the series, outside a clone of it (Colab, a notebook downloaded on
its own). A package that is there already is left as it is, whatever its version: Colab's own TensorFlow and
widgets are kept, and only what is missing (on Colab, ipycanvas) is installed, pinned as in the series. It prints
one line for what it installs and, if pip fails, one line on stderr saying why (exit status 1).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import series  # scripts/series.py, beside this script: it reads the pins

RUNTIME = series.REPO_ROOT / "binder" / "requirements.in"


def needed(path: Path = RUNTIME) -> list[tuple[str, str]]:
    """(name, version) of every package pinned in `path` for this environment (series.pins)."""
    return list(series.pins(path).items())


def missing(pins: list[tuple[str, str]]) -> list[str]:
    """`name==version` of each pin whose package is not installed here (any version counts as installed)."""
    lacking = []
    for name, version in pins:
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            lacking.append(f"{name}=={version}")
    return lacking


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="say what is missing, install nothing")
    parser.add_argument("--requirements", type=Path, default=RUNTIME, help="the pins to check (default: %(default)s)")
    args = parser.parse_args(argv)
    lacking = missing(needed(args.requirements))
    if not lacking:
        return 0
    print(("Missing here: " if args.dry_run else "Installing what this environment lacks: ") + " ".join(lacking))
    if args.dry_run:
        return 0
    pip = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", *lacking]
    done = subprocess.run(pip, capture_output=True, text=True)
    if done.returncode:
        errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR:")]
        reason = (errors or done.stderr.strip().splitlines() or ["pip failed"])[-1]
        print(f"Could not install {' '.join(lacking)}: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
