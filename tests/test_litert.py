"""Notebook 12's LiteRT code, run as the notebook defines it: a tiny model converted three ways and run, and clear
errors for a missing path, a file that is not a LiteRT model and images of the wrong shape or scale."""

from __future__ import annotations

import os
import re
import sys
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from notebook_code import definitions

import helpers

notebook = definitions("12")  # 12's imports and functions (quiet_stderr, convert, load_interpreter, predict_litert ...)
KINDS = ("float32", "dynamic", "int8")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A tiny untrained model for MNIST's images (seconds, not the CNN), exported as a SavedModel and converted the
    notebook's three ways, calibrated on 20 prepared training images."""
    helpers.setup(0)
    folder = tmp_path_factory.mktemp("litert")
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.MaxPooling2D(4),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.export(str(folder / "serving"), verbose=False)
    images = helpers.prepare(helpers.load_mnist()[0][0][:20]).numpy()
    converted = {kind: notebook.convert(folder / "serving", kind, images) for kind in KINDS}
    paths = {}
    for kind, content in converted.items():
        paths[kind] = folder / f"{kind}.tflite"
        paths[kind].write_bytes(content)
    return {"model": model, "folder": folder, "images": images, "converted": converted, "paths": paths}


def test_a_tiny_model_converts_three_ways_and_runs_as_keras_does(tiny) -> None:
    expected = tiny["model"].predict(tiny["images"], verbose=0)
    sizes = {kind: len(content) for kind, content in tiny["converted"].items()}
    assert all(content[4:8] == b"TFL3" for content in tiny["converted"].values())
    assert sizes["dynamic"] < sizes["float32"] and sizes["int8"] < sizes["float32"]
    for kind in KINDS:
        interpreter = notebook.load_interpreter(tiny["paths"][kind])
        detail = interpreter.get_input_details()[0]
        assert list(detail["shape"]) == [1, 28, 28, 1]
        assert detail["dtype"] == (np.int8 if kind == "int8" else np.float32)
        timings: list[int] = []
        probabilities = notebook.predict_litert(interpreter, tiny["images"], timings)
        assert probabilities.shape == (20, 10) and probabilities.dtype == np.float32
        assert len(timings) == 20 and min(timings) > 0
        tolerance = {"float32": 1e-5, "dynamic": 0.02, "int8": 0.03}[kind]
        assert np.abs(probabilities - expected).max() <= tolerance, kind
        from_bytes = notebook.predict_litert(notebook.load_interpreter(tiny["converted"][kind]), tiny["images"])
        np.testing.assert_array_equal(from_bytes, probabilities)  # a path or the converter's bytes: the same model


def test_int8_quantization_of_the_input_is_1_over_255_from_minus_128(tiny) -> None:
    scale, zero_point = notebook.load_interpreter(tiny["paths"]["int8"]).get_input_details()[0]["quantization"]
    assert scale == pytest.approx(1 / 255) and zero_point == -128


def test_convert_says_what_it_needs(tiny) -> None:
    with pytest.raises(ValueError, match=r"Unknown kind 'int4': choose float32, dynamic or int8\."):
        notebook.convert(tiny["folder"] / "serving", "int4")
    with pytest.raises(ValueError, match="The int8 conversion needs calibration images"):
        notebook.convert(tiny["folder"] / "serving", "int8")


def test_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"model\.tflite: no such file\. Convert the model first"):
        notebook.load_interpreter(tmp_path / "model.tflite")


def test_a_folder(tiny) -> None:
    with pytest.raises(IsADirectoryError, match=r"serving: is a folder, not a LiteRT file"):
        notebook.load_interpreter(tiny["folder"] / "serving")


@pytest.mark.parametrize("kind", ["random bytes", "empty", "h5", "keras"])
def test_a_file_that_is_not_a_litert_model(tmp_path: Path, tiny, kind: str) -> None:
    names = {"random bytes": "noise.tflite", "empty": "empty.tflite", "h5": "model.h5", "keras": "model.keras"}
    path = tmp_path / names[kind]
    if kind == "random bytes":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        helpers.save_model(tiny["model"], path)
    with pytest.raises(ValueError, match=rf"{path.name}: not a LiteRT model \(a LiteRT file has the identifier TFL3"):
        notebook.load_interpreter(path)


def test_bytes_that_are_not_a_litert_model() -> None:
    with pytest.raises(ValueError, match="these bytes: not a LiteRT model"):
        notebook.load_interpreter(b"PK\x03\x04 a zip archive, not a model")


def test_a_litert_file_cut_short(tmp_path: Path, tiny) -> None:
    """The identifier is there, the rest is not: the interpreter's own error, re-raised naming the file."""
    path = tmp_path / "cut.tflite"
    content = tiny["converted"]["float32"]
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(ValueError, match=r"cut\.tflite: not a valid LiteRT model \(.+\)\. Is it cut short\?"):
        notebook.load_interpreter(path)


@pytest.mark.parametrize(
    ("shape", "hint"),
    [((28, 27), ""), ((3, 28, 28, 2), ""), ((5, 28, 28), ""), ((28, 28, 1), " For one image, use image[None].")],
)
def test_images_of_the_wrong_shape(tiny, shape: tuple[int, ...], hint: str) -> None:
    interpreter = notebook.load_interpreter(tiny["paths"]["int8"])
    message = f"Expected images of shape (N, 28, 28, 1), as helpers.prepare makes them; got {shape}.{hint}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        notebook.predict_litert(interpreter, np.zeros(shape, np.float32))


def test_images_not_prepared(tiny) -> None:
    interpreter = notebook.load_interpreter(tiny["paths"]["float32"])
    raw = helpers.load_mnist()[0][0][:3, :, :, None]  # pixel values 0 to 255
    message = "Expected pixel values from 0 to 1, as helpers.prepare makes them; got 0 to 255."
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        notebook.predict_litert(interpreter, raw)


def test_quiet_stderr_silences_file_descriptor_2_and_puts_it_back(capfd: pytest.CaptureFixture[str]) -> None:
    with notebook.quiet_stderr():
        os.write(2, b"a note from C++ code\n")
    os.write(2, b"after the block\n")
    assert capfd.readouterr().err == "after the block\n"


def test_without_ai_edge_litert_tensorflows_interpreter_runs_without_a_warning(monkeypatch, tiny) -> None:
    """An environment without ai-edge-litert: tf.lite.Interpreter, its deprecation warning silenced."""
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)  # `import ai_edge_litert...` now raises ImportError
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    assert notebook.litert_interpreter_class() is tf.lite.Interpreter
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning that escapes fails the test
        interpreter = notebook.load_interpreter(tiny["paths"]["int8"])
    assert isinstance(interpreter, tf.lite.Interpreter)
    assert notebook.predict_litert(interpreter, tiny["images"][:2]).shape == (2, 10)
