"""JupyterLab smoke test: the learners' command (`make lab`), notebooks in headless Chromium, a kernel run.

One server for the module: scripts/lab.py, as `make lab` starts it, with only what a test needs on top (127.0.0.1,
a random port and token, a temporary copy of the notebooks and assets/ as its root, its workspaces in the test's
folder), so nothing the server or JupyterLab writes (checkpoints, autosaves, workspaces, settings) lands in the
repository; `import helpers` still reads the bundled data through the installed project. It is shut down through
its API, and killed if it does not go, whatever happens; then nothing it started (kernels included) may be left.
The browser part needs Debian's chromium and chromium-driver, like tests/test_docs.py: skipped with the reason
where they are missing, a failure in CI. The screenshot goes to build/screenshots/jupyterlab/ (git-ignored).
"""

from __future__ import annotations

import configparser
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path

import nbformat
import pytest
from browser import Network, network_log, start_chromium, stop_chromium
from processes import Started, free_port, start_server, until

import series

REPO = series.REPO_ROOT
SCREENSHOTS = Path(os.environ.get("MNIST_SCREENSHOTS", REPO / "build" / "screenshots")) / "jupyterlab"
NOTEBOOK = "notebooks/01_reading_the_data.ipynb"  # the first of the series: reads the data, trains nothing
FIRST = "notebooks/00_setup_check.ipynb"  # where the learners' command opens JupyterLab
SANITIZE = REPO / "tests" / "nbval_sanitize.cfg"  # the nbval rules for what changes from run to run
START_TIMEOUT = 90
CELL_TIMEOUT = 300


# --------------------------------------------------------------------------------------------------------------
# The server


class LabServer:
    """A running `jupyter lab` and how to talk to it."""

    def __init__(self, base: Path) -> None:
        self.base, self.root, self.runtime = base, base / "root", base / "runtime"  # runtime: kernels' connection files
        self.port, self.token = free_port(), secrets.token_hex(24)
        self.url = f"http://127.0.0.1:{self.port}"
        self.started: Started | None = None

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 30) -> dict | list | None:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def stop(self) -> list[int]:
        """Shut the server down through its API (it stops its kernels); kill what is left of it if it will not go.
        Returns the processes it had to kill."""
        if not self.started:
            return []
        return self.started.stop(shutdown=lambda: self.request("POST", "/api/shutdown", timeout=10), grace=30)


def _start_server(base: Path) -> LabServer:
    """The learners' command (scripts/lab.py) with its own settings, serving a copy of the series from `base`."""
    server = LabServer(base)
    (server.root / "notebooks").mkdir(parents=True)
    for notebook in series.NOTEBOOKS:
        shutil.copy2(notebook, server.root / "notebooks" / notebook.name)
    if (REPO / "assets").is_dir():
        shutil.copytree(REPO / "assets", server.root / "assets")
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(base / "config"),
        JUPYTER_RUNTIME_DIR=str(server.runtime),
        IPYTHONDIR=str(base / "ipython"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    env.pop("MPLBACKEND", None)  # let the kernel draw inline, as for a learner
    command = [
        sys.executable, REPO / "scripts" / "lab.py", "--no-browser", "--ip=127.0.0.1", f"--port={server.port}",
        "--port-retries=0", f"--IdentityProvider.token={server.token}", f"--ServerApp.root_dir={server.root}",
        f"--LabApp.workspaces_dir={base / 'workspaces'}", "--LabApp.extension_manager=readonly",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: the test can wait until JupyterLab is restored
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI runners often run as root
    server.started = start_server(
        command, lambda: server.request("GET", "/api/status", timeout=5), base / "jupyter-lab.log", cwd=server.root,
        env=env, timeout=START_TIMEOUT, name="jupyter lab",
    )  # fmt: skip
    return server


@pytest.fixture(scope="module")
def lab():
    base = Path(tempfile.mkdtemp(prefix="mnist-jupyterlab-"))
    try:
        server = _start_server(base)
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise
    try:
        yield server
    finally:
        killed = server.stop()
        left = server.started.left() if server.started else []
        shutil.rmtree(base, ignore_errors=True)
        assert not killed, f"jupyter lab (or a kernel) did not stop when asked, and was killed: {killed}"
        assert not left, f"processes of jupyter lab are still there: {left}"


@pytest.fixture(scope="module")
def browser():
    driver = start_chromium((1400, 1000))
    try:
        yield driver
    finally:
        stop_chromium(driver)


# --------------------------------------------------------------------------------------------------------------
# The kernel API: run a notebook through the server


def kernel_client(server: LabServer, kernel_id: str):
    """A jupyter_client client of a kernel the server started (its connection file is in the server's runtime dir)."""
    from jupyter_client import BlockingKernelClient, find_connection_file

    client = BlockingKernelClient()
    client.load_connection_file(find_connection_file(f"kernel-{kernel_id}.json", path=[str(server.runtime)]))
    client.start_channels()
    client.wait_for_ready(timeout=60)
    return client


def run_code(client, code: str, timeout: float = CELL_TIMEOUT) -> tuple[dict, list]:
    """Run code in the kernel; return the execute_reply content and the outputs as nbformat output nodes."""
    outputs: list = []

    def keep(message: dict) -> None:
        if message["header"]["msg_type"] in ("stream", "display_data", "execute_result", "error"):
            outputs.append(nbformat.v4.output_from_msg(message))

    reply = client.execute_interactive(code, timeout=timeout, output_hook=keep, allow_stdin=False, stop_on_error=True)
    return reply["content"], outputs


def _sanitizers() -> list[tuple[re.Pattern[str], str]]:
    if not SANITIZE.is_file():
        return []
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(SANITIZE)
    return [(re.compile(parser[s]["regex"]), parser[s]["replace"]) for s in parser.sections()]


def _text_outputs(outputs: list, rules: list[tuple[re.Pattern[str], str]]) -> list[str]:
    """What nbval compares: stdout and text/plain results, with run-to-run differences replaced."""
    texts = []
    for output in outputs:
        if output["output_type"] == "stream" and output["name"] == "stdout":
            text = output["text"]
        elif output["output_type"] == "execute_result":
            text = output["data"].get("text/plain", "")
        else:
            continue
        for pattern, replacement in rules:
            text = pattern.sub(replacement, text)
        texts.append(text)
    return ["".join(texts)] if texts else []


def test_notebook_runs_through_the_server_kernel(lab: LabServer) -> None:
    """Start a kernel through the server's sessions API, run every cell of the notebook, compare the outputs."""
    notebook = nbformat.read(lab.root / NOTEBOOK, as_version=4)
    session = lab.request(
        "POST", "/api/sessions",
        {"path": NOTEBOOK, "name": Path(NOTEBOOK).name, "type": "notebook", "kernel": {"name": "python3"}},
    )  # fmt: skip
    assert isinstance(session, dict)
    kernels = lab.request("GET", "/api/kernels")
    assert isinstance(kernels, list) and session["kernel"]["id"] in [k["id"] for k in kernels], "no kernel started"
    client = kernel_client(lab, session["kernel"]["id"])
    rules = _sanitizers()
    compared = 0
    try:
        for number, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            tags = set(cell.metadata.get("tags", []))
            if "nbval-skip" in tags:
                continue
            reply, outputs = run_code(client, cell.source)
            errors = [f"{o['ename']}: {o['evalue']}" for o in outputs if o["output_type"] == "error"]
            if "raises-exception" not in tags:
                assert reply["status"] == "ok" and not errors, f"cell {number} failed: {errors}\n{cell.source}"
            if "nbval-ignore-output" in tags:
                continue
            stored, fresh = _text_outputs(cell.outputs, rules), _text_outputs(outputs, rules)
            assert fresh == stored, f"cell {number}: the output differs from the stored one\n{cell.source}"
            compared += bool(stored)
        # The kernel is a real one: its working directory is the notebook's folder, as in JupyterLab.
        reply, outputs = run_code(client, "import os; print(os.path.basename(os.getcwd()))")
        assert reply["status"] == "ok" and outputs[0]["text"].strip() == "notebooks"
    finally:
        client.stop_channels()
        lab.request("DELETE", f"/api/sessions/{session['id']}")
    assert compared >= 3, f"only {compared} cells had outputs to compare"
    sessions = lab.request("GET", "/api/sessions")
    assert isinstance(sessions, list) and session["id"] not in [s["id"] for s in sessions], "the session is still there"


# --------------------------------------------------------------------------------------------------------------
# The browser


def _leaving(network: Network, lab: LabServer) -> list[str]:
    """What JupyterLab requested outside the local server."""
    return network.leaving(lab.url + "/", f"ws://127.0.0.1:{lab.port}/")


# Resolves once JupyterLab has restored its layout (and so has started, with its plugins).
RESTORED = """
const done = arguments[arguments.length - 1];
window.jupyterapp.restored.then(() => done(null), error => done(String(error)));
"""
# Resolves once every pending promise has run and the page has drawn twice.
SETTLED = """
const done = arguments[arguments.length - 1];
setTimeout(() => requestAnimationFrame(() => requestAnimationFrame(() => done(null))), 0);
"""
ANNOUNCEMENTS = "/api/config/jupyterlabapputilsextensionannouncements"  # its state, which it loads before deciding


def test_the_learners_command_opens_notebook_00_without_pop_ups(lab: LabServer, browser) -> None:
    """`make lab` (scripts/lab.py): the news question and the update check are off through the environment's own
    settings (overrides.json), not the learner's home; JupyterLab opens at notebook 00 with no notification.

    JupyterLab's announcements plugin decides once the layout is restored and its settings and state are loaded:
    it asks the news question (a notification) or fetches the news and checks for updates (requests to the server).
    The test waits for those conditions, then sees neither a notification nor one of those requests."""
    from selenium.webdriver.support.ui import WebDriverWait

    notification = lab.request("GET", "/lab/api/settings/@jupyterlab/apputils-extension:notification")
    assert isinstance(notification, dict)
    defaults = notification["schema"]["properties"]
    assert defaults["fetchNews"]["default"] == "false" and defaults["checkForUpdates"]["default"] is False
    network_log(browser)  # what came before
    browser.get(f"{lab.url}/?token={lab.token}")  # redirected to the default URL: notebook 00
    wait = WebDriverWait(browser, 90, poll_frequency=0.25)
    wait.until(lambda d: d.find_elements("css selector", ".jp-NotebookPanel .jp-Notebook .jp-Cell"))
    labels = [tab.text for tab in browser.find_elements("css selector", ".lm-DockPanel-tabBar .lm-TabBar-tabLabel")]
    assert Path(FIRST).name in labels, f"the open documents are {labels}"
    browser.set_script_timeout(90)
    assert browser.execute_async_script(RESTORED) is None, "JupyterLab was not restored"
    seen = Network([], [])

    def announcements_loaded() -> bool:
        seen.requested.extend(network_log(browser).requested)
        return any(ANNOUNCEMENTS in url for url in seen.requested)

    until(announcements_loaded, "JupyterLab did not load the announcements' state", timeout=60)
    # Notebook 00's kernel, which JupyterLab starts, says it is idle: a learner can run the notebook.
    wait.until(lambda d: d.find_elements("css selector", ".jp-Notebook-ExecutionIndicator[data-status='idle']"))
    browser.execute_async_script(SETTLED)
    seen.requested.extend(network_log(browser).requested)
    toasts = [t.text for t in browser.find_elements("css selector", ".Toastify__toast")]
    assert not toasts, f"JupyterLab showed notifications: {toasts}"
    status = [s.text.strip() for s in browser.find_elements("css selector", ".jp-Notification-Status")]
    assert all(text in ("", "0") for text in status), f"JupyterLab has notifications: {status}"
    asked = [url for url in seen.requested if "/lab/api/news" in url or "/lab/api/update" in url]
    assert not asked, f"JupyterLab fetched the news or checked for updates: {asked}"
    assert not _leaving(seen, lab), f"JupyterLab requested outside the local server: {_leaving(seen, lab)}"
    assert not (lab.base / "config" / "lab" / "user-settings").exists(), "nothing written into the user's settings"


def test_notebook_opens_in_jupyterlab(lab: LabServer, browser) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    notebook = nbformat.read(lab.root / NOTEBOOK, as_version=4)
    title = next(line[2:].strip() for line in notebook.cells[0].source.splitlines() if line.startswith("# "))
    colab_step, first_code = [cell for cell in notebook.cells if cell.cell_type == "code"][:2]  # then the lesson's
    first_output = next(
        o["text"].splitlines()[0] for c in notebook.cells if c.cell_type == "code"
        for o in c.outputs if o["output_type"] == "stream" and o["text"].strip()
    )  # fmt: skip
    network_log(browser)  # what came before
    browser.get(f"{lab.url}/lab/tree/{NOTEBOOK}?reset&token={lab.token}")  # reset: only this notebook open
    wait = WebDriverWait(browser, 90, poll_frequency=0.25)
    cells = len(notebook.cells)
    wait.until(lambda d: len(d.find_elements("css selector", ".jp-NotebookPanel .jp-Notebook .jp-Cell")) >= cells)
    # JupyterLab starts a kernel for the notebook it opens; wait until it says it is idle.
    wait.until(lambda d: d.find_elements("css selector", ".jp-Notebook-ExecutionIndicator[data-status='idle']"))
    headings = [h.text for h in browser.find_elements("css selector", ".jp-MarkdownCell .jp-RenderedMarkdown h1")]
    assert any(title in heading for heading in headings), f"the notebook's title {title!r} is not on the screen"
    code = browser.find_elements("css selector", ".jp-CodeCell .jp-InputArea-editor")
    first_line = first_code.source.splitlines()[0]
    assert any(first_line in editor.text for editor in code), (
        f"the lesson's first code cell {first_line!r} is not shown"
    )
    hidden_line = colab_step.source.splitlines()[3]  # its code (a placeholder may show the title line)
    assert not any(hidden_line in editor.text for editor in code), "the Colab step is collapsed: its code is not shown"
    assert browser.find_elements("css selector", ".jp-CodeCell .jp-InputPlaceholder"), "its placeholder is shown"
    outputs = " ".join(o.text for o in browser.find_elements("css selector", ".jp-OutputArea-output"))
    assert first_output in outputs, f"the stored output {first_output!r} is not shown"
    panel = browser.find_element("css selector", ".jp-NotebookPanel")
    assert panel.is_displayed() and panel.size["width"] > 600
    browser.execute_async_script(SETTLED)  # let the last layout pass land before the picture
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOTS / f"{Path(NOTEBOOK).stem}.png"))
    leaving = _leaving(network_log(browser), lab)
    assert not leaving, f"JupyterLab requested outside the local server: {leaving}"
