"""Sphinx configuration of the series' website: index.md, the numbered notebooks and a few pages, built offline.

`make docs` builds it into build/docs/html/ with `-n -W --keep-going`, so a broken link, a page left out of the
toctree or a stderr output fails the build. The pages show the outputs stored in the notebooks; `make docs
EXECUTE=1` (`-D nb_execution_mode=force`) executes every notebook first (what they write goes to build/docs/output/).
Nothing on the pages loads from the network (the series has no math, so no MathJax): tests/test_docs.py opens every
page in headless Chromium and checks that no request leaves file://.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "scripts"))
import series  # noqa: E402  (the publishing settings: where the series lives online)

project = "MNIST with TensorFlow and Keras"  # as the landing page's title
author = "The mnist-tf-tutorial authors"
copyright = f"2026, {author}"
# The series' one version label: pyproject.toml's (CITATION.cff and CHANGELOG.md's top entry must match it).
release = version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
html_title = "MNIST with TensorFlow: a notebook series"
language = "en"

# myst_nb renders Markdown and notebooks; sphinx_repository_links (scripts/) makes links to repository files that
# are not pages (README.md, data/README.md) work on the site too.
extensions = ["myst_nb", "sphinx_repository_links"]
root_doc = "index"
# The site: these pages and the numbered notebooks, nothing else. A new page goes here and into index.md's toctree.
include_patterns = [
    "index.md",
    "before-the-workshop.md",
    "setup.md",
    "glossary.md",
    "instructors.md",
    "benchmark.md",
    "notebooks/[0-9][0-9]_*.ipynb",
]
exclude_patterns = ["**/.ipynb_checkpoints", ".git", ".venv", "build"]

myst_heading_anchors = 3  # [text](#a-heading) and [text](other.ipynb#a-heading) resolve, as in JupyterLab

# "off": render the outputs stored in the notebooks. "force" (`make docs EXECUTE=1`): execute them all first; a
# failing notebook is then a warning with its failing cell and traceback (-W fails the build after all were tried).
nb_execution_mode = "off"
nb_execution_raise_on_error = False
nb_execution_show_tb = True
nb_execution_timeout = 3600  # seconds per cell: training on a small CPU takes minutes
nb_execution_in_temp = False  # run next to the notebook, as a learner does
nb_merge_streams = True
# Stored outputs must hold no stderr: it is dropped with a warning, which -W turns into an error. When executing,
# it is dropped silently (TensorFlow's log lines differ from machine to machine).
nb_output_stderr = "remove-warn"
# Widgets need a running kernel, and myst-nb would load their JavaScript from a CDN: load nothing, and show a
# widget output as its text/plain form (tag a widget cell `remove-output` to leave it off the page).
nb_ipywidgets_js: dict[str, dict[str, str]] = {}
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]

# Launch buttons on every notebook page (Binder, Colab, a class's JupyterHub), from the publishing settings
# (scripts/series.py, written by scripts/publish.py; MNIST_TUTORIAL_REPO / _REF / _HUB override them). They are
# plain links, loaded only when clicked. Until the series is published there are none.
REPOSITORY_URL = (os.environ.get("MNIST_TUTORIAL_REPO") or series.REPOSITORY_URL).rstrip("/").removesuffix(".git")
REPOSITORY_REF = os.environ.get("MNIST_TUTORIAL_REF") or series.REPOSITORY_REF
JUPYTERHUB_URL = os.environ.get("MNIST_TUTORIAL_HUB") or series.JUPYTERHUB_URL
# sphinx-book-theme builds launch links for these hosts only (another fails the build); a notebook's Colab step
# fetches from any git URL.
PUBLISHED = (
    re.fullmatch(r"https://(github\.com|gitlab\.com|bitbucket\.org)/[\w.-]+/[\w.-]+", REPOSITORY_URL) is not None
)
LAUNCH_BUTTONS = {
    "notebook_interface": "jupyterlab",
    "binderhub_url": "https://mybinder.org",
    "colab_url": "https://colab.research.google.com" if REPOSITORY_URL.startswith("https://github.com/") else "",
    "jupyterhub_url": JUPYTERHUB_URL,
}

# The licenses, as the footer of every page says them (plain links, loaded only when clicked; README and NOTICE say
# the same): the text and figures CC BY 4.0, figures of MNIST digits CC BY-SA 3.0, the code Apache 2.0.
LICENSE_FOOTER = (
    'Text and figures: <a href="https://creativecommons.org/licenses/by/4.0/">CC BY 4.0</a>; figures that show '
    'MNIST digits: <a href="https://creativecommons.org/licenses/by-sa/3.0/">CC BY-SA 3.0</a>, the data\'s license; '
    'code: <a href="https://www.apache.org/licenses/LICENSE-2.0">Apache 2.0</a>. '
    "The files LICENSE, LICENSE-TEXT and NOTICE of the series say which covers what."
)

html_theme = "sphinx_book_theme"
html_theme_options = {
    "use_repository_button": False,  # no repository, issue, edit or source buttons: they teach nothing
    "use_issues_button": False,
    "use_edit_page_button": False,
    "use_source_button": False,
    "repository_url": REPOSITORY_URL if PUBLISHED else "",
    "repository_branch": REPOSITORY_REF,
    "path_to_docs": "",
    "launch_buttons": LAUNCH_BUTTONS if PUBLISHED else {},
    "use_download_button": True,  # the page's .ipynb / .md source, served by the site itself
    "use_fullscreen_button": True,
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "icon_links": [],
    "navbar_persistent": [],  # pydata-sphinx-theme 0.20 adds a second search field unless this is set
    "extra_footer": LICENSE_FOOTER,  # sphinx-book-theme's footer, under the copyright line, on every page
}
html_context = {"default_mode": "light"}  # the light/dark switch starts here (unset, the theme logs an error)
html_static_path = ["_static"] if (ROOT / "_static").is_dir() else []
html_last_updated_fmt = None
html_permalinks_icon = "#"


def _execution_setup(app, config) -> None:
    """When the notebooks are executed, keep what they write (models, figures) out of the repository."""
    if config.nb_execution_mode != "off":
        os.environ.setdefault("MNIST_TUTORIAL_OUTPUT", str(Path(app.outdir).parent / "output"))
        os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"  # figures inline, as a learner sees
        config.nb_output_stderr = "remove"


def setup(app):
    app.connect("config-inited", _execution_setup, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
