"""Sphinx configuration of the series' website: index.md and the numbered notebooks, built offline.

`make docs` builds it into build/docs/html/ (open build/docs/html/index.html) with `-n -W --keep-going`, so a
broken link, a notebook left out of the toctree or a stderr output fails the build. The pages show the outputs
stored in the notebooks; `make docs EXECUTE=1` (`-D nb_execution_mode=force`) executes every notebook first, and
then a failing notebook fails the build (what the notebooks write goes to build/docs/output/, not into the
repository). Nothing on the pages comes from the network: the theme's assets are in the site's _static/ folder,
and tests/test_docs.py opens every page in headless Chromium and checks that no request leaves file://.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.osutil import relative_uri

ROOT = Path(__file__).resolve().parent
LOGGER = logging.getLogger(__name__)

# -- Project --------------------------------------------------------------------------------------------------------

project = "MNIST with TensorFlow and Keras"  # as the landing page's title
author = "The mnist-tf-tutorial authors"
copyright = f"2026, {author}"
release = "1.0.0"
html_title = "MNIST with TensorFlow: a notebook series"
language = "en"

# -- Sources --------------------------------------------------------------------------------------------------------

extensions = ["myst_nb"]
root_doc = "index"
# The site is the landing page, the numbered notebooks, the instructor notes and the benchmark, nothing else.
# README.md is linked from index.md, not rendered as a second landing page (see RepositoryFileLinks); data/,
# saved_model/, tests/ ... are not pages. A new page must be added here and to the toctree in index.md (-W fails
# the build otherwise).
include_patterns = ["index.md", "setup.md", "glossary.md", "instructors.md", "benchmark.md", "notebooks/[0-9][0-9]_*.ipynb"]
exclude_patterns = [
    ".venv",
    "venv",
    ".git",
    ".ci",
    ".pytest_cache",
    "**/.ipynb_checkpoints",
    "_static",
    "assets",
    "build",
    "data",
    "saved_model",
    "scripts",
    "tests",
    "README.md",
]

# -- MyST and myst-nb -----------------------------------------------------------------------------------------------

myst_enable_extensions = ["dollarmath"]  # $...$ as in JupyterLab (see the MathJax note below)
myst_heading_anchors = 3  # [text](#a-heading) and [text](other.ipynb#a-heading) resolve, as in JupyterLab

# "off": render the outputs stored in the notebooks (fast; what the committed notebooks show).
# "force" (`-D nb_execution_mode=force`, `make docs EXECUTE=1`): execute every notebook, in order, first.
nb_execution_mode = "off"
# A failing notebook is reported as a warning with the failing cell and its traceback (-W: the build fails,
# --keep-going: after every notebook has been tried) rather than as a bare exception naming the notebook.
nb_execution_raise_on_error = False
nb_execution_show_tb = True
nb_execution_timeout = 3600  # seconds per cell: training on a small CPU takes minutes
nb_execution_in_temp = False  # run next to the notebook, as a learner does
nb_merge_streams = True
# Stored outputs must not hold stderr (TensorFlow log lines, warnings): it is dropped from the pages with a
# warning, which -W turns into a build error. When executing, it is dropped silently (TensorFlow's log lines
# differ from machine to machine; the nbval tests watch the notebooks themselves).
nb_output_stderr = "remove-warn"
# Widgets (ipywidgets, ipycanvas) need a running kernel, and myst-nb would load require.js and the widget manager
# from a CDN to draw them: load nothing, and show a widget output as its text/plain form instead of an empty box.
# Tag a widget cell `remove-output` to leave its output off the page altogether (JupyterLab ignores that tag).
nb_ipywidgets_js: dict[str, dict[str, str]] = {}
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]

# -- HTML -----------------------------------------------------------------------------------------------------------

html_theme = "sphinx_book_theme"
html_theme_options = {
    # No repository, issue, edit, source or launch buttons: they point to, or load from, the network.
    "use_repository_button": False,
    "use_issues_button": False,
    "use_edit_page_button": False,
    "use_source_button": False,
    "launch_buttons": {},
    "use_download_button": True,  # the page's .ipynb / .md source, served by the site itself
    "use_fullscreen_button": True,
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "icon_links": [],
    # pydata-sphinx-theme 0.20 adds a top bar with a second search field unless this is set explicitly.
    "navbar_persistent": [],
}
# The theme's light/dark switch starts here (left unset, the theme's script logs an error on every page).
html_context = {"default_mode": "light"}
html_static_path = ["_static"] if (ROOT / "_static").is_dir() else []
html_last_updated_fmt = None
html_permalinks_icon = "#"

# MathJax: Sphinx loads it from a CDN on pages with math. The series has no math, and a page that gets some fails
# the build (see _no_mathjax_from_the_network) unless MathJax is shipped here: unpack `npm pack mathjax@3.2.2` and
# copy its es5/tex-chtml.js, es5/output/chtml/fonts/woff-v2/ and LICENSE into _static/mathjax/ (same layout).
MATHJAX_LOCAL = ROOT / "_static" / "mathjax" / "tex-chtml.js"
if MATHJAX_LOCAL.is_file():
    mathjax_path = "mathjax/tex-chtml.js"


# -- Extensions of this site ----------------------------------------------------------------------------------------


class RepositoryFileLinks(SphinxPostTransform):
    """A link to a repository file that is not a page (README.md, data/README.md) points at a verbatim copy.

    MyST turns `[README](README.md)` into a link to the document "README", which is deliberately not part of the
    site: the README is linked, not rendered as a second landing page. This runs just before MyST resolves links
    (priority 9) and points such a link at the file itself, which _copy_linked_files copies into the site at the
    same relative path, so the link works alike on the site, on GitHub and in JupyterLab. A link to a file that
    exists nowhere is left alone, for MyST to report (and -W to fail on).
    """

    default_priority = 8
    formats = ("html",)

    def run(self, **kwargs) -> None:
        for node in list(self.document.findall(addnodes.pending_xref)):
            if node.get("reftype") != "myst" or node.get("refdomain") != "doc":
                continue
            target = node["reftarget"]
            if target in self.env.all_docs or not (ROOT / f"{target}.md").is_file():
                continue
            path = f"{target}.md"
            fromdoc = node.get("refdoc", self.env.docname)
            uri = relative_uri(self.app.builder.get_target_uri(fromdoc), path)
            reference = nodes.reference("", "", internal=False, refuri=uri, classes=["repository-file"])
            if node.get("refexplicit"):
                reference += node[0].deepcopy()
            else:
                reference += nodes.literal(path, path)
            node.replace_self(reference)
            self.app._mnist_linked_files.add(path)


def _copy_linked_files(app, exception) -> None:
    """Copy the repository files that pages link to (see RepositoryFileLinks) into the built site."""
    if exception is not None or app.builder.format != "html":
        return
    for path in sorted(app._mnist_linked_files):
        destination = Path(app.outdir) / path
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / path, destination)


def _no_mathjax_from_the_network(app, pagename, templatename, context, doctree) -> None:
    """A page with math, and no local MathJax: warn (an error under -W) rather than load MathJax from a CDN."""
    if context.get("has_maths_elements") and not MATHJAX_LOCAL.is_file():
        LOGGER.warning(
            "%s: the page has math, which would load MathJax from %s; ship MathJax in _static/mathjax/ "
            "(see conf.py) or write the formula as text",
            pagename,
            app.config.mathjax_path,
        )


def _execution_setup(app, config) -> None:
    """When the notebooks are executed, keep what they write (models, figures) out of the repository."""
    if config.nb_execution_mode != "off":
        os.environ.setdefault("MNIST_TUTORIAL_OUTPUT", str(Path(app.outdir).parent / "output"))
        # Figures inline, as a learner sees them, whatever MPLBACKEND the shell has.
        os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
        config.nb_output_stderr = "remove"


def setup(app):
    app._mnist_linked_files = set()
    app.add_post_transform(RepositoryFileLinks)
    app.connect("config-inited", _execution_setup, priority=100)
    app.connect("html-page-context", _no_mathjax_from_the_network)
    app.connect("build-finished", _copy_linked_files)
    return {"parallel_read_safe": True, "parallel_write_safe": False}
