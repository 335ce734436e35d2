"""What two or more notebooks of the MNIST series share (each shows its own lesson's code): paths, `setup`, the careful
IDX reader (01 shows the plain one), 04's models, training speed (00, 09, 10), saving and loading (07: plain calls)."""

import contextlib
import gzip
import io
import json
import math
import os
import shutil
import struct
import sys
import time
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

# TensorFlow's C++ runtime logs to file descriptor 2 while it is imported (red stderr in every notebook). oneDNN is on
# for every processor, not only those TensorFlow picks at import (what it buys: benchmark.md, the "oneDNN off" row);
# results stay reproducible; TF_ENABLE_ONEDNN_OPTS=0 turns it off.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"  # the bundled MNIST IDX files
MODEL_TYPES = ("fc", "cnn")
VALIDATION_IMAGES = 6_000  # the last 6,000 training images: notebook 05 shows the split
MNIST_FILES = {"train_images": "train-images.idx3-ubyte", "train_labels": "train-labels.idx1-ubyte"}
MNIST_FILES |= {"test_images": "t10k-images.idx3-ubyte", "test_labels": "t10k-labels.idx1-ubyte"}
IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions (count, rows, cols)
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension (count)


class IDXFormatError(ValueError):
    """An IDX file whose content does not match the IDX format or its own header."""


class ModelFileError(ValueError):
    """A file that should hold a saved Keras model but does not."""


sys.stderr.flush()  # TensorFlow's start-up lines bypass TF_CPP_MIN_LOG_LEVEL: send file descriptor 2 away meanwhile
_saved_fd2, _devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
os.dup2(_devnull, 2)
try:
    import tensorflow as tf  # noqa: E402
finally:
    os.dup2(_saved_fd2, 2)
    os.close(_saved_fd2)
    os.close(_devnull)
import absl.logging  # noqa: E402  (installed with TensorFlow)
import keras  # noqa: E402


def output_root() -> Path:
    """Folder that receives what the series writes: the repository, or $MNIST_TUTORIAL_OUTPUT."""
    return Path(os.environ["MNIST_TUTORIAL_OUTPUT"]).resolve() if os.environ.get("MNIST_TUTORIAL_OUTPUT") else REPO_ROOT


def model_dir(model_type: str) -> Path:
    """Folder of one trained model: saved_model/mnist_{model_type}."""
    return output_root() / "saved_model" / f"mnist_{_check_model_type(model_type)}"


def show_path(path: str | os.PathLike[str]) -> str:
    """A path as a learner should read it: relative to the output root or the repository."""
    resolved, roots = Path(path).resolve(), (output_root(), REPO_ROOT)
    return next((resolved.relative_to(root).as_posix() for root in roots if resolved.is_relative_to(root)), str(path))


def setup(seed: int = 42) -> None:
    """Seed Python, NumPy and TensorFlow; deterministic ops, quiet logs, no tf.data autotuning in `fit` on arrays."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    tf.get_logger().setLevel("ERROR")
    absl.logging.set_verbosity(absl.logging.ERROR)  # Keras' warnings (e.g. "HDF5 is legacy") go through absl
    with contextlib.suppress(ImportError):  # another Keras: fit works as it is, only without this fix
        from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

        original = ArrayDataAdapter.get_tf_dataset  # its autotuning can make a TF 2.21 epoch seconds longer
        if not getattr(original, "steady", False):

            def get_tf_dataset(self: Any) -> Any:
                options = tf.data.Options()
                options.autotune.enabled = False
                return original(self).with_options(options)

            get_tf_dataset.steady, get_tf_dataset.original = True, original  # type: ignore[attr-defined]
            ArrayDataAdapter.get_tf_dataset = get_tf_dataset


def read_idx(path: str | os.PathLike[str], expected_magic: int) -> np.ndarray:
    """Read an IDX file of unsigned bytes, raw or gzip, checking magic number, header, declared size, then payload."""
    path = Path(path)
    where, kind = show_path(path), {IMAGES_MAGIC: "image", LABELS_MAGIC: "label"}.get(expected_magic, "IDX")
    if not path.exists():
        restore = "restore it with `git checkout -- data/` or copy the four IDX files there"
        hint = f" The series bundles MNIST in data/; {restore}." if path.parent.resolve() == DATA_DIR.resolve() else ""
        raise FileNotFoundError(f"{where}: no such file.{hint}")
    if path.is_dir():
        raise IsADirectoryError(f"{where}: is a directory, not an IDX file.")
    if (file_size := path.stat().st_size) == 0:
        raise IDXFormatError(f"{where}: the file is empty (0 bytes); it should start with an IDX header.")
    with open(path, "rb") as f:
        is_gzip = f.read(2) == b"\x1f\x8b"
    header_size = 4 + 4 * (expected_magic & 0xFF)
    try:
        with gzip.open(path, "rb") if is_gzip else open(path, "rb") as stream:
            header = stream.read(header_size)
            magic = struct.unpack(">I", header[:4])[0] if len(header) >= 4 else None
            if magic is not None and magic != expected_magic:
                other = {IMAGES_MAGIC: " It looks like an image file.", LABELS_MAGIC: " It looks like a label file."}
                msg = f"{where}: wrong magic number {magic} (0x{magic:08X}); an IDX {kind} file starts with "
                msg += f"{expected_magic} (0x{expected_magic:08X}).{other.get(magic, ' Is it an IDX file at all?')}"
                raise IDXFormatError(msg)
            if len(header) < header_size:
                msg = f"{where}: header cut short: {len(header)} bytes, an IDX {kind} file needs {header_size}."
                raise IDXFormatError(msg)
            dims = struct.unpack(f">{expected_magic & 0xFF}I", header[4:])
            expected = math.prod(dims)
            if is_gzip and expected > 1032 * file_size:  # deflate never expands data more than 1032 times
                msg = f"{where}: the header declares absurd sizes {dims} ({expected:,} bytes of data), more than a "
                raise IDXFormatError(msg + f"{file_size:,}-byte gzip file can hold. The file is corrupt.")
            actual = file_size - header_size if not is_gzip else None
            if actual is None or actual == expected:  # read in chunks: memory grows with the data actually there
                payload, chunks = bytearray(), iter(lambda: stream.read(1 << 20), b"")
                while len(payload) <= expected and (chunk := next(chunks, b"")):
                    payload += chunk
                actual = len(payload) + sum(len(chunk) for chunk in chunks)
    except (gzip.BadGzipFile, zlib.error, EOFError) as error:
        raise IDXFormatError(f"{where}: corrupt gzip stream ({error}). Download or copy the file again.") from error
    if actual != expected:
        msg = f"{where}: payload {'shorter' if actual < expected else 'longer'} than the header declares: the header "
        msg += f"says {dims} ({expected:,} bytes), the file holds {actual:,} bytes. The file is truncated or corrupt."
        raise IDXFormatError(msg)
    return np.frombuffer(payload, dtype=np.uint8).reshape(dims)


def load_mnist(*, data_dir: str | os.PathLike[str] = DATA_DIR) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """MNIST from the IDX files as ((train_data, train_labels), (test_data, test_labels)), like Keras' load_data()."""
    data_dir = Path(data_dir)
    read = {k: read_idx(data_dir / f, LABELS_MAGIC if "labels" in k else IMAGES_MAGIC) for k, f in MNIST_FILES.items()}
    return (read["train_images"], read["train_labels"]), (read["test_images"], read["test_labels"])


def split_validation(images: Any, labels: Any) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """((train_images, train_labels), (val_images, val_labels)): the last VALIDATION_IMAGES held out (notebook 05)."""
    if len(images) != len(labels) or len(images) <= VALIDATION_IMAGES:
        msg = f"Need more than {VALIDATION_IMAGES:,} images, as many as labels, to hold out a validation set; "
        raise ValueError(msg + f"got {len(images):,} images and {len(labels):,} labels.")
    n = len(images) - VALIDATION_IMAGES
    return (images[:n], labels[:n]), (images[n:], labels[n:])


def prepare(images: np.ndarray) -> tf.Tensor:
    """Images ready for the models: normalized to [0, 1] as notebook 03's normalize_img does, with a channel axis."""
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"Expected images of shape (N, 28, 28); got {images.shape}. For one image use image[None].")
    return (tf.cast(images, tf.float32) / 255.0)[..., tf.newaxis]


def _check_model_type(model_type: str) -> str:
    if model_type not in MODEL_TYPES:
        raise ValueError(f"Unknown model type {model_type!r}; valid types are: {', '.join(MODEL_TYPES)}.")
    return model_type


def build_model(model_type: str) -> keras.Sequential:
    """The tutorial's fully connected ("fc") or convolutional ("cnn") model, as notebook 04 builds them."""
    layers = keras.layers
    if _check_model_type(model_type) == "fc":
        body = [layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(32, activation="relu")]
    else:
        body = [layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2))]
        body += [layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2))]
        body += [layers.Flatten(), layers.Dense(64, activation="relu")]
    output = layers.Dense(10, activation="softmax", dtype="float32")  # float32 even under mixed precision (09)
    return keras.Sequential([keras.Input(shape=(28, 28, 1)), *body, output], name=f"mnist_{model_type}")


def save_model(model: keras.Model, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """`model.save(path)` as .keras (native) or .h5 (legacy), atomically, and without the .h5 writer's side effect."""
    path = Path(path)
    if path.suffix not in (".keras", ".h5"):
        raise ValueError(f"{show_path(path)}: save as .keras (recommended) or .h5 (legacy); got {path.suffix!r}.")
    # Keras 3.15's .h5 writer pops "optimizer" out of the compile config in place (07 shows it): put it back after.
    saved_config = dict(model._compile_config.config) if getattr(model, "_compile_config", None) else None
    try:
        return write_atomically(path, model.save, overwrite)
    finally:
        if saved_config is not None:
            model._compile_config.config = saved_config


def load_model(path: str | os.PathLike[str]) -> keras.Model:
    """`keras.models.load_model(path)` (safe_mode on), with a clear error for a missing file or one not a model."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{show_path(path)}: no saved model there. Train one first (notebook 05) or check it.")
    if path.is_dir():
        msg = f"{show_path(path)}: is a folder. A TensorFlow SavedModel is not a Keras model file: reload it with "
        raise ModelFileError(msg + "tf.saved_model.load() for inference, or load the .keras file instead.")
    if path.suffix not in (".keras", ".h5"):
        raise ModelFileError(f"{show_path(path)}: not a Keras model file (expected .keras or .h5).")
    try:
        return keras.models.load_model(path, safe_mode=True)
    except Exception as error:
        msg = f"{show_path(path)}: not a valid saved Keras model ({type(error).__name__}: {error}). "
        raise ModelFileError(msg + "Save it again with save_model() or retrain it (notebook 05).") from error


def load_or_train(model_type: str, epochs: int = 5, seed: int = 42) -> keras.Model:
    """Load saved_model/mnist_{model_type}/model.keras; if it is missing, train it as notebook 05 does and save it."""
    path = model_dir(model_type) / "model.keras"
    if path.exists():
        print(f"Loaded the trained model from {show_path(path)}.")
        return load_model(path)
    print(f"No trained model at {show_path(path)}: training one now ({epochs} epochs, as notebook 05 does).")
    setup(seed)
    (train_data, train_labels), _ = split_validation(*load_mnist()[0])
    model = build_model(model_type)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(prepare(train_data), train_labels, epochs=epochs, verbose=0)
    save_model(model, path)
    return model


def has_bf16() -> bool | None:
    """Whether the processor has bfloat16 arithmetic (x86 flags avx512_bf16, amx_bf16); None if it cannot tell."""
    with contextlib.suppress(OSError, StopIteration):
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
        return bool({"avx512_bf16", "amx_bf16"} & set(flags.split()))
    return None


def training_speed(
    images: Any, labels: Any, batch_size: int, steps_per_execution: int = 1, precision: str = "float32"
) -> float:
    """Images/s training a fresh CNN under a dtype policy: one epoch builds the training step, a second is timed."""
    keras.mixed_precision.set_global_policy(precision)
    model = build_model("cnn")
    keras.mixed_precision.set_global_policy("float32")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", steps_per_execution=steps_per_execution)
    model.fit(images, labels, batch_size=batch_size, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(images, labels, batch_size=batch_size, epochs=1, verbose=0)
    return len(images) / (time.perf_counter() - start)


def write_atomically(path: str | os.PathLike[str], write: Callable[[Path], Any], overwrite: bool = False) -> Path:
    """`write(tmp)` beside `path`, then rename: an interrupted write never leaves half a file or replaces a good one."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{show_path(path)}: already exists; pass overwrite=True to replace it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:12]}{path.suffix}")
    old = tmp.with_name(tmp.name + ".old")
    try:
        write(tmp)
        if path.is_dir():  # a folder cannot be replaced in one step: move the old one aside first
            path.rename(old)
        os.replace(tmp, path)
    except BaseException:
        if old.exists() and not path.exists():
            old.rename(path)
        raise
    finally:  # the old copy goes only once the new one is in place
        for leftover in (tmp, old) if path.exists() else (tmp,):
            with contextlib.suppress(OSError):
                shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink(missing_ok=True)
    return path


def save_figure(fig: Any, path: str | os.PathLike[str]) -> Path:
    """`fig.savefig(path)`, atomically, with no "Software" or date metadata: the same figure gives the same bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    return write_atomically(path, lambda tmp: tmp.write_bytes(buffer.getvalue()), overwrite=True)


METRIC_KEYS = {"model_type", "parameters", "epochs", "train_images", "settings"}  # what was run, then what it measured
METRIC_KEYS |= {"fit_seconds", "seconds_per_epoch", "images_per_second", "validation_accuracy", "test_accuracy"}


def write_metrics(path: str | os.PathLike[str], **runs: dict[str, Any]) -> Path:
    """Named runs (each with some of METRIC_KEYS) and peak memory in MB (None on Windows) as JSON, atomically."""
    if unknown := {name: sorted(set(run) - METRIC_KEYS) for name, run in runs.items() if set(run) - METRIC_KEYS}:
        raise ValueError(f"measurements not in helpers.METRIC_KEYS: {unknown}")
    peak = None
    with contextlib.suppress(ImportError):  # Windows has no `resource` module; ru_maxrss is in kB (macOS: bytes)
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)
    text = json.dumps({"peak_memory_mb": peak, "runs": runs}, indent=2, default=float) + "\n"
    return write_atomically(path, lambda tmp: tmp.write_text(text), overwrite=True)
