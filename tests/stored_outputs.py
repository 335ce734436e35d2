"""nbval's rules for a notebook that ran elsewhere: does a fresh execution show what the committed notebook stores?

The suite executes each notebook once (tests/test_notebooks.py); this module compares that execution's outputs with
the committed ones, cell by cell (matched by cell id), with nbval's own rules: its stream coalescing, the
regular-expression masks of tests/nbval_sanitize.cfg, the same output keys left out (images, rich HTML, JavaScript,
stderr, metadata) and the cells tagged `nbval-ignore-output` or `nbval-skip` not compared.
"""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from typing import Any

from nbval.plugin import coalesce_streams, get_sanitize_patterns, transform_streams_for_comparison

import series

SANITIZE = series.REPO_ROOT / "tests" / "nbval_sanitize.cfg"
PATTERNS = get_sanitize_patterns(SANITIZE.read_text())
# nbval's own skips (without --nbdime), and what conftest.py used to add: rich HTML may differ by library version,
# TensorFlow may log to stderr on any machine (a stored stderr output fails test_notebook_conventions instead).
SKIPPED_KEYS = frozenset({
    "metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
    "application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg", "text/html", "application/javascript",
    "stderr",
})  # fmt: skip
UNCOMPARED_TAGS = frozenset({"nbval-ignore-output", "nbval-skip"})


def sanitize(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    for regex, replace in PATTERNS:
        value = re.sub(regex, replace, value)
    return value


def flatten(outputs: list[Any]) -> dict[str, list[Any]]:
    """A cell's outputs as nbval compares them: every key (MIME types flattened out of `data`) with its values."""
    found: dict[str, list[Any]] = defaultdict(list)
    for output in transform_streams_for_comparison(coalesce_streams(copy.deepcopy(outputs))):
        for key, value in output.items():
            if key == "data":
                for mime, data in value.items():
                    if mime not in SKIPPED_KEYS:
                        found[mime].append(sanitize(data))
            elif key not in SKIPPED_KEYS:
                found[key].append(sanitize(value))
    return dict(found)


def compared(cell: Any) -> bool:
    """Whether nbval compares this cell's outputs."""
    return cell.cell_type == "code" and not UNCOMPARED_TAGS & set(cell.metadata.get("tags", []))


def differences(stored: Any, executed: Any, skip: frozenset[str] = frozenset()) -> list[str]:
    """Where the executed notebook shows other outputs than the stored one (both nbformat notebooks), one line per
    cell; the cells whose ids are in `skip` are not compared. Cells the execution added (injected parameters, the
    exercise proofs) are ignored; a stored code cell missing from the execution is a difference."""
    ran = {cell.get("id"): cell for cell in executed.cells}
    found = []
    for cell in stored.cells:
        if not compared(cell) or cell.get("id") in skip:
            continue
        fresh = ran.get(cell.get("id"))
        if fresh is None:
            found.append(f"cell {cell.get('id')}: not in the executed notebook")
            continue
        want, got = flatten(cell.outputs), flatten(fresh.outputs)
        if want != got:
            first = cell.source.splitlines()[0][:60] if cell.source else ""
            found.append(f"cell {cell.get('id')} ({first!r}): stored {_short(want)} but ran {_short(got)}")
    return found


def _short(outputs: dict[str, list[Any]]) -> str:
    text = repr(outputs)
    return text if len(text) <= 600 else text[:600] + "..."
