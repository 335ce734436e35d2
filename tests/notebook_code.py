"""How the tests reach code that lives in a notebook: its imports, constants and functions, without running it.

The lesson's code stays in its notebook (08's digit preparation, for example), and the tests call that very code:
`definitions("08")` executes, in one fresh namespace, every top-level `import`, every assignment to an UPPER_CASE
name and every `def` of the notebook's code cells, in order (solutions excluded), and nothing else: no training, no
figures. Functions that use a notebook variable (a trained `model`, say) take it from `given`, which wins over the
notebook's own values. (The cells must be plain Python: no IPython magics, which the series does not use.)
"""

import ast
from types import SimpleNamespace
from typing import Any

import nbformat

import series

KEPT = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)


def _kept(node: ast.stmt) -> bool:
    if isinstance(node, KEPT):
        return True
    return isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets)


def definitions(prefix: str, **given: Any) -> SimpleNamespace:
    """The imports, UPPER_CASE constants and functions of the series' notebook `prefix`, with `given` added."""
    path = series.notebook(prefix)
    notebook = nbformat.read(path, as_version=4)
    namespace: dict[str, Any] = {"__name__": f"notebook_{path.stem}"}
    for cell in notebook.cells:
        if cell.cell_type != "code" or "solution" in cell.metadata.get("tags", []) or series.is_colab_cell(cell):
            continue
        tree = ast.parse(cell.source)
        kept = ast.Module(body=[node for node in tree.body if _kept(node)], type_ignores=[])
        exec(compile(kept, f"{path.name}, cell {cell.get('id')}", "exec"), namespace)  # noqa: S102
        namespace.update(given)  # what the caller gives wins over the notebook's own values
    return SimpleNamespace(**namespace)
