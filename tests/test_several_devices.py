"""Notebook 11's workers and their watchdog: a wrong TF_CONFIG, a worker that never starts and one that dies end with
a clear error in bounded time, and no worker is left running. (The two-worker training itself runs for real, on
127.0.0.1, every time the test suite executes notebook 11.)

Real workers (multi_worker.py, TensorFlow) run where only they show something: the refusal of a wrong TF_CONFIG
(before TensorFlow is imported), and two workers that connect, train and see one of them die. The watchdog's other
guarantees (the wait for a worker that never starts, a worker that ends without a result, the overall timeout) are
shown with stand-in workers, which start in a blink, and multi_worker.py's check of the global batch in this
process, with a stand-in for the connected strategy.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from notebook_code import definitions
from processes import processes_left

import multi_worker  # notebooks/multi_worker.py, importable as helpers is (the project's editable install)

notebook = definitions("11")  # 11's imports, constants and functions: free_ports, tf_config, run_workers, ...
SHORT = ["--images", "1024", "--epochs", "1", "--batch-per-replica", "32"]


def _no_worker_left(worker: Path = notebook.WORKER) -> None:
    """No process of this test process' own (its children) runs `worker` any more."""
    left = processes_left(parent=os.getpid(), command=str(worker))
    assert not left, f"workers still running: {left}"


HOSTS = ["127.0.0.1:20000", "127.0.0.1:20001"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("{'cluster': {}}", "TF_CONFIG is not valid JSON"),
        ('{"task": {"type": "worker", "index": 0}}', "TF_CONFIG has no list of workers"),
        ('{"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}', "TF_CONFIG has no list of workers"),
        ('["127.0.0.1:20000"]', "TF_CONFIG has no list of workers"),
        (
            json.dumps({"cluster": {"worker": HOSTS}, "task": {"type": "worker", "index": 2}}),
            "is not one of the 2 workers",
        ),
        (
            json.dumps({"cluster": {"worker": HOSTS}, "task": {"type": "chief", "index": 0}}),
            "is not one of the 2 workers",
        ),
        (json.dumps({"cluster": {"worker": HOSTS}, "task": "worker"}), "is not one of the 2 workers"),
    ],
)
def test_a_wrong_tf_config_is_refused_before_anything_starts(monkeypatch, config: str, message: str) -> None:
    monkeypatch.setenv("TF_CONFIG", config)
    with pytest.raises(SystemExit, match=message):
        multi_worker.check_tf_config()


@pytest.mark.parametrize("config", [notebook.tf_config(HOSTS, 1), ""])
def test_a_right_tf_config_or_none_passes(monkeypatch, config: str) -> None:
    monkeypatch.setenv("TF_CONFIG", config)
    multi_worker.check_tf_config()  # no TF_CONFIG: one worker alone, as TensorFlow does


def test_tf_config_names_the_cluster_and_the_task() -> None:
    config = json.loads(notebook.tf_config(HOSTS, 1))
    assert config == {"cluster": {"worker": HOSTS}, "task": {"type": "worker", "index": 1}}
    ports = notebook.free_ports(3)
    assert len(set(ports)) == 3 and all(1024 <= port < 65536 for port in ports)


def test_a_wrong_tf_config_stops_every_worker_with_its_reason() -> None:
    """Real workers: the second refuses its TF_CONFIG at once, and the first (importing TensorFlow) is stopped."""
    hosts = [f"127.0.0.1:{port}" for port in notebook.free_ports(2)]
    start = time.monotonic()
    with pytest.raises(notebook.WorkersFailed, match=r"worker 1 stopped with exit code 1: TF_CONFIG's task .* not one"):
        notebook.run_workers(SHORT, configs=[notebook.tf_config(hosts, 0), notebook.tf_config(hosts, 5)], show=None)
    assert time.monotonic() - start < 60
    _no_worker_left()


def test_a_worker_that_dies_stops_the_run() -> None:
    """Real workers, connected to each other and training: one stops, as a machine switched off, and the run ends
    with its reason (or the other worker's error, when the other notices first)."""
    lines: list[str] = []
    start = time.monotonic()
    with pytest.raises(notebook.WorkersFailed, match=r"worker \d stopped with exit code") as stopped:
        notebook.run_workers([*SHORT, "--stop-worker", "1", "--stop-after", "2"], show=lines.append)
    assert time.monotonic() - start < 90
    reason = str(stopped.value)
    assert "worker 1 stopped with exit code 3: stopping after 2 steps" in reason or (
        "worker 0 stopped with exit code 1:" in reason and "Error" in reason
    ), reason
    for index in (0, 1):  # what the watchdog's wait for the others relies on: "connecting", then "connected"
        said = [line.split(": ", 1)[1] for line in lines if line.startswith(f"worker {index}: ")]
        expected = ["connecting to the other workers", f"connected: worker {index}, 2 replicas in all"]
        assert said[:2] == expected, (index, lines)
    _no_worker_left()


def test_fewer_images_than_a_global_batch_is_refused_with_its_reason(monkeypatch) -> None:
    """multi_worker.py's own check, in this process: the global batch is the images per replica times the replicas
    of the connected cluster (a stand-in strategy with 2; that a real cluster of two has 2: the test above), and a
    worker stops with its reason, which the launcher passes on (the wrong TF_CONFIG test above)."""
    import tensorflow as tf

    import helpers

    class TwoWorkers:  # what MultiWorkerMirroredStrategy() gives worker 0 of two, once both are connected
        num_replicas_in_sync = 2
        cluster_resolver = type("Resolver", (), {"task_id": 0})

    monkeypatch.setattr(tf.distribute, "MultiWorkerMirroredStrategy", TwoWorkers)
    monkeypatch.setattr(helpers, "setup", lambda seed: None)  # this process' seeds and determinism stay as they are
    monkeypatch.setattr("sys.argv", ["multi_worker.py", "--images", "16", "--batch-per-replica", "32"])
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(SystemExit, match=r"--images 16: fewer than one global batch \(64 images\); give at least"):
        multi_worker.main()


def _fake_workers(tmp_path: Path, body: str):
    """Notebook 11's launcher, starting a stand-in for multi_worker.py (no TensorFlow: it runs in a blink)."""
    fake = tmp_path / "fake_worker.py"
    fake.write_text("import sys, time\n" + body + "\n")
    return definitions("11", WORKER=fake)


def test_a_worker_that_never_starts_ends_the_wait_in_bounded_time(tmp_path: Path) -> None:
    """A worker that says it is connecting (as multi_worker.py does before it waits for the others, see the test
    above) and never connects: the watchdog ends the wait after connect_seconds, and kills it."""
    fake = _fake_workers(tmp_path, 'print("connecting to the other workers", flush=True)\ntime.sleep(600)')
    lines: list[str] = []
    start = time.monotonic()
    with pytest.raises(fake.WorkersFailed, match="worker 0 waited 1 s for the other workers to connect"):
        fake.run_workers(SHORT, start=[0], connect_seconds=1, show=lines.append)
    assert time.monotonic() - start < 10
    assert lines == ["worker 0: connecting to the other workers"]
    _no_worker_left(fake.WORKER)


def test_a_worker_that_ends_without_a_result_is_reported(tmp_path: Path) -> None:
    fake = _fake_workers(tmp_path, 'print("connecting to the other workers", flush=True)')
    with pytest.raises(fake.WorkersFailed, match=r"workers \[0, 1\] ended without a result"):
        fake.run_workers([], show=None)
    _no_worker_left(fake.WORKER)


def test_the_watchdog_gives_up_after_its_timeout_and_kills_what_runs(tmp_path: Path) -> None:
    fake = _fake_workers(tmp_path, 'print("connected: a worker that never ends", flush=True)\ntime.sleep(600)')
    start = time.monotonic()
    with pytest.raises(fake.WorkersFailed, match="the workers had not finished after 1 s"):
        fake.run_workers([], timeout=1, show=None)
    assert time.monotonic() - start < 10
    _no_worker_left(fake.WORKER)
