"""Unit tests of notebooks/helpers.py: IDX reading, loading, models, atomic writes, saving and loading models."""

from __future__ import annotations

import gzip
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import helpers
import series


def idx_bytes(magic: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    """Raw IDX bytes: a header with the given magic and dimensions, then the payload."""
    return struct.pack(f">I{len(dims)}I", magic, *dims) + payload


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write a uint8 array as an IDX file (gzip-compressed when the name ends in .gz): a test fixture."""
    data = idx_bytes(0x0800 | array.ndim, array.shape, np.ascontiguousarray(array, dtype=np.uint8).tobytes())
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return path


def read_images(path: Path) -> np.ndarray:
    return helpers.read_idx(path, helpers.IMAGES_MAGIC)


def read_labels(path: Path) -> np.ndarray:
    return helpers.read_idx(path, helpers.LABELS_MAGIC)


def umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@pytest.fixture
def images() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(7, 5, 3), dtype=np.uint8)


@pytest.fixture
def labels() -> np.ndarray:
    return np.arange(7, dtype=np.uint8) % 10


# ---------------------------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("name", ["imgs.idx3-ubyte", "imgs.idx3-ubyte.gz"])
def test_images_round_trip_raw_and_gzip(tmp_path: Path, images: np.ndarray, name: str) -> None:
    path = write_idx(tmp_path / name, images)
    read = read_images(path)
    assert read.dtype == np.uint8 and read.shape == (7, 5, 3)
    np.testing.assert_array_equal(read, images)
    assert path.read_bytes()[:2] == (b"\x1f\x8b" if name.endswith(".gz") else b"\x00\x00")


@pytest.mark.parametrize("name", ["labels.idx1-ubyte", "labels.idx1-ubyte.gz"])
def test_labels_round_trip_raw_and_gzip(tmp_path: Path, labels: np.ndarray, name: str) -> None:
    path = write_idx(tmp_path / name, labels)
    np.testing.assert_array_equal(read_labels(path), labels)


def test_gzip_detected_by_content_not_name(tmp_path: Path, labels: np.ndarray) -> None:
    path = tmp_path / "labels-no-gz-suffix"
    path.write_bytes(gzip.compress(idx_bytes(2049, (7,), labels.tobytes())))
    np.testing.assert_array_equal(read_labels(path), labels)


def test_empty_set_of_images_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "none.idx3"
    path.write_bytes(idx_bytes(2051, (0, 28, 28), b""))
    assert read_images(path).shape == (0, 28, 28)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_images(tmp_path / "nope.idx3-ubyte")


def test_missing_bundled_file_says_where_the_data_should_be() -> None:
    with pytest.raises(FileNotFoundError, match=r"bundles MNIST in data/.*git checkout -- data/"):
        read_images(helpers.DATA_DIR / "does-not-exist.idx3-ubyte")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match="is a directory, not an IDX file"):
        read_labels(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    with pytest.raises(helpers.IDXFormatError, match=r"empty \(0 bytes\)"):
        read_images(path)


@pytest.mark.parametrize("content", [b"\x00\x00", struct.pack(">II", 2051, 10)])
def test_header_cut_short(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "short"
    path.write_bytes(content)
    with pytest.raises(helpers.IDXFormatError, match=r"header cut short: \d+ bytes, an IDX image file needs 16"):
        read_images(path)


def test_wrong_magic_labels_given_to_read_images(tmp_path: Path, labels: np.ndarray) -> None:
    path = write_idx(tmp_path / "labels.idx1", labels)
    with pytest.raises(helpers.IDXFormatError, match=r"wrong magic number 2049.*starts with 2051.*a label file"):
        read_images(path)


def test_wrong_magic_unknown(tmp_path: Path) -> None:
    path = tmp_path / "picture.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(helpers.IDXFormatError, match=r"wrong magic number .*Is it an IDX file at all\?"):
        read_labels(path)


def test_payload_shorter_than_declared(tmp_path: Path) -> None:
    path = tmp_path / "trunc"
    path.write_bytes(idx_bytes(2051, (2, 28, 28), bytes(28 * 28 + 5)))
    with pytest.raises(helpers.IDXFormatError, match=r"payload shorter than the header declares.*1,568 bytes.*789"):
        read_images(path)


def test_payload_longer_than_declared(tmp_path: Path) -> None:
    path = tmp_path / "long"
    path.write_bytes(idx_bytes(2049, (3,), bytes(4)))
    with pytest.raises(helpers.IDXFormatError, match=r"payload longer than the header declares.*3 bytes.*holds 4"):
        read_labels(path)


@pytest.mark.parametrize("gz", [False, True])
def test_payload_mismatch_in_gzip(tmp_path: Path, gz: bool) -> None:
    data = idx_bytes(2049, (10,), bytes(6))
    path = tmp_path / "l"
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(helpers.IDXFormatError, match=r"payload shorter.*10 bytes.*holds 6"):
        read_labels(path)


def test_gzip_payload_longer(tmp_path: Path) -> None:
    path = tmp_path / "l.gz"
    path.write_bytes(gzip.compress(idx_bytes(2049, (10,), bytes(12))))
    with pytest.raises(helpers.IDXFormatError, match=r"payload longer.*holds 12"):
        read_labels(path)


@pytest.mark.parametrize("gz", [False, True])
def test_absurd_sizes_do_not_allocate(tmp_path: Path, gz: bool) -> None:
    data = idx_bytes(2051, (0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), bytes(100))
    path = tmp_path / "absurd"
    path.write_bytes(gzip.compress(data) if gz else data)
    import tracemalloc

    pattern = "absurd sizes" if gz else "payload shorter than the header declares"
    tracemalloc.start()
    try:
        with pytest.raises(helpers.IDXFormatError, match=pattern):
            read_images(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"{peak:,} bytes allocated: the payload should never have been read"


def test_corrupt_gzip(tmp_path: Path, images: np.ndarray) -> None:
    good = gzip.compress(idx_bytes(2051, images.shape, images.tobytes()))
    path = tmp_path / "bad.gz"
    path.write_bytes(good[:10] + bytes(len(good) - 10))
    with pytest.raises(helpers.IDXFormatError, match="corrupt gzip stream"):
        read_images(path)


def test_truncated_gzip(tmp_path: Path, images: np.ndarray) -> None:
    good = gzip.compress(idx_bytes(2051, images.shape, images.tobytes()))
    path = tmp_path / "cut.gz"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(helpers.IDXFormatError, match="corrupt gzip stream"):
        read_images(path)


def test_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "named-file.idx1"
    path.write_bytes(b"\x00")
    with pytest.raises(helpers.IDXFormatError, match="named-file.idx1"):
        read_labels(path)


# ------------------------------------------------------------------------------------------- loading


def test_load_mnist_idx_shapes() -> None:
    (train_data, train_labels), (test_data, test_labels) = helpers.load_mnist()
    assert train_data.shape == (60000, 28, 28) and test_data.shape == (10000, 28, 28)
    assert train_labels.shape == (60000,) and test_labels.shape == (10000,)
    assert train_data.dtype == np.uint8 and train_labels.dtype == np.uint8
    assert train_labels[:5].tolist() == [5, 0, 4, 1, 9]


def test_load_mnist_from_other_folder(tmp_path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    for key, name in helpers.MNIST_FILES.items():
        write_idx(tmp_path / name, images if "images" in key else labels)
    (a, b), (c, d) = helpers.load_mnist(data_dir=tmp_path)
    np.testing.assert_array_equal(a, images)
    np.testing.assert_array_equal(d, labels)


def test_prepare_adds_channel_axis() -> None:
    batch = helpers.prepare(np.full((3, 28, 28), 255, np.uint8))
    assert tuple(batch.shape) == (3, 28, 28, 1) and float(batch.numpy().max()) == 1.0


@pytest.mark.parametrize("shape", [(28, 28), (3, 32, 32), (3, 28, 28, 3)])
def test_prepare_wrong_shape(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"Expected images of shape \(N, 28, 28\); got"):
        helpers.prepare(np.zeros(shape, np.uint8))


# -------------------------------------------------------------------------------------------- paths


def test_paths_resolve_from_repo_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MNIST_TUTORIAL_OUTPUT", raising=False)
    monkeypatch.chdir(tmp_path)
    root = series.REPO_ROOT
    assert helpers.REPO_ROOT == root
    assert helpers.DATA_DIR == root / "data"
    assert helpers.output_root() == root
    assert helpers.model_dir("fc") == root / "saved_model" / "mnist_fc"
    assert helpers.show_path(root / "saved_model" / "mnist_cnn" / "model.keras") == "saved_model/mnist_cnn/model.keras"


def test_output_root_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MNIST_TUTORIAL_OUTPUT", str(tmp_path))
    assert helpers.model_dir("cnn") == tmp_path.resolve() / "saved_model" / "mnist_cnn"
    assert helpers.output_root() == tmp_path.resolve()
    assert helpers.show_path(helpers.output_root() / "assets" / "x.png") == "assets/x.png"


def test_model_dir_unknown_type() -> None:
    with pytest.raises(ValueError, match="Unknown model type 'rnn'; valid types are: fc, cnn"):
        helpers.model_dir("rnn")


# ------------------------------------------------------------------------------------------- models


@pytest.mark.parametrize(("model_type", "params"), [("fc", 104_938), ("cnn", 121_930)])
def test_build_model_parameter_counts(model_type: str, params: int) -> None:
    model = helpers.build_model(model_type)
    assert model.count_params() == params
    assert model.output_shape == (None, 10)


def test_build_model_layers() -> None:
    fc = [type(layer).__name__ for layer in helpers.build_model("fc").layers]
    cnn = [type(layer).__name__ for layer in helpers.build_model("cnn").layers]
    assert fc == ["Flatten", "Dense", "Dense", "Dense"]
    assert cnn == ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense"]


def test_build_model_prints_no_warning(recwarn: pytest.WarningsRecorder, capfd) -> None:
    helpers.build_model("cnn")
    helpers.build_model("fc")
    assert [str(w.message) for w in recwarn] == []
    assert capfd.readouterr().err == ""


def test_mixed_precision_keeps_the_output_and_the_weights_in_float32() -> None:
    """Under mixed_bfloat16 the layers compute in bfloat16, but the weights and the softmax output stay float32."""
    import keras

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = helpers.build_model("cnn")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.layers[0].compute_dtype == "bfloat16" and model.layers[0].variable_dtype == "float32"
    assert model.layers[-1].compute_dtype == "float32" and model(np.zeros((1, 28, 28, 1))).dtype == "float32"
    assert helpers.build_model("cnn").layers[0].compute_dtype == "float32"  # the default policy is back


def test_has_bf16_reads_the_processor_flags(monkeypatch) -> None:
    fake = {
        "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512f avx512_bf16\n": True,
        "flags\t: fpu avx2 amx_tile amx_bf16\n": True,  # Intel's matrix units
        "flags\t: fpu avx2 fma avx512f avx512_vnni\n": False,  # AVX-512 without its bf16 extension
        "Features\t: neon\n": None,  # no x86 flags line: it cannot tell
    }
    for text, expected in fake.items():
        monkeypatch.setattr(Path, "read_text", lambda self, text=text: text)
        assert helpers.has_bf16() is expected, text

    def unreadable(self):
        raise OSError("no /proc here")

    monkeypatch.setattr(Path, "read_text", unreadable)
    assert helpers.has_bf16() is None


def test_training_speed_times_the_second_epoch_and_restores_the_policy(monkeypatch) -> None:
    """Images/s of the second of two epochs (the first builds the training step), timed by a fake clock: 4 s."""
    import types

    import keras

    fits, readings, real_fit = [], [], keras.Model.fit

    def fit(self, *args, **kwargs):
        fits.append(kwargs["batch_size"])
        return real_fit(self, *args, **kwargs)

    def clock() -> float:  # 100 s, then 104 s
        readings.append(len(fits))
        return 100.0 + 4.0 * (len(readings) - 1)

    monkeypatch.setattr(keras.Model, "fit", fit)
    monkeypatch.setattr(helpers, "time", types.SimpleNamespace(perf_counter=clock))
    (images, labels), _ = helpers.load_mnist()
    speed = helpers.training_speed(helpers.prepare(images[:256]), labels[:256], batch_size=64, steps_per_execution=2)
    assert fits == [64, 64] and readings == [1, 2], "the clock is read after the first epoch and after the second"
    assert speed == 256 / 4.0 and keras.mixed_precision.global_policy().name == "float32"


def test_build_model_unknown_type() -> None:
    with pytest.raises(ValueError, match="Unknown model type 'mlp'; valid types are: fc, cnn"):
        helpers.build_model("mlp")


def test_setup_makes_runs_reproducible() -> None:
    helpers.setup(7)
    first = helpers.build_model("fc").get_weights()[0]
    a = np.random.rand(3)
    helpers.setup(7)
    second = helpers.build_model("fc").get_weights()[0]
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(a, np.random.rand(3))


def test_setup_turns_autotuning_off_in_keras_array_pipeline_and_keeps_its_batches() -> None:
    """The pipeline `fit` builds for NumPy arrays runs without tf.data's autotuning, with the same batches."""
    import tensorflow as tf
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    x = np.arange(100, dtype="float32").reshape(100, 1)
    y = np.arange(100) % 10
    helpers.setup(3)
    patched = ArrayDataAdapter(x, y, batch_size=32, shuffle=True).get_tf_dataset()
    assert patched.options().autotune.enabled is False
    steady = [batch.numpy().ravel().tolist() for batch, _ in patched]
    helpers.setup(3)  # a second call keeps one wrapper, not two
    assert ArrayDataAdapter.get_tf_dataset.steady is True
    original = ArrayDataAdapter.get_tf_dataset.original
    assert not getattr(original, "steady", False)
    helpers.setup(3)
    stock = original(ArrayDataAdapter(x, y, batch_size=32, shuffle=True))
    assert stock.options().autotune.enabled is not False
    assert [batch.numpy().ravel().tolist() for batch, _ in stock] == steady
    assert [len(b) for b in steady] == [32, 32, 32, 4] and sorted(sum(steady, [])) == list(range(100))
    assert tf.data.Options().autotune.enabled is None, "only Keras' array pipeline changes"


def test_fit_on_arrays_goes_through_the_patched_pipeline(monkeypatch) -> None:
    """helpers.setup's change to Keras' private array pipeline still applies to the pinned Keras: `fit` on NumPy
    arrays builds its dataset with the patched method, without autotuning. After an upgrade that moves or renames
    what it patches, this fails (the patch itself would switch off without a word)."""
    import keras
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    helpers.setup(5)
    patched = ArrayDataAdapter.get_tf_dataset
    assert getattr(patched, "steady", False) is True, "helpers.setup no longer patches Keras' array pipeline"
    built = []

    def spy(self):
        built.append(patched(self))
        return built[-1]

    monkeypatch.setattr(ArrayDataAdapter, "get_tf_dataset", spy)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(np.zeros((64, 4), "float32"), np.zeros(64, "int32"), batch_size=32, epochs=1, verbose=0)
    assert built, "fit on arrays no longer builds its dataset through ArrayDataAdapter.get_tf_dataset"
    assert all(dataset.options().autotune.enabled is False for dataset in built)


def test_tf_enable_onednn_opts_0_still_turns_onednn_off() -> None:
    code = "import helpers; from tensorflow.python.util import _pywrap_util_port as u; print(u.IsMklEnabled())"
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.stdout.strip().splitlines()[-1] == "False", result.stderr[-2000:]


@pytest.fixture(scope="module")
def tiny_model():
    helpers.setup(0)
    model = helpers.build_model("fc")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = helpers.prepare(np.random.default_rng(0).integers(0, 256, (64, 28, 28), dtype=np.uint8))
    model.fit(x, np.arange(64) % 10, epochs=1, verbose=0)
    return model, x


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_save_and_load_round_trip(tmp_path: Path, tiny_model, suffix: str) -> None:
    model, x = tiny_model
    path = helpers.save_model(model, tmp_path / f"model{suffix}")
    assert [p.name for p in tmp_path.iterdir()] == [f"model{suffix}"]
    loaded = helpers.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_saving_h5_keeps_the_optimizer_for_later_saves(tmp_path: Path, tiny_model) -> None:
    model, _ = tiny_model
    helpers.save_model(model, tmp_path / "model.h5")
    reloaded = helpers.load_model(helpers.save_model(model, tmp_path / "model.keras"))
    assert type(reloaded.optimizer).__name__ == "Adam"


def test_save_model_does_not_overwrite(tmp_path: Path, tiny_model) -> None:
    model, _ = tiny_model
    path = tmp_path / "model.keras"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="already exists; pass overwrite=True"):
        helpers.save_model(model, path)
    assert path.read_bytes() == b"precious"
    helpers.save_model(model, path, overwrite=True)
    assert helpers.load_model(path).count_params() == 104_938


def test_save_model_wrong_suffix(tmp_path: Path, tiny_model) -> None:
    with pytest.raises(ValueError, match=r"save as .keras \(recommended\) or .h5 \(legacy\)"):
        helpers.save_model(tiny_model[0], tmp_path / "model.pkl")


def test_export_a_savedmodel_atomically(tmp_path: Path, tiny_model) -> None:
    """Notebook 07 writes the SavedModel folder with write_atomically(path, model.export): a folder replaced whole."""
    model, x = tiny_model

    def export(tmp: Path) -> None:
        model.export(str(tmp), verbose=False)

    path = helpers.write_atomically(tmp_path / "serving", export)
    assert (path / "saved_model.pb").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["serving"]
    reloaded = helpers.tf.saved_model.load(str(path))
    np.testing.assert_allclose(reloaded.serve(x).numpy(), model(x).numpy(), rtol=0, atol=1e-6)
    with pytest.raises(FileExistsError, match="already exists; pass overwrite=True"):
        helpers.write_atomically(path, export)
    (path / "stale.txt").write_text("from an older export")
    helpers.write_atomically(path, export, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["serving"] and not (path / "stale.txt").exists()


def test_write_atomically_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    path.write_text("good")

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        helpers.write_atomically(path, broken, overwrite=True)
    assert path.read_text() == "good" and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
    helpers.write_atomically(path, lambda tmp: tmp.write_text("new"), overwrite=True)
    assert path.read_text() == "new" and path.stat().st_mode & 0o777 == 0o666 & ~umask()


def test_write_atomically_keeps_the_old_folder_when_writing_fails(tmp_path: Path) -> None:
    folder = tmp_path / "serving"
    folder.mkdir()
    (folder / "saved_model.pb").write_text("good")

    def broken(tmp: Path) -> None:
        tmp.mkdir()
        raise RuntimeError("export failed")

    with pytest.raises(RuntimeError, match="export failed"):
        helpers.write_atomically(folder, broken, overwrite=True)
    assert (folder / "saved_model.pb").read_text() == "good" and [p.name for p in tmp_path.iterdir()] == ["serving"]


def test_load_model_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no saved model there. Train one first \(notebook 05\)"):
        helpers.load_model(tmp_path / "model.keras")


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_load_model_not_a_model(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"model{suffix}"
    path.write_bytes(b"this is not a model at all")
    with pytest.raises(helpers.ModelFileError, match=f"model{suffix}: not a valid saved Keras model"):
        helpers.load_model(path)


def test_load_model_wrong_kind_of_file(tmp_path: Path) -> None:
    path = tmp_path / "weights.txt"
    path.write_text("0.1 0.2")
    with pytest.raises(helpers.ModelFileError, match=r"not a Keras model file \(expected .keras or .h5\)"):
        helpers.load_model(path)


def test_load_model_savedmodel_folder(tmp_path: Path) -> None:
    with pytest.raises(helpers.ModelFileError, match=r"is a folder.*tf.saved_model.load\(\)"):
        helpers.load_model(tmp_path)


def test_load_or_train_loads_existing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_model, capsys) -> None:
    monkeypatch.setenv("MNIST_TUTORIAL_OUTPUT", str(tmp_path))
    helpers.save_model(tiny_model[0], helpers.model_dir("fc") / "model.keras")
    model = helpers.load_or_train("fc")
    assert capsys.readouterr().out == "Loaded the trained model from saved_model/mnist_fc/model.keras.\n"
    assert model.count_params() == 104_938


def test_load_or_train_trains_when_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    """A missing model is trained on the training images less the validation set, and saved."""
    monkeypatch.setenv("MNIST_TUTORIAL_OUTPUT", str(tmp_path))
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (6_064, 28, 28), dtype=np.uint8), np.arange(6_064) % 10
    monkeypatch.setattr(helpers, "load_mnist", lambda: ((images, labels), (images[:10], labels[:10])))
    fits, fit = [], helpers.keras.Model.fit
    monkeypatch.setattr(
        helpers.keras.Model, "fit", lambda self, x, y, **kw: fits.append((len(x), len(y), kw)) or fit(self, x, y, **kw)
    )
    model = helpers.load_or_train("fc", epochs=2)
    assert "No trained model at saved_model/mnist_fc/model.keras: training one now (2 epochs" in capsys.readouterr().out
    assert fits == [(64, 64, {"epochs": 2, "verbose": 0})], "64 images: the last 6,000 are the validation set"
    assert type(model.optimizer).__name__ == "Adam" and model.loss == "sparse_categorical_crossentropy"
    assert helpers.load_model(tmp_path / "saved_model" / "mnist_fc" / "model.keras").count_params() == 104_938


# ------------------------------------------------------------------------------- validation split, figures


def test_split_validation_holds_out_the_last_images() -> None:
    images, labels = np.arange(7000 * 2).reshape(7000, 2), np.arange(7000)
    (train_images, train_labels), (val_images, val_labels) = helpers.split_validation(images, labels)
    assert len(val_images) == len(val_labels) == helpers.VALIDATION_IMAGES == 6000
    assert train_labels.tolist() == list(range(1000)) and val_labels[0] == 1000 and val_labels[-1] == 6999
    assert np.array_equal(val_images, images[1000:])
    with pytest.raises(ValueError, match="Need more than 6,000 images, as many as labels"):
        helpers.split_validation(images[:6000], labels[:6000])
    with pytest.raises(ValueError, match="got 7,000 images and 6,999 labels"):
        helpers.split_validation(images, labels[:-1])


def test_save_figure_writes_the_same_png_every_time(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.imshow(np.random.default_rng(1).integers(0, 256, (28, 28)), cmap="gray")
    helpers.save_figure(fig, tmp_path / "new" / "grid.png")  # the folder is created
    first = (tmp_path / "new" / "grid.png").read_bytes()
    assert first.startswith(b"\x89PNG")
    helpers.save_figure(fig, tmp_path / "new" / "grid.png")
    assert (tmp_path / "new" / "grid.png").read_bytes() == first  # reruns give identical files
    assert [p.name for p in (tmp_path / "new").iterdir()] == ["grid.png"], "no temporary file left behind"
    plt.close(fig)


# ---------------------------------------------------------------------------------------------- the module


def test_helpers_holds_only_what_notebooks_share_and_stays_short() -> None:
    """helpers.py: at most 300 lines, and each public function used by two notebooks (or by one and by helpers)."""
    import ast
    import re

    import nbformat

    source = Path(helpers.__file__).read_text()
    assert len(source.splitlines()) <= 300, "helpers.py reads top to bottom in five minutes: at most 300 lines"
    code = {
        path.name: "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        for path in series.NOTEBOOKS
    }
    functions = [
        node.name
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")
    ]
    for name in functions:
        notebooks = [n for n, text in code.items() if re.search(rf"\bhelpers\.{name}\b", text)]
        inside = len(re.findall(rf"\b{name}\(", source)) > 1  # called by another helper, not only defined
        assert len(notebooks) + inside >= 2, f"helpers.{name} serves {notebooks or 'no notebook'}: move it there"


def test_a_gzip_file_that_declares_more_than_it_holds_is_read_in_chunks(tmp_path: Path) -> None:
    """A header within deflate's ratio but far beyond the data: memory grows with the data, not with the header."""
    import tracemalloc

    path = tmp_path / "big.gz"
    path.write_bytes(gzip.compress(idx_bytes(2051, (1000, 1000, 1000), os.urandom(1_000_000))))
    tracemalloc.start()
    try:
        with pytest.raises(helpers.IDXFormatError, match=r"payload shorter.*holds 1,000,000 bytes"):
            read_images(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, f"{peak:,} bytes allocated for a 1 MB payload"


def test_write_metrics_is_one_format_with_the_peak_memory(tmp_path) -> None:
    path = helpers.write_metrics(
        tmp_path / "build" / "metrics" / "x.json",
        fast={"fit_seconds": np.float32(1.5), "settings": {"batch_size": 128}},
        knob={"images_per_second": 10.0},
    )
    written = json.loads(path.read_text())
    assert written["runs"] == {
        "fast": {"fit_seconds": 1.5, "settings": {"batch_size": 128}},
        "knob": {"images_per_second": 10.0},
    }
    assert written["peak_memory_mb"] is None or written["peak_memory_mb"] > 50
    with pytest.raises(ValueError, match="fit_secs"):
        helpers.write_metrics(tmp_path / "y.json", fast={"fit_secs": 1.0})
    assert not (tmp_path / "y.json").exists()
