"""JupyterLab smoke test: a real `jupyter lab` server, a notebook of the series in headless Chromium, a kernel run.

The server listens on 127.0.0.1 with a random port and token and serves a temporary copy of the notebooks (and
assets/), so nothing the server or JupyterLab writes (checkpoints, autosaves, workspaces, settings) lands in the
repository; `import helpers` still reads the bundled data through the installed project. It is shut down through
its API, and killed if it does not go, whatever happens. The browser part needs Debian's chromium and
chromium-driver, like tests/test_docs.py: skipped with the reason where they are missing, a failure in CI.
The screenshot goes to build/screenshots/jupyterlab/ (git-ignored).
"""

from __future__ import annotations

import configparser
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
import series
from browser import free_port, start_chromium, stop_chromium

REPO = series.REPO_ROOT
SCREENSHOTS = Path(os.environ.get("MNIST_SCREENSHOTS", REPO / "build" / "screenshots")) / "jupyterlab"
NOTEBOOK = "notebooks/01_reading_the_data.ipynb"  # the first of the series: reads the data, trains nothing
SANITIZE = REPO / "tests" / "nbval_sanitize.cfg"  # the nbval rules for what changes from run to run
START_TIMEOUT = 90
CELL_TIMEOUT = 300


# --------------------------------------------------------------------------------------------------------------
# The server


class LabServer:
    """A running `jupyter lab` and how to talk to it."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, token: str, root: Path, log: Path) -> None:
        self.process, self.port, self.token, self.root, self.log = process, port, token, root, log
        self.runtime = root.parent / "runtime"  # JUPYTER_RUNTIME_DIR: the kernels' connection files
        self.url = f"http://127.0.0.1:{port}"

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

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-6000:] if self.log.exists() else ""


def _start_server(base: Path, learners: bool = False) -> LabServer:
    """JupyterLab in `base`; with `learners`, started by the learners' command (scripts/lab.py, `make lab`) with
    its own settings, not the test's."""
    root = base / "root"
    (root / "notebooks").mkdir(parents=True)
    for notebook in series.NOTEBOOKS:
        shutil.copy2(notebook, root / "notebooks" / notebook.name)
    if (REPO / "assets").is_dir():
        shutil.copytree(REPO / "assets", root / "assets")
    settings = base / "settings"
    notification = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(base / "config"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        IPYTHONDIR=str(base / "ipython"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    env.pop("MPLBACKEND", None)  # let the kernel draw inline, as for a learner
    port, token = free_port(), secrets.token_hex(24)
    log = base / "jupyter-lab.log"
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={base / 'workspaces'}",
        # Nothing from the network: no news feed, no update check, no PyPI extension manager.
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]  # fmt: skip
    if learners:  # the learners' command, with only what a test needs on top (port, token, a copy of the series)
        command = [
            sys.executable, str(REPO / "scripts" / "lab.py"), "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            "--port-retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            f"--LabApp.workspaces_dir={base / 'workspaces'}", "--LabApp.extension_manager=readonly",
        ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI runners often run as root
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = LabServer(process, port, token, root, log)
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {process.returncode}:\n{server.log_text()}")
            try:
                server.request("GET", "/api/status", timeout=5)
                return server
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter lab did not answer within {START_TIMEOUT} s:\n{server.log_text()}")
                time.sleep(0.5)
    except BaseException:
        _stop_server(server)  # whatever happened while waiting (Ctrl-C included), the server goes
        raise


def _stop_server(server: LabServer) -> None:
    """Shut the server down through its API (it stops its kernels); kill its process group if it will not go."""
    process = server.process
    if process.poll() is None:
        try:
            server.request("POST", "/api/shutdown", timeout=10)
        except Exception:
            pass
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
                try:
                    os.killpg(process.pid, sig)  # the group this test started (start_new_session)
                    process.wait(timeout=wait)
                    break
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    continue


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
        _stop_server(server)
        assert server.process.poll() is not None, "jupyter lab is still running"
        shutil.rmtree(base, ignore_errors=True)


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
    assert not lab.request("GET", "/api/sessions"), "the session was not removed"


# --------------------------------------------------------------------------------------------------------------
# The browser


def test_notebook_opens_in_jupyterlab(lab: LabServer) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    notebook = nbformat.read(lab.root / NOTEBOOK, as_version=4)
    title = next(line[2:].strip() for line in notebook.cells[0].source.splitlines() if line.startswith("# "))
    first_code = next(cell for cell in notebook.cells if cell.cell_type == "code")
    first_output = next(
        o["text"].splitlines()[0] for c in notebook.cells if c.cell_type == "code"
        for o in c.outputs if o["output_type"] == "stream" and o["text"].strip()
    )  # fmt: skip
    driver = start_chromium((1400, 1000))
    try:
        driver.get(f"{lab.url}/lab/tree/{NOTEBOOK}?token={lab.token}")
        wait = WebDriverWait(driver, 90, poll_frequency=0.25)
        cells = len(notebook.cells)
        wait.until(lambda d: len(d.find_elements("css selector", ".jp-NotebookPanel .jp-Notebook .jp-Cell")) >= cells)
        # JupyterLab starts a kernel for the notebook it opens; wait until it says it is idle.
        wait.until(lambda d: d.find_elements("css selector", ".jp-Notebook-ExecutionIndicator[data-status='idle']"))
        headings = [h.text for h in driver.find_elements("css selector", ".jp-MarkdownCell .jp-RenderedMarkdown h1")]
        assert any(title in heading for heading in headings), f"the notebook's title {title!r} is not on the screen"
        code = driver.find_elements("css selector", ".jp-CodeCell .jp-InputArea-editor")
        first_line = first_code.source.splitlines()[0]
        assert any(first_line in editor.text for editor in code), f"the first code cell {first_line!r} is not shown"
        outputs = " ".join(o.text for o in driver.find_elements("css selector", ".jp-OutputArea-output"))
        assert first_output in outputs, f"the stored output {first_output!r} is not shown"
        panel = driver.find_element("css selector", ".jp-NotebookPanel")
        assert panel.is_displayed() and panel.size["width"] > 600
        time.sleep(0.5)  # let the last layout pass settle before the picture
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(SCREENSHOTS / f"{Path(NOTEBOOK).stem}.png"))
        remote = []
        for entry in driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] in ("Network.requestWillBeSent", "Network.webSocketCreated"):
                url = message["params"].get("request", message["params"]).get("url", "")
                if re.match(r"(https?|wss?)://", url) and not url.startswith(("http://127.0.0.1:", "ws://127.0.0.1:")):
                    remote.append(url)
        assert not remote, f"JupyterLab requested outside the local server: {remote}"
    finally:
        stop_chromium(driver)


def test_the_learners_command_opens_notebook_00_without_pop_ups(tmp_path: Path) -> None:
    """`make lab` (scripts/lab.py): the news question and the update check are off through the environment's own
    settings (overrides.json), not the learner's home; JupyterLab opens at notebook 00 with no notification."""
    from selenium.webdriver.support.ui import WebDriverWait

    server = _start_server(tmp_path, learners=True)
    try:
        notification = server.request("GET", "/lab/api/settings/@jupyterlab/apputils-extension:notification")
        defaults = notification["schema"]["properties"]
        assert defaults["fetchNews"]["default"] == "false" and defaults["checkForUpdates"]["default"] is False
        assert not (tmp_path / "config" / "lab" / "user-settings").exists(), "nothing written into the user's settings"
        driver = start_chromium((1400, 1000))
        try:
            driver.get(f"{server.url}/?token={server.token}")  # redirected to the default URL: notebook 00
            wait = WebDriverWait(driver, 90, poll_frequency=0.25)
            wait.until(lambda d: d.find_elements("css selector", ".jp-NotebookPanel .jp-Notebook .jp-Cell"))
            labels = [tab.text for tab in driver.find_elements("css selector", ".lm-DockPanel-tabBar .lm-TabBar-tabLabel")]
            assert "00_setup_check.ipynb" in labels, f"the open documents are {labels}"
            time.sleep(5)  # JupyterLab asks its news question a moment after start-up
            toasts = [t.text for t in driver.find_elements("css selector", ".Toastify__toast")]
            assert not toasts, f"JupyterLab showed notifications: {toasts}"
        finally:
            stop_chromium(driver)
    finally:
        _stop_server(server)
