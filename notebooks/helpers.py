"""Shared helpers for the MNIST with TensorFlow tutorial series.

The notebooks show the important code (the IDX reader, the models) in the open; this module holds what
would otherwise repeat from notebook to notebook. Every path is resolved from the repository root, so the
notebooks run from any working directory. Set the environment variable ``MNIST_TUTORIAL_OUTPUT`` to send
what the series writes (trained models, figures) to another folder, as the tests do.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import math
import os
import random
import shutil
import struct
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any, Iterator

# TensorFlow's C++ runtime logs to file descriptor 2 while it is imported; those lines would land in
# every notebook as red stderr output. Quiet them before TensorFlow is imported anywhere.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# oneDNN's CPU kernels for the whole series. TensorFlow turns them on by itself on some processors only (not on
# AVX2-only AMD ones, where they made the CNN 1.7x faster) and reads this variable once, when it is imported.
# Results stay reproducible with them on (tests/test_reproducibility.py); TF_ENABLE_ONEDNN_OPTS=0 turns them off.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import numpy as np  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"  # the bundled MNIST IDX files
MODEL_TYPES = ("fc", "cnn")
IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
# The validation set of the notebooks: the last 6,000 training images, held out of training and used for every
# choice; the test set is touched once, at the end. Notebook 05 shows the split and checks split_validation.
VALIDATION_IMAGES = 6_000
MNIST_FILES = {
    "train_images": "train-images.idx3-ubyte",
    "train_labels": "train-labels.idx1-ubyte",
    "test_images": "t10k-images.idx3-ubyte",
    "test_labels": "t10k-labels.idx1-ubyte",
}
IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions (count, rows, cols)
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension (count)
GZIP_MAX_RATIO = 1032  # deflate never expands data by more than this factor
_CHUNK = 1 << 20


class IDXFormatError(ValueError):
    """An IDX file whose content does not match the IDX format or its own header."""


class ModelFileError(ValueError):
    """A file that should hold a saved Keras model but does not."""


@contextlib.contextmanager
def _quiet_fd2() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the duration of the block, and always restore it."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


with _quiet_fd2():
    import tensorflow as tf  # noqa: E402
import keras  # noqa: E402


# --------------------------------------------------------------------------------------------------
# Paths


def output_root() -> Path:
    """Folder that receives what the series writes: the repository, or $MNIST_TUTORIAL_OUTPUT."""
    override = os.environ.get("MNIST_TUTORIAL_OUTPUT")
    return Path(override).resolve() if override else REPO_ROOT


def assets_dir() -> Path:
    """Folder for the figures the notebooks produce."""
    return output_root() / "assets"


def model_dir(model_type: str) -> Path:
    """Folder of one trained model: saved_model/mnist_{model_type}."""
    check_model_type(model_type)
    return output_root() / "saved_model" / f"mnist_{model_type}"


def show_path(path: str | os.PathLike[str]) -> str:
    """A path as a learner should read it: relative to the output root or the repository."""
    resolved = Path(path).resolve()
    for root in (output_root(), REPO_ROOT):
        if resolved.is_relative_to(root):
            return resolved.relative_to(root).as_posix()
    return str(path)


# --------------------------------------------------------------------------------------------------
# Reproducibility


def setup(seed: int = 42) -> None:
    """Seed Python, NumPy and TensorFlow, make ops deterministic and quiet TensorFlow's logging.

    Also turns tf.data's autotuning off in the pipeline Keras builds for `fit`, `evaluate` and `predict` on NumPy
    arrays (see `steady_array_pipeline`).
    """
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    steady_array_pipeline()
    tf.get_logger().setLevel("ERROR")
    with contextlib.suppress(ImportError):
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)


def steady_array_pipeline() -> None:
    """Keras' input pipeline for NumPy arrays, without tf.data's autotuning thread.

    Given arrays, `fit` cuts them into batches with a tf.data pipeline that autotunes, and makes a new iterator
    every epoch. In TensorFlow 2.21, deleting an iterator whose autotuning thread has missed its stop signal (a
    race in its cancellation) waits until that thread's next scheduled wake-up, up to 10 s later: epochs on a
    2-core CPU took up to 8 s longer now and then, and `fit` returned seconds after its last epoch. Without
    autotuning, the same batches in the same order, and no stalls. Idempotent; a no-op if Keras moved the class.
    """
    try:
        from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter
    except ImportError:  # another Keras: fit works as it is, only without this fix
        return
    original = ArrayDataAdapter.get_tf_dataset
    if getattr(original, "steady", False):
        return

    def get_tf_dataset(self: Any) -> Any:
        options = tf.data.Options()
        options.autotune.enabled = False
        return original(self).with_options(options)

    get_tf_dataset.steady = True  # type: ignore[attr-defined]
    get_tf_dataset.original = original  # type: ignore[attr-defined]  (the benchmark measures both)
    ArrayDataAdapter.get_tf_dataset = get_tf_dataset


# --------------------------------------------------------------------------------------------------
# IDX files


def _open_idx(path: Path) -> tuple[io.BufferedIOBase, bool, int]:
    """Open an IDX file, raw or gzip-compressed; return the stream, whether it is gzip, the file size."""
    if not path.exists():
        hint = ""
        if path.parent.resolve() == DATA_DIR.resolve():
            hint = (
                " The series bundles MNIST in data/; restore it with `git checkout -- data/` "
                "or copy the four IDX files there."
            )
        raise FileNotFoundError(f"{show_path(path)}: no such file.{hint}")
    if path.is_dir():
        raise IsADirectoryError(f"{show_path(path)}: is a directory, not an IDX file.")
    size = path.stat().st_size
    if size == 0:
        raise IDXFormatError(f"{show_path(path)}: the file is empty (0 bytes); it should start with an IDX header.")
    with open(path, "rb") as f:
        is_gzip = f.read(2) == b"\x1f\x8b"
    if is_gzip:
        return gzip.open(path, "rb"), True, size  # type: ignore[return-value]
    return open(path, "rb"), False, size


def _read_exact(stream: io.BufferedIOBase, n: int) -> bytes:
    """Read up to n bytes in chunks, so that memory grows with the data actually there."""
    parts = []
    remaining = n
    while remaining > 0:
        chunk = stream.read(min(remaining, _CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def read_idx(path: str | os.PathLike[str], expected_magic: int) -> np.ndarray:
    """Read an IDX file of unsigned bytes, checking its magic number, header and payload length."""
    path = Path(path)
    kind = {IMAGES_MAGIC: "image", LABELS_MAGIC: "label"}.get(expected_magic, "IDX")
    ndim = expected_magic & 0xFF
    header_size = 4 + 4 * ndim
    stream, is_gzip, file_size = _open_idx(path)
    try:
        with stream:
            header = _read_exact(stream, header_size)
            if len(header) < 4:
                raise IDXFormatError(
                    f"{show_path(path)}: header cut short: {len(header)} bytes, an IDX {kind} file needs {header_size}."
                )
            (magic,) = struct.unpack(">I", header[:4])
            if magic != expected_magic:
                other = {IMAGES_MAGIC: "an image file", LABELS_MAGIC: "a label file"}.get(magic)
                guess = f" It looks like {other}." if other else " Is it an IDX file at all?"
                raise IDXFormatError(
                    f"{show_path(path)}: wrong magic number {magic} (0x{magic:08X}); "
                    f"an IDX {kind} file starts with {expected_magic} (0x{expected_magic:08X}).{guess}"
                )
            if len(header) < header_size:
                raise IDXFormatError(
                    f"{show_path(path)}: header cut short: {len(header)} bytes, an IDX {kind} file needs {header_size}."
                )
            dims = struct.unpack(f">{ndim}I", header[4:])
            expected = math.prod(dims)
            if is_gzip:
                # The decompressed size is unknown, but deflate cannot expand data beyond a fixed ratio.
                if expected > GZIP_MAX_RATIO * file_size:
                    raise IDXFormatError(
                        f"{show_path(path)}: the header declares absurd sizes {dims} ({expected:,} bytes of data), "
                        f"more than a {file_size:,}-byte gzip file can hold. The file is corrupt."
                    )
            else:
                actual = file_size - header_size
                if expected != actual:
                    raise IDXFormatError(_payload_message(path, dims, expected, actual))
            payload = _read_exact(stream, expected + 1)
            if len(payload) != expected:
                actual = len(payload) if len(payload) <= expected else len(payload) + len(stream.read())
                raise IDXFormatError(_payload_message(path, dims, expected, actual))
    except (gzip.BadGzipFile, zlib.error, EOFError) as error:
        raise IDXFormatError(
            f"{show_path(path)}: corrupt gzip stream ({error}). Download or copy the file again."
        ) from error
    return np.frombuffer(payload, dtype=np.uint8).reshape(dims)


def _payload_message(path: Path, dims: tuple[int, ...], expected: int, actual: int) -> str:
    """The error message for a payload whose length differs from what the header declares."""
    which = "shorter" if actual < expected else "longer"
    return (
        f"{show_path(path)}: payload {which} than the header declares: the header says {dims} "
        f"({expected:,} bytes), the file holds {actual:,} bytes. The file is truncated or corrupt."
    )


def read_images(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX image file (magic 2051) into a uint8 array of shape (count, rows, cols)."""
    return read_idx(path, IMAGES_MAGIC)


def read_labels(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX label file (magic 2049) into a uint8 array of shape (count,)."""
    return read_idx(path, LABELS_MAGIC)


def write_idx(path: str | os.PathLike[str], array: np.ndarray, overwrite: bool = False) -> Path:
    """Write a uint8 array as an IDX file (gzip-compressed when the name ends in .gz), atomically."""
    path = Path(path)
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"write_idx writes unsigned bytes (uint8); got dtype {array.dtype}.")
    if not 1 <= array.ndim <= 3:
        raise ValueError(f"write_idx writes 1 to 3 dimensions; got shape {array.shape}.")
    magic = 0x0800 | array.ndim
    data = struct.pack(f">I{array.ndim}I", magic, *array.shape) + np.ascontiguousarray(array).tobytes()
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    return _write_atomic(path, data, overwrite)


def _umask() -> int:
    """The process' file-creation mask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_atomic(path: Path, data: bytes, overwrite: bool) -> Path:
    """Write bytes to a temporary file beside path, then rename it into place."""
    if path.exists() and not overwrite:
        raise FileExistsError(f"{show_path(path)}: already exists; pass overwrite=True to replace it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes files private (0600); give them the usual mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


# --------------------------------------------------------------------------------------------------
# The data set

MnistArrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def load_mnist(source: str = "idx", data_dir: str | os.PathLike[str] | None = None) -> MnistArrays:
    """Load MNIST as ((train_data, train_labels), (test_data, test_labels)) uint8 arrays."""
    if source == "keras":
        captured = io.StringIO()
        try:
            with contextlib.redirect_stdout(captured):
                result = tf.keras.datasets.mnist.load_data()
        except Exception as error:  # Keras raises a bare Exception("URL fetch failure ...")
            if not _is_network_error(error):
                sys.stdout.write(captured.getvalue())
                raise
            print(
                "Offline: tf.keras.datasets.mnist.load_data() could not download MNIST, "
                "so the bundled IDX files in data/ are used instead."
            )
        else:
            sys.stdout.write(captured.getvalue())
            return result
    elif source != "idx":
        raise ValueError(f"Unknown data source {source!r}; use 'idx' or 'keras'.")
    folder = Path(data_dir) if data_dir is not None else DATA_DIR
    return (
        (read_images(folder / MNIST_FILES["train_images"]), read_labels(folder / MNIST_FILES["train_labels"])),
        (read_images(folder / MNIST_FILES["test_images"]), read_labels(folder / MNIST_FILES["test_labels"])),
    )


def _is_network_error(error: BaseException) -> bool:
    """Whether an exception from a Keras download means the network could not be reached."""
    return isinstance(error, OSError) or "URL fetch failure" in str(error)


def split_validation(images: Any, labels: Any) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """((train_images, train_labels), (val_images, val_labels)): the last VALIDATION_IMAGES held out (notebook 05)."""
    if len(images) != len(labels) or len(images) <= VALIDATION_IMAGES:
        raise ValueError(
            f"Need more than {VALIDATION_IMAGES:,} images, as many as labels, to hold out a validation set; "
            f"got {len(images):,} images and {len(labels):,} labels."
        )
    train = (images[:-VALIDATION_IMAGES], labels[:-VALIDATION_IMAGES])
    return train, (images[-VALIDATION_IMAGES:], labels[-VALIDATION_IMAGES:])


def normalize_img(image: Any, label: Any) -> tuple[tf.Tensor, Any]:
    """Normalize images: uint8 0..255 -> float32 0.0..1.0 (as in the tutorial)."""
    return tf.cast(image, tf.float32) / 255.0, label


def prepare(images: np.ndarray) -> tf.Tensor:
    """Images ready for the models: normalized to [0, 1] floats, with a channel axis (N, 28, 28, 1)."""
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE[:2]:
        raise ValueError(
            f"Expected images of shape (N, 28, 28); got {images.shape}. "
            "Pass a batch of 28x28 MNIST images (for one image use image[None])."
        )
    normalized, _ = normalize_img(images, None)
    return normalized[..., tf.newaxis]


# --------------------------------------------------------------------------------------------------
# Models


def check_model_type(model_type: str) -> str:
    """Return model_type if it is one of MODEL_TYPES, else raise a ValueError listing them."""
    if model_type not in MODEL_TYPES:
        raise ValueError(f"Unknown model type {model_type!r}; valid types are: {', '.join(MODEL_TYPES)}.")
    return model_type


def build_model(
    model_type: str, input_shape: tuple[int, ...] = IMAGE_SHAPE, num_classes: int = NUM_CLASSES
) -> keras.Sequential:
    """The tutorial's fully connected ("fc") or convolutional ("cnn") model."""
    check_model_type(model_type)
    layers = keras.layers
    if model_type == "fc":
        body = [
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(32, activation="relu"),
        ]
    else:
        body = [
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
        ]
    return keras.Sequential(
        [keras.Input(shape=input_shape), *body, layers.Dense(num_classes, activation="softmax")],
        name=f"mnist_{model_type}",
    )


def compile_model(model: keras.Model) -> keras.Model:
    """Compile with the tutorial's recipe: Adam, sparse categorical cross-entropy, accuracy."""
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def save_model(model: keras.Model, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Save a model as .keras (native) or .h5 (legacy), atomically: temp file beside it, then rename."""
    path = Path(path)
    if path.suffix not in (".keras", ".h5"):
        raise ValueError(f"{show_path(path)}: save as .keras (recommended) or .h5 (legacy); got {path.suffix!r}.")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{show_path(path)}: already exists; pass overwrite=True to replace it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    # Keras 3.15's legacy .h5 writer pops "optimizer" out of the model's compile config in place, so a
    # .keras file saved after it would silently reload with RMSprop. Keep a copy and put it back.
    compile_config = getattr(model, "_compile_config", None)
    saved_config = dict(compile_config.config) if compile_config is not None else None
    try:
        model.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    finally:
        if saved_config is not None:
            compile_config.config = saved_config
    return path


def export_model(model: keras.Model, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Export a TensorFlow SavedModel for serving, atomically: temp folder beside it, then rename."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{show_path(path)}: already exists; pass overwrite=True to replace it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    old = path.with_name(f".{path.name}.old")
    try:
        model.export(str(tmp), verbose=False)
        if path.exists():
            path.rename(old)
        tmp.rename(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return path


def load_model(path: str | os.PathLike[str]) -> keras.Model:
    """Load a .keras or .h5 model (Keras safe_mode on); a missing or non-model file is a clear error."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{show_path(path)}: no saved model there. Train one first (notebook 05) or check the path."
        )
    if path.is_dir():
        raise ModelFileError(
            f"{show_path(path)}: is a folder. A TensorFlow SavedModel is not a Keras model file: reload it with "
            "tf.saved_model.load() for inference, or load the .keras file instead."
        )
    if path.suffix not in (".keras", ".h5"):
        raise ModelFileError(f"{show_path(path)}: not a Keras model file (expected .keras or .h5).")
    try:
        return keras.models.load_model(path, safe_mode=True)
    except Exception as error:
        raise ModelFileError(
            f"{show_path(path)}: not a valid saved Keras model ({type(error).__name__}: {error}). "
            "Save it again with save_model() or retrain it (notebook 05)."
        ) from error


def train_model(model_type: str, epochs: int = 5, seed: int = 42, source: str = "idx") -> keras.Model:
    """Build, compile and train a model with the tutorial's recipe on the training images less the validation set,
    as notebook 05 does (it also watches the validation set, which does not change the weights)."""
    setup(seed)
    (train_data, train_labels), _ = load_mnist(source)
    (train_data, train_labels), _ = split_validation(train_data, train_labels)
    model = compile_model(build_model(model_type))
    model.fit(prepare(train_data), train_labels, epochs=epochs, verbose=0)
    return model


def load_or_train(model_type: str, epochs: int = 5, seed: int = 42) -> keras.Model:
    """Load saved_model/mnist_{model_type}/model.keras, or train and save it where it is missing."""
    path = model_dir(model_type) / "model.keras"
    if path.exists():
        print(f"Loaded the trained model from {show_path(path)}.")
        return load_model(path)
    print(f"No trained model at {show_path(path)}: training one now ({epochs} epochs, as notebook 05 does).")
    model = train_model(model_type, epochs=epochs, seed=seed)
    save_model(model, path)
    return model


def write_json(path: str | os.PathLike[str], data: dict[str, Any]) -> Path:
    """Write a small JSON file atomically (replacing an earlier one, which the series itself wrote)."""
    return _write_atomic(Path(path), (json.dumps(data, indent=2) + "\n").encode(), overwrite=True)


# --------------------------------------------------------------------------------------------------
# Figures


def save_figure(fig: Any, path: str | os.PathLike[str] | None) -> None:
    """Save a figure atomically if a path is given (a PNG without timestamps, so reruns are identical).

    What it adds to `fig.savefig(path)`: the folder is created, a half-written file never replaces a good one, and
    the same figure gives the same bytes on every run (no "Software"/date metadata), so git sees no change.
    """
    if path is None:
        return
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    _write_atomic(Path(path), buffer.getvalue(), overwrite=True)


def plot_history(history: dict[str, list[float]], path: str | os.PathLike[str] | None = None) -> Any:
    """Loss and accuracy per epoch, training vs validation, from `model.fit(...).history`."""
    import matplotlib.pyplot as plt

    missing = {"loss", "accuracy", "val_loss", "val_accuracy"} - set(history)
    if missing:
        raise ValueError(f"history lacks {sorted(missing)}: fit with metrics=['accuracy'] and validation_data.")
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        ax.plot(epochs, history[metric], "o-", label="training")
        ax.plot(epochs, history[f"val_{metric}"], "s--", label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(metric.capitalize())
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    save_figure(fig, path)
    return fig


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Counts[i, j]: how many images of digit i were predicted as digit j."""
    labels, predicted = np.asarray(labels, dtype=np.int64), np.asarray(predicted, dtype=np.int64)
    if labels.shape != predicted.shape:
        raise ValueError(f"labels {labels.shape} and predictions {predicted.shape} differ in shape.")
    return np.bincount(labels * num_classes + predicted, minlength=num_classes**2).reshape(num_classes, num_classes)


def plot_confusion_matrix(counts: np.ndarray, path: str | os.PathLike[str] | None = None) -> Any:
    """A confusion matrix with the count written in every cell."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    shown = np.where(counts > 0, counts, np.nan)
    image = ax.imshow(np.log10(shown), cmap="Blues")
    for (i, j), count in np.ndenumerate(counts):
        ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                color="white" if count > counts.max() / 10 else "black")
    ax.set_xticks(range(len(counts)))
    ax.set_yticks(range(len(counts)))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    fig.colorbar(image, ax=ax, label="log10(count)")
    fig.tight_layout()
    save_figure(fig, path)
    return fig


def plot_mistakes(
    images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray, count: int = 10,
    path: str | os.PathLike[str] | None = None,
) -> Any:
    """The `count` most confident mistakes: images the model got wrong with the highest probability."""
    import matplotlib.pyplot as plt

    predicted = np.argmax(probabilities, axis=1)
    wrong = np.flatnonzero(predicted != labels)
    order = wrong[np.argsort(-probabilities[wrong, predicted[wrong]], kind="stable")][:count]
    if len(order) == 0:
        raise ValueError("The model makes no mistakes on these images: nothing to show.")
    cols = min(5, len(order))
    rows = -(-len(order) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.9 * rows), squeeze=False, layout="constrained")
    for ax in axes.ravel():
        ax.axis("off")
    for ax, index in zip(axes.ravel(), order):
        ax.imshow(np.squeeze(images[index]), cmap="gray")
        ax.set_title(f"#{index}: {predicted[index]} ({probabilities[index, predicted[index]]:.0%})\nlabel {labels[index]}",
                     fontsize=9)
    save_figure(fig, path)
    return fig


# --------------------------------------------------------------------------------------------------
# Your own digits: MNIST-style preprocessing


def preprocess_digit(image: np.ndarray) -> np.ndarray:
    """Turn a picture of one digit (any size, grey or colour, any polarity) into an MNIST-style 28x28 image."""
    from PIL import Image

    pixels = np.asarray(image, dtype=np.float64)
    if pixels.ndim == 3 and pixels.shape[-1] in (3, 4):
        pixels = pixels[..., :3] @ np.array([0.299, 0.587, 0.114])  # ITU-R 601 luma, as PIL's "L" mode
    if pixels.ndim != 2 or min(pixels.shape) < 2:
        raise ValueError(f"Expected a 2-D grey or an RGB(A) image; got an array of shape {np.shape(image)}.")
    low, high = float(pixels.min()), float(pixels.max())
    if high - low < 1e-6:
        raise ValueError("The image is empty: every pixel has the same value, so there is no digit to read.")
    pixels = (pixels - low) / (high - low)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    if np.median(border) > 0.5:  # dark ink on a light background: MNIST is white ink on black
        pixels, border = 1.0 - pixels, 1.0 - border
    pixels = np.clip(pixels - np.median(border), 0.0, None)  # the background becomes 0
    if pixels.max() <= 0:
        raise ValueError("The image is empty: no ink stands out from the background.")
    ink = pixels > 0.2 * pixels.max()
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = pixels[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    crop = crop / crop.max()
    # Fit into a 20x20 box, keeping the aspect ratio, as MNIST's digits were.
    scale = 20.0 / max(crop.shape)
    height, width = (max(1, round(side * scale)) for side in crop.shape)
    resized = Image.fromarray((crop * 255).astype(np.uint8)).resize((width, height), Image.LANCZOS)
    digit = np.asarray(resized, dtype=np.float32) / 255.0
    # Centre in 28x28 by the centre of mass.
    canvas = np.zeros((28, 28), dtype=np.float32)
    top, left = (28 - height) // 2, (28 - width) // 2
    canvas[top : top + height, left : left + width] = digit
    total = canvas.sum()
    ys, xs = np.indices(canvas.shape)
    shift_y = int(round(13.5 - (ys * canvas).sum() / total))
    shift_x = int(round(13.5 - (xs * canvas).sum() / total))
    shift_y = int(np.clip(shift_y, -top, 28 - top - height))
    shift_x = int(np.clip(shift_x, -left, 28 - left - width))
    return np.roll(canvas, (shift_y, shift_x), axis=(0, 1)).clip(0.0, 1.0)


def read_image_file(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a PNG/JPEG (or any format Pillow knows) as a float array of grey levels 0..255."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{show_path(path)}: no such file.")
    if path.is_dir():
        raise IsADirectoryError(f"{show_path(path)}: is a directory, not an image.")
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("L"), dtype=np.float32)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(
            f"{show_path(path)}: not an image file Pillow can read (PNG, JPEG, ...): {error}"
        ) from error


def predict_image_file(path: str | os.PathLike[str], model: keras.Model) -> tuple[int, np.ndarray]:
    """Predict the digit in an image file: returns (digit, the ten class probabilities)."""
    digit = preprocess_digit(read_image_file(path))
    probabilities = np.asarray(model.predict(digit[None, :, :, None], verbose=0)[0])
    return int(np.argmax(probabilities)), probabilities
