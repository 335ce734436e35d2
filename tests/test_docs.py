"""The series' website: Sphinx builds it offline with -W, and headless Chromium checks every page.

The site is built from the notebooks' stored outputs into a temporary folder (a few seconds); set
MNIST_DOCS_HTML=build/docs/html to check a site built beforehand (`make docs`, `make docs EXECUTE=1`) instead.
The browser is Debian's chromium driven by selenium through /usr/bin/chromedriver, never a downloaded one. Where
it is missing the browser tests are skipped with the reason, except in CI (CI=true), where they fail.
Screenshots of every page go to build/screenshots/docs/ (git-ignored): look at them.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import series
from browser import start_chromium, stop_chromium

REPO = series.REPO_ROOT
SCREENSHOTS = Path(os.environ.get("MNIST_SCREENSHOTS", REPO / "build" / "screenshots")) / "docs"
NOTEBOOKS = list(series.NOTEBOOK_NAMES)
SAMPLES_FIGURE = REPO / "assets" / "mnist_10_examples.png"
# Pages that must show a Keras model summary, and the page that must show the ten-samples figure.
SUMMARY_PAGES = [name for name in NOTEBOOKS if name.startswith(("04_", "05_"))]
FIGURE_PAGE = next((name for name in NOTEBOOKS if name.startswith("02_")), None)
WINDOW = (1280, 1000)
LOCAL_SCHEMES = ("file", "data", "blob", "about", "chrome-error")


# --------------------------------------------------------------------------------------------------------------
# Build


# The site is built as if published (launch buttons need a repository): the publishing settings, as
# scripts/publish.py would write them, given through the environment variables that override them.
PUBLISHED = {
    "MNIST_TUTORIAL_REPO": "https://github.com/example-org/mnist-tf-tutorial",
    "MNIST_TUTORIAL_REF": "v2.0",
    "MNIST_TUTORIAL_HUB": "https://hub.example.edu",
}


def build_site(outdir: Path, execute: bool = False, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """sphinx-build -n -W --keep-going, as `make docs` runs it; returns the finished process."""
    command = [
        sys.executable, "-m", "sphinx", "-b", "html", "-n", "-W", "--keep-going", "-E", "-q",
        "-d", str(outdir / "doctrees"),
        "-D", f"nb_execution_mode={'force' if execute else 'off'}",
        str(REPO), str(outdir / "html"),
    ]  # fmt: skip
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1800, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built site's HTML folder: MNIST_DOCS_HTML, or a fresh build from the stored outputs."""
    prebuilt = os.environ.get("MNIST_DOCS_HTML")
    if prebuilt:
        html = Path(prebuilt).resolve()
        assert (html / "index.html").is_file(), f"MNIST_DOCS_HTML={prebuilt}: no index.html there"
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
    remote = re.compile(r"""<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)=["'](?:https?:)?//""", re.I)
    for page in all_pages(site):
        name = page.relative_to(site).as_posix()
        html = page.read_text(encoding="utf-8")
        assert "output stderr" not in html, f"{name}: a stderr output is on the page"
        assert not remote.search(html), f"{name}: loads {remote.search(html).group(0)}..."  # type: ignore[union-attr]
        assert "Traceback (most recent call last)" not in html, f"{name}: a traceback is on the page"


def test_every_image_has_real_alternative_text(site: Path) -> None:
    """What a screen reader reads out: never a missing alt, an empty one, or a file name such as 37f8...png."""
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
            assert alt and len(alt.group(2).split()) >= 5, f"{name}: an image without real alternative text: {tag[:160]}"
            assert not re.search(r"\.(png|svg|jpe?g)\b|[0-9a-f]{16}", alt.group(2)), f"{name}: alt is a file name: {tag[:160]}"
    assert images >= 9, f"expected the series' figures on the site, found {images} images"


# --------------------------------------------------------------------------------------------------------------
# Browser


def network_log(driver) -> tuple[list[str], list[str]]:
    """URLs requested since the last call, and the requests that failed (URL and error)."""
    requested: list[str] = []
    failed: list[str] = []
    urls: dict[str, str] = {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
            requested.append(params["request"]["url"])
        elif message["method"] == "Network.webSocketCreated":
            requested.append(params["url"])
        elif message["method"] == "Network.loadingFailed" and not params.get("canceled"):
            failed.append(f"{urls.get(params['requestId'], params['requestId'])}: {params.get('errorText')}")
    return requested, failed


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


def check_page(driver, name: str, path: Path) -> None:
    """Every image loaded, no request left file://, nothing failed to load, no JavaScript error."""
    network_log(driver)
    driver.get_log("browser")
    open_page(driver, path)
    broken = driver.execute_script(
        "return [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
    )
    assert not broken, f"{name}: images that did not load: {broken}"
    requested, failed = network_log(driver)
    remote = [url for url in requested if urlparse(url).scheme not in LOCAL_SCHEMES]
    assert not remote, f"{name}: requests that leave file://: {remote}"
    assert not failed, f"{name}: requests that failed: {failed}"
    errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, f"{name}: errors in the browser console: {errors}"
    assert driver.execute_script("return document.querySelectorAll('.stderr').length") == 0
    math = driver.execute_script("return document.querySelectorAll('span.math, div.math').length")
    assert not math, f"{name}: {math} formulas: the site ships no MathJax (it would load from a CDN); write them as text"


@pytest.mark.parametrize("name", ["index", *NOTEBOOKS])
def test_page_in_browser(browser, site: Path, name: str) -> None:
    path = page_path(site, name)
    check_page(browser, name, path)
    title = browser.title
    assert title and "<no title>" not in title, f"{name}: page title {title!r}"
    assert browser.find_elements("css selector", ".bd-sidebar-primary"), f"{name}: the theme's sidebar is missing"
    primary = browser.execute_script(
        "return getComputedStyle(document.documentElement).getPropertyValue('--pst-color-primary').trim()"
    )
    assert primary, f"{name}: the theme's CSS did not load (no --pst-color-primary)"
    save_screenshot(browser, name)


def test_other_pages_in_browser(browser, site: Path) -> None:
    """The site's other pages (the instructor notes...) load as cleanly; Sphinx's search and index pages aside."""
    for path in all_pages(site):
        if path.parent == site and path.stem not in ("index", "genindex", "search", "py-modindex"):
            check_page(browser, path.stem, path)
            save_screenshot(browser, path.stem)


def _click_link(driver, text: str, name: str) -> Path:
    """Click the page's own link whose text starts with text (not the theme's previous/next footer)."""
    links = driver.execute_script(
        "return [...document.querySelectorAll('article.bd-article a')]"
        ".filter(a => !a.closest('.prev-next-area') && a.textContent.trim().startsWith(arguments[0]))",
        text,
    )
    assert links, f"{name}: no link starting with {text!r}"
    link = links[-1] if text.startswith("Next") else links[0]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)
    link.click()
    return url_path(driver.current_url)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_back_and_next_links(browser, site: Path, name: str) -> None:
    path = page_path(site, name)
    open_page(browser, path)
    landed = _click_link(browser, "Back to index", name)
    assert landed == (site / "index.html").resolve(), f"{name}: 'Back to index' lands on {landed}"
    position = NOTEBOOKS.index(name)
    if position + 1 < len(NOTEBOOKS):
        open_page(browser, path)
        landed = _click_link(browser, "Next:", name)
        expected = page_path(site, NOTEBOOKS[position + 1]).resolve()
        assert landed == expected, f"{name}: 'Next' lands on {landed}, not {expected}"
        assert browser.find_elements("css selector", "article h1"), f"{name}: 'Next' lands on a page without a title"
        open_page(browser, path)
        footer = browser.find_elements("css selector", ".prev-next-area a.right-next")
        assert footer and url_path(footer[0].get_attribute("href")) == expected, f"{name}: the footer's next link"


def test_index_links_every_notebook_in_order(browser, site: Path) -> None:
    open_page(browser, site / "index.html")
    hrefs = browser.execute_script("return [...document.querySelectorAll('article a')].map(a => a.href)")
    pages = [url_path(href) for href in hrefs if href.startswith("file:") and href.split("#")[0].endswith(".html")]
    notebook_pages = [page_path(site, name).resolve() for name in NOTEBOOKS]
    linked = [page for page in pages if page in notebook_pages]
    in_order = sorted(set(linked), key=linked.index)
    assert in_order == notebook_pages, f"index.md links the notebooks {in_order}, not {notebook_pages} in order"
    navigation = browser.execute_script(
        "return [...document.querySelectorAll('.bd-sidebar-primary nav a.reference.internal')].map(a => a.href)"
    )
    in_sidebar = [url_path(href) for href in navigation if url_path(href) in notebook_pages]
    assert in_sidebar == notebook_pages, "the sidebar does not list the notebooks in order"
    footer = browser.find_elements("css selector", ".prev-next-area a.right-next")
    assert footer and url_path(footer[0].get_attribute("href")) == notebook_pages[0], "index: the footer's next link"
    readme = [href for href in hrefs if href.split("#")[0].endswith("README.md")]
    for href in readme:
        assert url_path(href).is_file(), f"index: the README link {href} leads nowhere"


def _png_size(path: Path) -> tuple[int, int]:
    with open(path, "rb") as f:
        header = f.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


@pytest.mark.skipif(FIGURE_PAGE is None, reason="no notebook 02 yet")
def test_samples_figure_is_shown(browser, site: Path) -> None:
    """Notebook 02 shows the ten-samples figure: the file in assets/, or a plot of the same size."""
    assert FIGURE_PAGE is not None
    open_page(browser, page_path(site, FIGURE_PAGE))
    images = browser.execute_script(
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
    assert found, f"{FIGURE_PAGE}: no ten-samples figure among the images {images}"
    index, src, width, height, shown = found[0]
    assert width > 0 and shown > 200, f"{FIGURE_PAGE}: the figure {src} is not shown ({width}px, shown {shown}px)"
    element = browser.find_elements("css selector", "article img")[index]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    save_screenshot(browser, f"{FIGURE_PAGE}-figure")


@pytest.mark.parametrize("name", SUMMARY_PAGES)
def test_model_summary_is_shown(browser, site: Path, name: str) -> None:
    """Keras 3's model.summary() (a rich table, stored as HTML) is on the page, with its parameter counts."""
    open_page(browser, page_path(site, name))
    outputs = [
        element
        for element in browser.find_elements("css selector", ".cell_output")
        if "Layer (type)" in element.text and "Param #" in element.text
    ]
    assert outputs, f"{name}: no model.summary() table on the page"
    table = outputs[0]
    assert table.is_displayed()
    assert table.find_elements("css selector", "pre"), f"{name}: the summary is not the rich HTML rendering"
    assert "Total params" in browser.find_element("css selector", "article").text
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", table)
    time.sleep(0.1)
    save_screenshot(browser, f"{name}-summary")


GLOSSARY_TERMS = [
    "Neuron", "Weight", "Bias", "Activation", "ReLU", "Softmax", "Layer", "Dense", "Flatten", "Convolution", "Filter",
    "Feature map", "Pooling", "Parameter", "Loss", "Cross-entropy", "Optimizer", "Gradient descent", "Learning rate",
    "Backpropagation", "Batch", "Epoch", "Accuracy", "Training, validation and test sets", "Over-fitting",
    "Normalization", "Augmentation", "Label smoothing", "Inference", "Quantization", "TensorBoard",
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
    for needle in ("PowerShell", r".venv\Scripts\python scripts\lab.py", ".venv/bin/python scripts/run_series.py",
                   "wheel for Intel Macs", "Not tested here"):
        assert needle in html, f"setup page lacks {needle!r}"
    assert 'href="setup.html"' in page_path(site, "index").read_text(encoding="utf-8")
    assert "](setup.md)" in (REPO / "README.md").read_text()


def test_no_launch_buttons_until_the_series_is_published(tmp_path: Path) -> None:
    """Unpublished (no repository URL), the site has no launch buttons; the settings are series.py's."""
    env = {name: value for name, value in os.environ.items() if name not in PUBLISHED}
    result = subprocess.run(
        [sys.executable, "-c", "import conf, json; print(json.dumps(conf.html_theme_options['launch_buttons']))"],
        cwd=REPO, capture_output=True, text=True, env=env, check=True,
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {}


def test_every_notebook_page_has_launch_buttons_and_a_download(browser, site: Path) -> None:
    """Binder, Colab and JupyterHub links built from the publishing settings, and the .ipynb itself."""
    if os.environ.get("MNIST_DOCS_HTML"):
        pytest.skip("a prebuilt site may not be built as published")
    repo, ref, hub = (PUBLISHED[name] for name in ("MNIST_TUTORIAL_REPO", "MNIST_TUTORIAL_REF", "MNIST_TUTORIAL_HUB"))
    for name in NOTEBOOKS:
        path = page_path(site, name)
        open_page(browser, path)
        links = browser.execute_script(
            "return [...document.querySelectorAll('a')].map(a => [a.textContent.trim(), a.getAttribute('href')])"
        )
        hrefs = {href for _, href in links if href}
        notebook = f"notebooks/{name}.ipynb"
        assert f"https://mybinder.org/v2/gh/example-org/mnist-tf-tutorial/{ref}?urlpath=lab/tree/{notebook}" in hrefs, name
        assert f"https://colab.research.google.com/github/example-org/mnist-tf-tutorial/blob/{ref}/{notebook}" in hrefs, name
        puller = [h for h in hrefs if h.startswith(f"{hub}/hub/user-redirect/git-pull?")]
        assert puller and f"urlpath=lab/tree/mnist-tf-tutorial/{notebook}" in puller[0] and f"branch={ref}" in puller[0], name
        assert "repo=https%3A//github.com/example-org/mnist-tf-tutorial" in puller[0], name
        download = [h for h in hrefs if h.endswith(f"_sources/{notebook}")]
        assert download and (path.parent / download[0]).resolve().is_file(), f"{name}: no .ipynb download"
        assert repo.split("/")[-1] in puller[0]
    browser.find_element("css selector", ".dropdown-launch-buttons button").click()
    save_screenshot(browser, "launch-buttons")


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

    assert FIGURE_PAGE is not None
    open_page(browser, page_path(site, FIGURE_PAGE))
    browser.execute_script("localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark')")
    open_page(browser, page_path(site, FIGURE_PAGE))
    assert browser.execute_script("return document.documentElement.dataset.theme") == "dark"
    background = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
    channels = [int(v) for v in re.findall(r"\d+", background)[:3]]
    assert max(channels) < 80, f"the dark theme's background is {background}"
    image = browser.find_elements("css selector", "article img")[0]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", image)
    shot = save_screenshot(browser, f"{FIGURE_PAGE}-dark")
    box = browser.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom, window.devicePixelRatio]", image
    )
    left, top, right, bottom, ratio = box
    with Image.open(shot) as screen:
        crop = screen.convert("L").crop(tuple(round(v * ratio) for v in (left, top, right, bottom)))
        assert crop.width > 100 and crop.height > 50
        corners = [crop.getpixel((x, y)) for x in (3, crop.width - 4) for y in (3, crop.height - 4)]
    # The figure's margins are white in the file; the dark theme dims images (brightness .8, contrast 1.2) and frames
    # outputs in light grey: the figure must still stand out light from the dark page, not be see-through.
    assert min(corners) > 150 and min(corners) - max(channels) > 100, f"figure corners {corners} on a {background} page"
    browser.execute_script("localStorage.setItem('mode', 'light'); localStorage.setItem('theme', 'light')")
