"""A Sphinx extension of the series' website (conf.py): links to repository files that are not pages.

MyST turns `[README](README.md)` into a link to the document "README", which is deliberately not part of the site:
the README is linked, not rendered as a second landing page. `RepositoryFileLinks` runs just before MyST resolves
links (priority 9) and points such a link at the file itself, which is copied into the site at the same relative
path when the build finishes, so the link works alike on the site, on GitHub and in JupyterLab. A link to a file
that exists nowhere is left alone, for MyST to report (and -W to fail on).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.osutil import relative_uri


class RepositoryFileLinks(SphinxPostTransform):
    default_priority = 8
    formats = ("html",)

    def run(self, **kwargs) -> None:
        root = Path(self.app.srcdir)
        for node in list(self.document.findall(addnodes.pending_xref)):
            if node.get("reftype") != "myst" or node.get("refdomain") != "doc":
                continue
            target = node["reftarget"]
            if target in self.env.all_docs or not (root / f"{target}.md").is_file():
                continue
            path = f"{target}.md"
            uri = relative_uri(self.app.builder.get_target_uri(node.get("refdoc", self.env.docname)), path)
            reference = nodes.reference("", "", internal=False, refuri=uri, classes=["repository-file"])
            reference += node[0].deepcopy() if node.get("refexplicit") else nodes.literal(path, path)
            node.replace_self(reference)
            self.app._repository_files.add(path)


def copy_linked_files(app, exception) -> None:
    """Copy the repository files that pages link to into the built site."""
    if exception is not None or app.builder.format != "html":
        return
    for path in sorted(app._repository_files):
        destination = Path(app.outdir) / path
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(app.srcdir) / path, destination)


def setup(app):
    app._repository_files = set()
    app.add_post_transform(RepositoryFileLinks)
    app.connect("build-finished", copy_linked_files)
    return {"parallel_read_safe": True, "parallel_write_safe": False}
