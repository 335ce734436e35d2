"""TensorBoard over logs written with notebook 05's callback: served on 127.0.0.1, read back, shown in Chromium.

The logs: notebook 04's FC model trains for 3 epochs on 512 images (a second or two) with notebook 05's own
`tensorboard_callback`, taken from the notebook by tests/notebook_code.py, into a temporary folder. TensorBoard
serves them on 127.0.0.1 and a free port, in a process group of its own, with its temporary files in the test's
folder; it is stopped (then killed, with anything it started) whatever happens, and the last test checks that
nothing of it is left. The browser part needs Debian's chromium and chromium-driver, like tests/test_docs.py:
skipped with the reason where they are missing, a failure in CI. The screenshot goes to
build/screenshots/tensorboard/ (git-ignored): look at it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
import series
from browser import free_port, start_chromium, stop_chromium

import helpers
import keras
from notebook_code import definitions

REPO = series.REPO_ROOT
SCREENSHOTS = Path(os.environ.get("MNIST_SCREENSHOTS", REPO / "build" / "screenshots")) / "tensorboard"
MODEL_TYPE = "fc"  # the quicker model: the logs, not the model, are under test
EPOCHS, TRAIN_IMAGES, VALIDATION_IMAGES = 3, 512, 128
TAGS = ("epoch_loss", "epoch_accuracy")  # what Keras 3's callback names the loss and accuracy of each epoch
RUNS = (f"{MODEL_TYPE}/train", f"{MODEL_TYPE}/validation")  # TensorBoard's runs: the callback's two folders
START_TIMEOUT = 60
WINDOW = (1280, 860)


# --------------------------------------------------------------------------------------------------------------
# The logs


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A short training run logged by notebook 05's tensorboard_callback into a temporary LOG_ROOT."""
    log_root = tmp_path_factory.mktemp("tensorboard") / "logs"
    stale = log_root / MODEL_TYPE / "train" / "events.out.tfevents.0.an-earlier-run.v2"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"")  # what an earlier run left: the callback clears it
    notebook = definitions("05", LOG_ROOT=log_root)  # 05's imports, constants and functions, its logs moved here
    helpers.setup(notebook.SEED)
    (train_data, train_labels), _ = helpers.load_mnist()
    images = helpers.prepare(train_data[: TRAIN_IMAGES + VALIDATION_IMAGES])
    labels = train_labels[: TRAIN_IMAGES + VALIDATION_IMAGES]
    model = helpers.build_model(MODEL_TYPE)
    model.compile(optimizer=notebook.OPTIMIZER, loss=notebook.LOSS_FUNCTION, metrics=notebook.METRICS)
    callback = notebook.tensorboard_callback(MODEL_TYPE)
    history = model.fit(
        images[:TRAIN_IMAGES], labels[:TRAIN_IMAGES], epochs=EPOCHS, verbose=0, callbacks=[callback],
        validation_data=(images[TRAIN_IMAGES:], labels[TRAIN_IMAGES:]),
    )  # fmt: skip
    return SimpleNamespace(root=log_root, stale=stale, callback=callback, history=history.history)


def test_notebook_05_trains_with_this_callback() -> None:
    """The recipe under test is the one notebook 05 runs: its fit passes tensorboard_callback(model_type)."""
    notebook = nbformat.read(series.notebook("05"), as_version=4)
    fits = [c.source for c in notebook.cells if c.cell_type == "code" and "history = model.fit(" in c.source]
    assert fits and "callbacks=[tensorboard_callback(model_type)]" in fits[0], "05's fit does not log for TensorBoard"


def test_the_callback_logs_one_run_per_model(logs: SimpleNamespace) -> None:
    assert not logs.stale.exists(), "the previous run's logs should be cleared"
    callback = logs.callback
    assert isinstance(callback, keras.callbacks.TensorBoard)
    assert callback.write_graph is True and callback.histogram_freq == 0, "the graph, without weight histograms"
    assert Path(callback.log_dir) == logs.root / MODEL_TYPE
    runs = sorted({path.parent.name for path in (logs.root / MODEL_TYPE).rglob("events.out.tfevents.*")})
    assert runs == ["train", "validation"]


# --------------------------------------------------------------------------------------------------------------
# The server


def _group(pgid: int) -> list[int]:
    """The live processes (zombies aside) of process group `pgid`."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (name)": state, ppid, pgrp, ...
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


class TensorBoardServer:
    """`tensorboard --logdir ... --host 127.0.0.1 --port ...`, started in a process group of its own."""

    def __init__(self, logdir: Path, base: Path) -> None:
        self.port, self.base = free_port(), base
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = base / "tensorboard.log"
        self.tmp = base / "tmp"  # TensorBoard's TMPDIR: its info file (what notebook.list() reads) lands here
        self.tmp.mkdir(parents=True)
        env = {**os.environ, "TMPDIR": str(self.tmp), "TF_CPP_MIN_LOG_LEVEL": "3"}
        command = [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
                   "--port", str(self.port)]  # fmt: skip
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                command, cwd=base, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log_text(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(line for line in text.splitlines() if not line.startswith(("I0000", "W0000")))[-4000:]

    def get(self, path: str, timeout: float = 10) -> object:
        with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
            return json.loads(response.read())

    def wait_until_it_answers(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"tensorboard exited with {self.process.returncode}:\n{self.log_text()}")
            try:
                self.get("/data/environment", timeout=5)
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"tensorboard did not answer on {self.url} in {START_TIMEOUT} s:\n{self.log_text()}")
                time.sleep(0.25)

    def stop(self) -> None:
        """SIGTERM (TensorBoard exits cleanly and removes its info file), then SIGKILL to the whole group."""
        pgid = self.process.pid  # start_new_session: the group is the server's own
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        deadline = time.monotonic() + 10
        while _group(pgid) and time.monotonic() < deadline:  # its data server goes when TensorBoard does
            time.sleep(0.1)
        if self.process.poll() is None or _group(pgid):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(logs: SimpleNamespace):
    tensorboard = TensorBoardServer(logs.root, logs.root.parent / "server")
    try:
        tensorboard.wait_until_it_answers()
        yield tensorboard
    finally:
        tensorboard.stop()  # whatever happened (Ctrl-C included), the server goes


def _until(condition, what: str, timeout: float = 30, server: TensorBoardServer | None = None):
    """Poll `condition` until it returns something true; fail with `what` (and the server's log) after `timeout`."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout} s" + (f"\n{server.log_text()}" if server else ""))
        time.sleep(0.25)
    return result


def test_the_scalars_are_served(server: TensorBoardServer, logs: SimpleNamespace) -> None:
    """The loss and accuracy of every epoch, for the training images and the validation set, as fit measured them."""
    def tags():  # TensorBoard reads the logs in the background: the first answers may be empty
        answer = server.get("/data/plugin/scalars/tags")
        return answer if all(set(TAGS) <= set(answer.get(run, {})) for run in RUNS) else None

    _until(tags, f"TensorBoard did not list {TAGS} for the runs {RUNS}", server=server)
    assert list(server.tmp.glob(".tensorboard-info/pid-*.info")), "no info file: notebook.list() would not see it"
    for run, prefix in zip(RUNS, ("", "val_")):
        for tag in TAGS:
            query = urllib.parse.urlencode({"run": run, "tag": tag})
            points = server.get(f"/data/plugin/scalars/scalars?{query}")  # [[wall time, step, value], ...]
            assert [step for _, step, _ in points] == list(range(EPOCHS)), (run, tag, points)
            expected = logs.history[prefix + tag.removeprefix("epoch_")]
            assert [value for _, _, value in points] == pytest.approx(expected, rel=1e-5), (run, tag)


def test_the_graph_is_served(server: TensorBoardServer) -> None:
    """write_graph=True: Keras 3 logs the model's conceptual graph (its layers), not a graph of TensorFlow ops."""
    info = server.get("/data/plugin/graphs/info")
    keras_graph = info.get(RUNS[0], {}).get("tags", {}).get("keras", {})
    assert keras_graph.get("conceptual_graph") is True, f"no conceptual graph for {RUNS[0]}: {info}"
    query = urllib.parse.urlencode({"run": RUNS[0], "tag": "keras", "conceptual": "true"})
    with urllib.request.urlopen(f"{server.url}/data/plugin/graphs/graph?{query}", timeout=10) as response:
        graph = response.read().decode()  # a GraphDef in protobuf's text format
    layers = re.findall(r'name: "mnist_fc/(\w+)"', graph)
    kinds = {re.sub(r"_\d+$", "", layer) for layer in layers}  # dense_37: Keras numbers the layers it names
    assert {"flatten", "dense"} <= kinds, f"the FC model's layers are not in its graph: {layers}"


# --------------------------------------------------------------------------------------------------------------
# The dashboard


# The Time Series dashboard with only the two cards, unsmoothed, scaled to every point (few epochs: no outliers),
# without the settings pane: its settings through the page's local storage, the filter through the URL.
SETTINGS = {"scalarSmoothing": 0, "ignoreOutliers": False, "timeSeriesSettingsPaneOpened": False}
DASHBOARD = "/?" + urllib.parse.urlencode({"tagFilter": "^epoch_(loss|accuracy)$", "smoothing": 0}) + "#timeseries"

CARDS = """
return [...document.querySelectorAll("scalar-card")].map(card => card.innerText);
"""


def test_the_dashboard_shows_loss_and_accuracy(server: TensorBoardServer) -> None:
    """The Time Series dashboard draws epoch_loss and epoch_accuracy for both runs, from the local server only."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    driver = start_chromium(WINDOW)
    try:
        driver.get(server.url + "/data/environment")  # the server's origin, to give the dashboard its settings
        driver.execute_script("localStorage.setItem('_tb_global_settings', arguments[0])", json.dumps(SETTINGS))
        driver.get_log("performance"), driver.get_log("browser")  # so far: Chromium's start-up, a JSON page's favicon
        driver.get(server.url + DASHBOARD)

        def cards_with_data(d) -> list[str] | None:
            """Each tag's card, once it shows every run's latest value (its data table, under the chart)."""
            cards = d.execute_script(CARDS)
            shown = {tag: text for tag in TAGS for text in cards if text.splitlines()[:1] == [tag]}
            complete = len(shown) == len(TAGS) and all(run in text for text in shown.values() for run in RUNS)
            return cards if complete else None

        try:
            cards = WebDriverWait(driver, 30, poll_frequency=0.25).until(cards_with_data)
        except TimeoutException as error:  # say what the page showed instead
            body = driver.execute_script("return document.body.innerText")
            raise AssertionError(f"no cards for {TAGS} with the runs {RUNS}; the page shows:\n{body[:2000]}") from error
        assert len(cards) == len(TAGS), f"the tag filter should leave the two cards: {cards}"
        charts = driver.execute_script("return document.querySelectorAll('scalar-card canvas, scalar-card svg').length")
        assert charts, "the cards have no chart"
        time.sleep(1.0)  # the charts draw in a worker: let the lines land before the picture
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(SCREENSHOTS / "05_training_scalars.png"))

        local, remote, failed, urls = (server.url + "/", f"ws://127.0.0.1:{server.port}/"), [], [], {}
        for entry in driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            params = message["params"]
            if message["method"] in ("Network.requestWillBeSent", "Network.webSocketCreated"):
                url = urls[params["requestId"]] = params.get("request", params).get("url", "")
                if re.match(r"(https?|wss?)://", url) and not url.startswith(local):
                    remote.append(url)
            elif message["method"] == "Network.loadingFailed" and not params.get("canceled"):
                failed.append(f"{urls.get(params['requestId'], params['requestId'])}: {params.get('errorText')}")
        assert not remote, f"the dashboard requested outside the local server: {remote}"
        assert not failed, f"requests failed: {failed}"
        errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert not errors, f"errors in the browser console: {errors}"
    finally:
        stop_chromium(driver)


def test_the_server_stops_and_leaves_nothing(server: TensorBoardServer) -> None:
    """Stopped: no process of its group left (its data server included), no info file for notebook.list()."""
    server.stop()
    assert server.process.returncode is not None
    assert not _group(server.process.pid), f"processes of the stopped TensorBoard are left: {_group(server.process.pid)}"
    assert not list(server.tmp.glob(".tensorboard-info/pid-*.info")), "TensorBoard left its info file behind"
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        server.get("/data/environment", timeout=5)
