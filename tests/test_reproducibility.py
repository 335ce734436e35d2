"""oneDNN on for the whole series, and the same weights twice: training is reproducible on one machine.

`import helpers` turns TensorFlow's oneDNN kernels on before TensorFlow is imported (TensorFlow leaves them off on
some processors), and `helpers.setup(SEED)` seeds everything and makes the operations deterministic. Two fresh
processes that train the tutorial's CNN the way notebook 05 does (`fit` on NumPy arrays, with validation data)
must end with the same weights, bit for bit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import series

TRAIN = """
import hashlib, json
import helpers
import tensorflow as tf
from tensorflow.python.util import _pywrap_util_port

helpers.setup(42)
(train_data, train_labels), (val_data, val_labels) = helpers.split_validation(*helpers.load_mnist()[0])
train_images, val_images = helpers.prepare(train_data[:2048]), helpers.prepare(val_data[:512])
model = helpers.build_model("cnn")
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(train_images, train_labels[:2048], epochs=2, validation_data=(val_images, val_labels[:512]),
                    verbose=0)
digest = hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights())).hexdigest()
print(json.dumps({"onednn": bool(_pywrap_util_port.IsMklEnabled()), "weights": digest,
                  "val_accuracy": history.history["val_accuracy"]}))
"""


def _start() -> subprocess.Popen[str]:
    env = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}  # the series' default
    return subprocess.Popen(
        [sys.executable, "-c", TRAIN],
        env=env,
        cwd=series.REPO_ROOT / "notebooks",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(process: subprocess.Popen[str]) -> dict:
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]
    return json.loads(stdout.strip().splitlines()[-1])


def test_onednn_is_on_and_two_trainings_give_the_same_weights() -> None:
    """Two processes at the same time (they share nothing; the operations are deterministic whatever else runs)."""
    processes = [_start(), _start()]
    try:
        first, second = (_result(process) for process in processes)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert first["onednn"] is True, "import helpers should turn oneDNN on before TensorFlow is imported"
    assert first["val_accuracy"][-1] > 0.8, first
    assert first == second
