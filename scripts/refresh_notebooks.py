"""Re-execute the committed notebooks in place, top to bottom in a fresh kernel, to refresh their stored outputs.

For maintainers, after editing a notebook: `make refresh` (or `python scripts/refresh_notebooks.py 05 06`).
Outputs are stored exactly as a learner sees them after "Restart & Run All"; the figures in assets/ are
rewritten by the notebooks themselves. Unlike papermill, this adds no execution metadata to the notebooks.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO_ROOT / "notebooks"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="notebook name prefixes to refresh (default: all)")
    parser.add_argument("--cell-timeout", type=int, default=1800)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.pop("MNIST_TUTORIAL_OUTPUT", None)  # the committed figures belong in assets/
    import nbformat
    from nbclient import NotebookClient

    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        paths = [p for p in paths if any(p.name.startswith(prefix) for prefix in args.only)]
    for path in paths:
        start = time.perf_counter()
        notebook = nbformat.read(path, as_version=4)
        client = NotebookClient(
            notebook, kernel_name="python3", timeout=args.cell_timeout, resources={"metadata": {"path": str(NOTEBOOKS)}}
        )
        client.execute()
        for cell in notebook.cells:
            cell.get("metadata", {}).pop("execution", None)  # nbclient's timestamps change every run
        notebook.metadata.pop("widgets", None)
        nbformat.write(notebook, path)
        print(f"{path.name}: refreshed in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
