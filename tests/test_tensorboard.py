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
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import keras
import nbformat
import pytest
from browser import console_errors, network_log, start_chromium, stop_chromium
from notebook_code import definitions
from processes import free_port, processes_left, start_server, until

import helpers
import series

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


class TensorBoardServer:
    """`tensorboard --logdir ... --host 127.0.0.1 --port ...`, started in a process group of its own."""

    def __init__(self, logdir: Path, base: Path) -> None:
        self.port, self.base = free_port(), base
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = base / "tmp"  # TensorBoard's TMPDIR: its info file (what notebook.list() reads) lands here
        self.tmp.mkdir(parents=True)
        env = {**os.environ, "TMPDIR": str(self.tmp), "TF_CPP_MIN_LOG_LEVEL": "3"}
        command = [sys.executable, "-m", "tensorboard.main", "--logdir", logdir, "--host", "127.0.0.1",
                   "--port", self.port]  # fmt: skip
        self.started = start_server(
            command, lambda: self.get("/data/environment", timeout=5), base / "tensorboard.log", cwd=base, env=env,
            timeout=START_TIMEOUT, name="tensorboard",
        )  # fmt: skip

    def log_text(self) -> str:
        return self.started.log_text(4000, skip=("I0000", "W0000"))

    def get(self, path: str, timeout: float = 10) -> object:
        with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        """SIGTERM (TensorBoard exits cleanly and removes its info file; its data server goes with it), then
        SIGKILL to whatever of it is left."""
        self.started.stop(grace=15)


@pytest.fixture(scope="module")
def server(logs: SimpleNamespace):
    tensorboard = TensorBoardServer(logs.root, logs.root.parent / "server")
    try:
        yield tensorboard
    finally:
        tensorboard.stop()  # whatever happened (Ctrl-C included), the server goes


def test_the_scalars_are_served(server: TensorBoardServer, logs: SimpleNamespace) -> None:
    """The loss and accuracy of every epoch, for the training images and the validation set, as fit measured them."""

    def tags():  # TensorBoard reads the logs in the background: the first answers may be empty
        answer = server.get("/data/plugin/scalars/tags")
        return answer if all(set(TAGS) <= set(answer.get(run, {})) for run in RUNS) else None

    until(tags, f"TensorBoard did not list {TAGS} for the runs {RUNS}", detail=server.log_text)
    assert list(server.tmp.glob(".tensorboard-info/pid-*.info")), "no info file: notebook.list() would not see it"
    for run, prefix in zip(RUNS, ("", "val_"), strict=True):
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
        network_log(driver), console_errors(driver)  # so far: Chromium's start-up, a JSON page's favicon
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

        network = network_log(driver)
        remote = network.leaving(server.url + "/", f"ws://127.0.0.1:{server.port}/")
        assert not remote, f"the dashboard requested outside the local server: {remote}"
        assert not network.failed, f"requests failed: {network.failed}"
        # Chromium asks every server for /favicon.ico by itself, sometimes before the log is read: TensorBoard has none
        favicon = f"{server.url}/favicon.ico - "
        errors = [error for error in console_errors(driver) if not error.startswith(favicon)]
        assert not errors, f"errors in the browser console: {errors}"
    finally:
        stop_chromium(driver)


def test_the_server_stops_and_leaves_nothing(server: TensorBoardServer) -> None:
    """Stopped with SIGTERM, it exits and nothing of it is left of its own accord (its data server included: its
    group, and what carries its marker), and it leaves no info file for notebook.list()."""
    process = server.started.process

    def left() -> tuple[list[int], list[int]]:
        return processes_left(marker=server.started.marker), processes_left(group=process.pid)

    assert process.pid in left()[0] and process.pid in left()[1], "the running TensorBoard should show here"
    process.terminate()
    process.wait(timeout=15)
    until(lambda: not any(left()), "processes of the stopped TensorBoard are still there", 10, lambda: str(left()))
    assert not list(server.tmp.glob(".tensorboard-info/pid-*.info")), "TensorBoard left its info file behind"
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        server.get("/data/environment", timeout=5)
