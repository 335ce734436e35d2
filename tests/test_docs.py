"""The series' website: Sphinx builds it offline with -W, and headless Chromium checks every page.

The site is built from the notebooks' stored outputs into a temporary folder (a few seconds); set
MNIST_DOCS_HTML=build/docs/html to check a site built beforehand (`make docs`, `make docs EXECUTE=1`) instead.
The browser is Debian's chromium driven by selenium through /usr/bin/chromedriver, never a downloaded one. Where
it is missing the browser tests are skipped with the reason, except in CI (CI=true), where they fail. Each page is
loaded once, and every check of that page runs on that load. What the HTML files show as well as a browser (stderr,
remote assets, alternative texts, launch buttons, glossary links) is read from the files. Screenshots of the
landing page, a notebook's page, the samples figure, the model summaries, the launch menu and the dark theme go to
build/screenshots/docs/ (git-ignored): look at them.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from alt_text import alt_text_problem
from browser import console_errors, network_log, start_chromium, stop_chromium

import series

REPO = series.REPO_ROOT
SCREENSHOTS = Path(os.environ.get("MNIST_SCREENSHOTS", REPO / "build" / "screenshots")) / "docs"
NOTEBOOKS = list(series.NOTEBOOK_NAMES)
SAMPLES_FIGURE = REPO / "assets" / "mnist_10_examples.png"
# Pages that must show a Keras model summary, and the page that must show the ten-samples figure.
SUMMARY_PAGES = [series.notebook(prefix).stem for prefix in ("04", "05")]
FIGURE_PAGE = series.notebook("02").stem
PREBUILT = os.environ.get("MNIST_DOCS_HTML")


# --------------------------------------------------------------------------------------------------------------
# Build


# The site is built as if published (launch buttons need a repository): the publishing settings, as
# scripts/publish.py would write them, given through the environment variables that override them.
PUBLISHED = {
    "MNIST_TUTORIAL_REPO": "https://github.com/example-org/mnist-tf-tutorial",
    "MNIST_TUTORIAL_REF": "v2.0",
    "MNIST_TUTORIAL_HUB": "https://hub.example.edu",
}


def build_site(
    outdir: Path, execute: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """sphinx-build -n -W --keep-going, as `make docs` runs it; returns the finished process."""
    command = [
        sys.executable, "-m", "sphinx", "-b", "html", "-n", "-W", "--keep-going", "-E", "-q",
        "-d", str(outdir / "doctrees"),
        "-D", f"nb_execution_mode={'force' if execute else 'off'}",
        str(REPO), str(outdir / "html"),
    ]  # fmt: skip
    return subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=1800, env={**os.environ, **(env or {})}
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built site's HTML folder: MNIST_DOCS_HTML, or a fresh build from the stored outputs."""
    if PREBUILT:
        html = Path(PREBUILT).resolve()
        assert (html / "index.html").is_file(), f"MNIST_DOCS_HTML={PREBUILT}: no index.html there"
        return html
    outdir = tmp_path_factory.mktemp("docs")
    result = build_site(outdir, env=PUBLISHED)
    assert result.returncode == 0, f"sphinx-build failed:\n{result.stdout}\n{result.stderr}"
    return outdir / "html"


def page_path(site: Path, name: str) -> Path:
    return site / "index.html" if name == "index" else site / "notebooks" / f"{name}.html"


def test_series_is_there() -> None:
    assert REPO.joinpath("index.md").is_file(), "index.md, the landing page, is missing"
    assert len(NOTEBOOKS) >= 2, f"expected the numbered notebooks in notebooks/, found {NOTEBOOKS}"


def test_site_builds_with_every_page(site: Path) -> None:
    for name in ["index", *NOTEBOOKS]:
        assert page_path(site, name).is_file(), f"{name}: no page in the built site"
    assert not (site / "README.html").exists(), "README.md is rendered as a page; it should only be linked"


def all_pages(site: Path) -> list[Path]:
    """Every HTML page of the site: the top level (index, instructor notes, search...) and the notebooks."""
    return sorted([*site.glob("*.html"), *site.glob("notebooks/*.html")])


def test_pages_have_no_stderr_and_no_remote_assets(site: Path) -> None:
    """The suite's one check of stderr on the site: no page shows a stderr output (conf.py drops them, -W fails the
    build on them; this catches a setting that lets one through), nor a traceback, nor loads anything remote."""
    remote = re.compile(r"""<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)=["'](?:https?:)?//""", re.I)
    stderr = re.compile(r"""\bclass=["'][^"']*\bstderr\b""")
    for page in all_pages(site):
        name = page.relative_to(site).as_posix()
        html = page.read_text(encoding="utf-8")
        assert not stderr.search(html), f"{name}: a stderr output is on the page"
        assert not remote.search(html), f"{name}: loads {remote.search(html).group(0)}..."  # type: ignore[union-attr]
        assert "Traceback (most recent call last)" not in html, f"{name}: a traceback is on the page"


def test_the_colab_step_is_left_off_the_site(site: Path) -> None:
    """The Colab step (every notebook's first code cell, tagged remove-input) is plumbing: no page shows its code,
    while the lesson's own first code cell, the setup, is shown."""
    for name in NOTEBOOKS:
        html = (site / "notebooks" / f"{name}.html").read_text(encoding="utf-8")
        text = re.sub(r"<[^>]+>", "", html)  # the page's text, without the highlighting's tags
        assert "SetupStopped" not in text and "MNIST_TUTORIAL_REPO" not in text, f"{name}: the Colab step is shown"
        assert "helpers.setup(SEED)" in text, f"{name}: the lesson's setup cell is not shown"


def test_every_image_has_real_alternative_text(site: Path) -> None:
    """What a screen reader reads out for every <img> of the site, whatever it comes from (a notebook's figure, a
    Markdown page's image): never a missing alt, an empty one, a file name such as 37f8...png, or a short one
    (alt_text.py: the rule tests/test_notebooks.py applies to the notebooks' figure metadata)."""
    images = 0
    for page in all_pages(site):
        name = page.relative_to(site).as_posix()
        for tag in re.findall(r"<img\b[^>]*>", page.read_text(encoding="utf-8")):
            if re.search(r"""\bclass=["'][^"']*\blogo\b""", tag):
                continue  # the theme's logo, if any, is named by its link
            if re.search(r"""\bsrc=["'][^"']*_static/images/logo_\w+\.(svg|png)["']""", tag):
                continue  # a launch button's icon ("Binder logo"), beside the button's name
            images += 1
            alt = re.search(r"""\balt=(["'])(.*?)\1""", tag, re.S)
            problem = alt_text_problem(alt.group(2) if alt else None)
            assert problem is None, f"{name}: {problem}: {tag[:160]}"
    assert images >= 9, f"expected the series' figures on the site, found {images} images"


class _Links(HTMLParser):
    """The href of every <a> of a page, as written (entities decoded)."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def test_every_notebook_page_has_launch_buttons_and_a_download(site: Path) -> None:
    """Binder, Colab and JupyterHub links built from the publishing settings, and the .ipynb itself (the theme
    writes them into the HTML; the browser test opens the launch menu once and takes its picture)."""
    if PREBUILT:
        pytest.skip("a prebuilt site may not be built as published")
    repo, ref, hub = (PUBLISHED[name] for name in ("MNIST_TUTORIAL_REPO", "MNIST_TUTORIAL_REF", "MNIST_TUTORIAL_HUB"))
    binder = "https://mybinder.org/v2/gh/example-org/mnist-tf-tutorial"
    colab = "https://colab.research.google.com/github/example-org/mnist-tf-tutorial"
    for name in NOTEBOOKS:
        path = page_path(site, name)
        parser = _Links()
        parser.feed(path.read_text(encoding="utf-8"))
        hrefs = set(parser.hrefs)
        notebook = f"notebooks/{name}.ipynb"
        assert f"{binder}/{ref}?urlpath=lab/tree/{notebook}" in hrefs, name
        assert f"{colab}/blob/{ref}/{notebook}" in hrefs, name
        puller = [h for h in hrefs if h.startswith(f"{hub}/hub/user-redirect/git-pull?")]
        assert puller and f"urlpath=lab/tree/mnist-tf-tutorial/{notebook}" in puller[0], name
        assert f"branch={ref}" in puller[0] and "repo=https%3A//github.com/example-org/mnist-tf-tutorial" in puller[0]
        assert repo.split("/")[-1] in puller[0]
        download = [h for h in hrefs if h.endswith(f"_sources/{notebook}")]
        assert download and (path.parent / download[0]).resolve().is_file(), f"{name}: no .ipynb download"


# --------------------------------------------------------------------------------------------------------------
# Browser


def save_screenshot(driver, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    assert driver.save_screenshot(str(path)), f"could not save {path}"
    return path


@pytest.fixture(scope="module")
def browser(site: Path):
    driver = start_chromium()
    try:
        # Belt and braces: a request that tries to leave file:// is blocked (and still logged, so it fails a test).
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*", "ws://*", "wss://*"]})
        yield driver
    finally:
        stop_chromium(driver)


def url_path(url: str) -> Path:
    parsed = urlparse(url)
    assert parsed.scheme == "file", f"left the site: {url}"
    return Path(unquote(parsed.path)).resolve()


WAIT_FOR_PAGE = """
const done = arguments[arguments.length - 1];
(async () => {
  for (const img of document.images) { img.loading = "eager"; }
  const deadline = Date.now() + 15000;
  while ([...document.images].some(img => !img.complete) && Date.now() < deadline) {
    await new Promise(r => setTimeout(r, 50));
  }
  await document.fonts.ready;
})().then(() => done(null), error => done(String(error)));
"""


def open_page(driver, path: Path) -> None:
    driver.get(path.as_uri())
    error = driver.execute_async_script(WAIT_FOR_PAGE)
    assert error is None, f"{path.name}: {error}"


def show(driver, element) -> None:
    """Scroll `element` to the middle of the window at once (the theme scrolls smoothly otherwise)."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", element)


# What check_page reads from a loaded page, in one call.
PAGE_STATE = """
const style = getComputedStyle(document.documentElement);
return {
  broken: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
  math: document.querySelectorAll('span.math, div.math').length,
  sidebar: document.querySelectorAll('.bd-sidebar-primary').length > 0,
  primary: style.getPropertyValue('--pst-color-primary').trim(),
  heading: document.querySelectorAll('article h1').length > 0,
};
"""


def check_page(driver, name: str, path: Path) -> None:
    """Load the page: every image loaded, no request left file://, nothing failed to load, no JavaScript error, no
    formula (MathJax would come from a CDN), the theme's title, sidebar, CSS and a heading."""
    network_log(driver), console_errors(driver)  # what came before this page
    open_page(driver, path)
    state = driver.execute_script(PAGE_STATE)
    assert not state["broken"], f"{name}: images that did not load: {state['broken']}"
    network = network_log(driver)
    assert not network.leaving(), f"{name}: requests that leave file://: {network.leaving()}"
    assert not network.failed, f"{name}: requests that failed: {network.failed}"
    errors = console_errors(driver)
    assert not errors, f"{name}: errors in the browser console: {errors}"
    math = state["math"]
    assert not math, f"{name}: {math} formulas: no MathJax on the site (it would come from a CDN); write them as text"
    title = driver.title
    assert title and "<no title>" not in title, f"{name}: page title {title!r}"
    assert state["sidebar"], f"{name}: the theme's sidebar is missing"
    assert state["primary"], f"{name}: the theme's CSS did not load (no --pst-color-primary)"
    assert state["heading"], f"{name}: no title (h1) in the article"


# The page's own links whose text starts with each of arguments[0] (not the theme's previous/next footer: the first
# such link, or the last for "Next"), each with its target and whether a click would reach it, as Selenium's click
# checks: shown, and on top at its middle. Then the footer's next link.
LINKS = """
const found = {};
for (const text of arguments[0]) {
  const links = [...document.querySelectorAll('article.bd-article a')]
    .filter(a => !a.closest('.prev-next-area') && a.textContent.trim().startsWith(text));
  if (!links.length) { found[text] = null; continue; }
  const link = text.startsWith('Next') ? links[links.length - 1] : links[0];
  link.scrollIntoView({block: 'center', behavior: 'instant'});
  const box = link.getClientRects()[0];
  let covered = 'not shown';
  if (box && box.width > 0 && box.height > 0) {
    const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
    const onTop = hit && (link === hit || link.contains(hit));
    covered = onTop ? null : 'covered by ' + (hit ? hit.outerHTML.slice(0, 160) : 'nothing');
  }
  found[text] = {href: link.href, covered: covered};
}
const footer = document.querySelector('.prev-next-area a.right-next');
return {links: found, footer: footer ? footer.href : null};
"""


def page_links(driver, name: str, *texts: str) -> tuple[dict[str, Path], Path | None]:
    """Where the page's own links that start with `texts` lead, once it is known that a click would reach each (the
    target is what a click loads), and where the theme's footer 'next' link leads."""
    found = driver.execute_script(LINKS, list(texts))
    targets = {}
    for text, link in found["links"].items():
        assert link, f"{name}: no link starting with {text!r}"
        assert link["covered"] is None, f"{name}: the link {text!r} cannot be clicked: {link['covered']}"
        targets[text] = url_path(link["href"])
    return targets, url_path(found["footer"]) if found["footer"] else None


def check_index_links(driver, site: Path) -> None:
    """The landing page links every notebook in order, as its sidebar does; its footer leads to notebook 00; the
    README link leads to the file. (That each row gives the notebook's minutes: tests/test_notebooks.py.)"""
    hrefs = driver.execute_script("return [...document.querySelectorAll('article a')].map(a => a.href)")
    pages = [url_path(href) for href in hrefs if href.startswith("file:") and href.split("#")[0].endswith(".html")]
    notebook_pages = [page_path(site, name).resolve() for name in NOTEBOOKS]
    linked = [page for page in pages if page in notebook_pages]
    in_order = sorted(set(linked), key=linked.index)
    assert in_order == notebook_pages, f"index.md links the notebooks {in_order}, not {notebook_pages} in order"
    navigation = driver.execute_script(
        "return [...document.querySelectorAll('.bd-sidebar-primary nav a.reference.internal')].map(a => a.href)"
    )
    in_sidebar = [url_path(href) for href in navigation if url_path(href) in notebook_pages]
    assert in_sidebar == notebook_pages, "the sidebar does not list the notebooks in order"
    assert page_links(driver, "index")[1] == notebook_pages[0], "index: the footer's next link"
    readme = [href for href in hrefs if href.split("#")[0].endswith("README.md")]
    assert readme, "index: no link to the README"
    for href in readme:
        assert url_path(href).is_file(), f"index: the README link {href} leads nowhere"


def check_back_and_next_links(driver, site: Path, name: str) -> None:
    """'Back to index' leads to the landing page; 'Next: ...' and the theme's footer to the next notebook (whose own
    page check shows it loads, with a title). Each link is checked where it is: shown, and not covered."""
    position = NOTEBOOKS.index(name)
    last = position + 1 == len(NOTEBOOKS)
    links, footer = page_links(driver, name, "Back to index", *([] if last else ["Next:"]))
    landed = links["Back to index"]
    assert landed == (site / "index.html").resolve(), f"{name}: 'Back to index' leads to {landed}"
    if not last:
        expected = page_path(site, NOTEBOOKS[position + 1]).resolve()
        assert links["Next:"] == expected, f"{name}: 'Next' leads to {links['Next:']}, not {expected}"
        assert footer == expected, f"{name}: the footer's next link leads to {footer}, not {expected}"


def _png_size(path: Path) -> tuple[int, int]:
    with open(path, "rb") as f:
        header = f.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


def check_samples_figure(driver, name: str) -> None:
    """Notebook 02 shows the ten-samples figure: the file in assets/, or a plot of the same size."""
    images = driver.execute_script(
        "return [...document.querySelectorAll('article img')].map((img, i) => "
        "[i, img.src, img.naturalWidth, img.naturalHeight, img.getBoundingClientRect().width])"
    )
    expected = _png_size(SAMPLES_FIGURE) if SAMPLES_FIGURE.is_file() else None

    def is_samples(src: str, width: int, height: int) -> bool:
        if src.endswith("/" + SAMPLES_FIGURE.name):
            return True
        if expected:
            return abs(width - expected[0]) <= 4 and abs(height - expected[1]) <= 4
        return width >= 500 and 1.8 <= width / max(height, 1) <= 3.2  # a 2 x 5 grid of digits

    found = [image for image in images if is_samples(*image[1:4])]
    assert found, f"{name}: no ten-samples figure among the images {images}"
    index, src, width, height, shown = found[0]
    assert width > 0 and shown > 200, f"{name}: the figure {src} is not shown ({width}px, shown {shown}px)"
    show(driver, driver.find_elements("css selector", "article img")[index])
    save_screenshot(driver, f"{name}-figure")


# Keras' model.summary() outputs on the page (a rich table: HTML with <pre>), whether each is shown and is the rich
# rendering, and whether the article gives the parameter counts.
SUMMARIES = """
const tables = [...document.querySelectorAll('.cell_output')]
  .filter(e => e.innerText.includes('Layer (type)') && e.innerText.includes('Param #'));
return {
  tables: tables,
  shown: tables.map(e => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden'),
  rich: tables.map(e => e.querySelectorAll('pre').length > 0),
  total: document.querySelector('article').innerText.includes('Total params'),
};
"""


def check_model_summary(driver, name: str) -> None:
    """Keras 3's model.summary() (a rich table, stored as HTML) is on the page, with its parameter counts."""
    found = driver.execute_script(SUMMARIES)
    assert found["tables"], f"{name}: no model.summary() table on the page"
    assert found["shown"][0], f"{name}: the model.summary() table is not shown"
    assert found["rich"][0], f"{name}: the summary is not the rich HTML rendering"
    assert found["total"], f"{name}: no 'Total params' on the page"
    show(driver, found["tables"][0])
    save_screenshot(driver, f"{name}-summary")


@pytest.mark.parametrize("name", ["index", *NOTEBOOKS])
def test_page_in_browser(browser, site: Path, name: str) -> None:
    """Each page of the series, loaded once: it loads cleanly with the theme (check_page), and its links lead where
    they should; notebook 02 shows the samples figure, 04 and 05 the model summary; the last opens its launch menu."""
    check_page(browser, name, page_path(site, name))
    if name in ("index", NOTEBOOKS[0]):  # the layout, as a reader first sees it (before the checks below scroll)
        save_screenshot(browser, name)
    if name == "index":
        check_index_links(browser, site)
        return
    check_back_and_next_links(browser, site, name)
    if name == FIGURE_PAGE:
        check_samples_figure(browser, name)
    if name in SUMMARY_PAGES:
        check_model_summary(browser, name)
    if name == NOTEBOOKS[-1] and not PREBUILT:  # the launch links themselves: test_every_notebook_page_has_launch...
        menu = browser.find_element("css selector", ".dropdown-launch-buttons button")
        show(browser, menu)
        menu.click()
        save_screenshot(browser, "launch-buttons")


def test_other_pages_in_browser(browser, site: Path) -> None:
    """The site's other pages (the instructor notes...) load as cleanly; Sphinx's search and index pages aside."""
    for path in all_pages(site):
        if path.parent == site and path.stem not in ("index", "genindex", "search", "py-modindex"):
            check_page(browser, path.stem, path)


GLOSSARY_TERMS = [
    "Neuron",
    "Weight",
    "Bias",
    "Activation",
    "ReLU",
    "Softmax",
    "Layer",
    "Dense",
    "Flatten",
    "Convolution",
    "Filter",
    "Feature map",
    "Pooling",
    "Parameter",
    "Loss",
    "Cross-entropy",
    "Optimizer",
    "Gradient descent",
    "Learning rate",
    "Backpropagation",
    "Batch",
    "Epoch",
    "Accuracy",
    "Training, validation and test sets",
    "Over-fitting",
    "Normalization",
    "Augmentation",
    "Label smoothing",
    "Inference",
    "Quantization",
    "TensorBoard",
    "Distributed training",
]


def test_glossary_defines_the_terms_and_the_notebooks_link_to_it(site: Path) -> None:
    source = (REPO / "glossary.md").read_text()
    for term in GLOSSARY_TERMS:
        assert f"\n## {term}\n" in source, f"glossary.md does not define {term!r}"
    html = (site / "glossary.html").read_text(encoding="utf-8")
    anchors = set(re.findall(r'id="([^"]+)"', html))
    linked = set()
    for name in NOTEBOOKS:
        page = page_path(site, name).read_text(encoding="utf-8")
        for anchor in re.findall(r'href="\.\./glossary\.html#([^"]+)"', page):
            assert anchor in anchors, f"{name} links to glossary#{anchor}, which does not exist"
            linked.add(anchor)
    assert len(linked) >= 15, f"the notebooks link only {sorted(linked)} of the glossary"
    assert 'href="glossary.html"' in page_path(site, "index").read_text(encoding="utf-8")


def test_setup_page_is_on_the_site_and_linked(site: Path) -> None:
    """setup.md: one page for Windows, macOS and Linux, linked from the landing page (and the README)."""
    import html as html_module

    html = html_module.unescape(re.sub(r"<[^>]+>", "", (site / "setup.html").read_text(encoding="utf-8")))
    for needle in (
        "PowerShell",
        r".venv\Scripts\python scripts\lab.py",
        ".venv/bin/python scripts/run_series.py",
        "wheel for Intel Macs",
        "Not tested here",
    ):
        assert needle in html, f"setup page lacks {needle!r}"
    assert 'href="setup.html"' in page_path(site, "index").read_text(encoding="utf-8")
    assert "](setup.md)" in (REPO / "README.md").read_text()
    assert (site / "before-the-workshop.html").is_file(), "the learners' page for before a workshop is not built"
    for page in ("index.html", "setup.html"):
        assert 'href="before-the-workshop.html"' in (site / page).read_text(encoding="utf-8"), page


def test_no_launch_buttons_until_the_series_is_published(tmp_path: Path) -> None:
    """Unpublished (no repository URL), the site has no launch buttons; the settings are series.py's."""
    env = {name: value for name, value in os.environ.items() if name not in PUBLISHED}
    result = subprocess.run(
        [sys.executable, "-c", "import conf, json; print(json.dumps(conf.html_theme_options['launch_buttons']))"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {}


def _opaque(path: Path) -> bool:
    from PIL import Image

    with Image.open(path) as image:
        if "A" not in image.getbands() and "transparency" not in image.info:
            return True
        return image.convert("RGBA").getchannel("A").getextrema()[0] == 255


def test_figures_are_readable_in_the_dark_theme(browser, site: Path) -> None:
    """No figure is a transparent PNG (it would vanish on the dark background); in Chromium, dark mode shows them."""
    figures = sorted((site / "_images").glob("*.png"))
    assert figures, "no figures on the site"
    transparent = [path.name for path in figures if not _opaque(path)]
    assert not transparent, f"transparent figures, lost on a dark background: {transparent}"

    from PIL import Image

    if not browser.current_url.startswith("file:"):  # localStorage is the site's: set it from one of its pages
        open_page(browser, page_path(site, "index"))
    browser.execute_script("localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark')")
    try:
        open_page(browser, page_path(site, FIGURE_PAGE))
        assert browser.execute_script("return document.documentElement.dataset.theme") == "dark"
        background = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
        channels = [int(v) for v in re.findall(r"\d+", background)[:3]]
        assert max(channels) < 80, f"the dark theme's background is {background}"
        image = browser.find_elements("css selector", "article img")[0]
        show(browser, image)
        shot = save_screenshot(browser, f"{FIGURE_PAGE}-dark")
        left, top, right, bottom, ratio = browser.execute_script(
            "const r = arguments[0].getBoundingClientRect();"
            "return [r.left, r.top, r.right, r.bottom, window.devicePixelRatio]",
            image,
        )
    finally:  # the next page opened is light again, whatever happened
        browser.execute_script("localStorage.setItem('mode', 'light'); localStorage.setItem('theme', 'light')")
    with Image.open(shot) as screen:
        crop = screen.convert("L").crop(tuple(round(v * ratio) for v in (left, top, right, bottom)))
        assert crop.width > 100 and crop.height > 50
        corners = [crop.getpixel((x, y)) for x in (3, crop.width - 4) for y in (3, crop.height - 4)]
    # The figure's margins are white in the file; the dark theme dims images (brightness .8, contrast 1.2) and frames
    # outputs in light grey: the figure must still stand out light from the dark page, not be see-through.
    assert min(corners) > 150 and min(corners) - max(channels) > 100, f"figure corners {corners} on a {background} page"
