"""Re-execute the committed notebooks in place, top to bottom in a fresh kernel, to refresh their stored outputs.

For maintainers, after editing a notebook: `make refresh` (or `python scripts/refresh_notebooks.py 05 06`).
Outputs are stored exactly as a learner sees them after "Restart & Run All"; the figures in assets/ are
rewritten by the notebooks themselves. The run's metadata (timings, papermill's record) is not stored.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import series


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="notebook name prefixes to refresh (default: all)")
    parser.add_argument("--cell-timeout", type=int, default=1800)
    args = parser.parse_args(argv)
    os.environ.pop("MNIST_TUTORIAL_OUTPUT", None)  # the committed figures belong in assets/
    for path in series.select(args.only):
        start = time.perf_counter()
        parameters = {
            name: value for name, value in series.RUN_PARAMETERS.items() if name in series.declared_parameters(path)
        }
        series.execute(path, parameters, path, timeout=args.cell_timeout, clean=True)
        print(f"{path.name}: refreshed in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
