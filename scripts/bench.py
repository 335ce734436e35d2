#!/usr/bin/env python3
"""Benchmark the series on this machine: notebook overhead, the models, reading, inference, the knobs, the recipes.

    python scripts/bench.py              # full run, medians of 3 repeats (about 40 minutes on 2 CPU cores)
    python scripts/bench.py --quick      # smoke run, 1 repeat of short trainings (about 3 minutes)
    python scripts/bench.py --only models recipes --repeats 5

Every measurement runs in a fresh Python process, so that one cannot warm up or slow down the next and so that
its peak memory is its own (the maximum resident set size that the operating system reports for the process and
the processes it waited for). The script prints the machine it ran on and a Markdown table of medians, and writes
both into build/bench/ (bench.json with every single measurement, bench.md with the tables).

Timings on a shared machine are noisy: the tables give, for every section, how many CPU cores other processes
used on average while it was measured ("other load"). Compare ratios measured in one run, not numbers across runs.
Nothing is written into the repository outside build/: trained models and executed notebooks go to a temporary
folder that is removed at the end.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import series  # the series' shape: scripts/series.py
from series import REPO_ROOT
from series import NOTEBOOKS_DIR as NOTEBOOKS

DATA_DIR = REPO_ROOT / "data"
SECTIONS = ("notebook", "models", "pipeline", "data", "inference", "knobs", "recipes")
IDX_FILES = ("train-images.idx3-ubyte", "train-labels.idx1-ubyte", "t10k-images.idx3-ubyte", "t10k-labels.idx1-ubyte")

# The targets of issue 6, checked on the recipes' results at full settings.
FAST_TARGET_ACCURACY = 0.990  # going faster: at least this CNN test accuracy ...
FAST_TARGET_RATIO = 1 / 3  # ... in at most this share of the tutorial recipe's training time
FURTHER_TARGET_ACCURACY = 0.995  # going further: at least this test accuracy ...
FURTHER_TARGET_SECONDS = 180.0  # ... within this many seconds of training

# ==================================================================================================
# The recipes. Notebooks 09 and 10 show the same code in the open; keep the three in step.

TUTORIAL = {"batch_size": 32, "epochs": 5}  # notebook 05: Adam with its default learning rate
QUICK_CNN_IMAGES = 12_000  # --quick: the CNN trainings use this many training images, 1 epoch

FAST = {  # notebook 09: the same CNN, only the training settings change
    "batch_size": 128,
    "epochs": 2,
    "peak_learning_rate": 1e-2,
    "warmup_share": 0.2,
    "label_smoothing": 0.1,
    "steps_per_execution": 32,
}

FURTHER = {  # notebook 10: the same CNN again; random moves of the training images, more epochs, oneDNN
    "batch_size": 128,
    "epochs": 8,
    "peak_learning_rate": 5e-3,
    "warmup_share": 0.2,
    "label_smoothing": 0.1,
    "max_shift": 2,
    "max_degrees": 10,
    "steps_per_execution": 32,
}

# The tutorial's fit on NumPy arrays (notebook 05) must be as fast as a plain tf.data pipeline: at most this ratio.
PIPELINE_TARGET_RATIO = 1.05
PIPELINES = {  # how the pipeline section feeds the tutorial's recipe
    "arrays": "fit on NumPy arrays, as notebook 05 runs it (Keras' pipeline, autotuning off by helpers.setup)",
    "plain": "fit on a plain tf.data pipeline: shuffle, batch, prefetch 2, autotuning off (make_dataset)",
    "stock": "fit on NumPy arrays through Keras' pipeline as it comes (autotuning on: before the fix)",
}


def warmup_cosine(keras: Any, peak: float, total_steps: int, warmup_share: float) -> Any:
    """Learning rate: linear warm-up from peak/10 to peak, then a cosine decay to 0 (Keras' CosineDecay)."""
    warmup_steps = int(warmup_share * total_steps)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=peak / 10,
        decay_steps=total_steps - warmup_steps,
        warmup_target=peak,
        warmup_steps=warmup_steps,
    )


def move_maps(np: Any, max_shift: int, max_degrees: float, steps: int = 11) -> tuple[Any, int]:
    """Every small move of a 28x28 image: for each angle and shift, where each pixel comes from.

    Returns (maps, padding): maps[k] gives, for each of the 784 output pixels, its index in the flattened source
    image padded by `padding` black pixels on every side (nearest pixel; rotation about the centre, then shift).
    """
    size, pad = 28, max_shift + 4
    rows, cols = np.mgrid[0:size, 0:size] - (size - 1) / 2
    maps = []
    for angle in np.radians(np.linspace(-max_degrees, max_degrees, steps if max_degrees else 1)):
        cos, sin = np.cos(angle), np.sin(angle)
        for dy in range(-max_shift, max_shift + 1):
            for dx in range(-max_shift, max_shift + 1):
                source_row = np.rint(cos * rows - sin * cols + (size - 1) / 2 - dy).astype(int) + pad
                source_col = np.rint(sin * rows + cos * cols + (size - 1) / 2 - dx).astype(int) + pad
                maps.append((source_row * (size + 2 * pad) + source_col).ravel())
    return np.array(maps), pad


def random_moves(np: Any, images: Any, maps: Any, pad: int, rng: Any) -> Any:
    """A copy of uint8 images (N, 28, 28), each moved by one of the moves in maps, chosen at random."""
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad))).reshape(len(images), -1)
    chosen = maps[rng.integers(0, len(maps), len(images))]
    return np.take_along_axis(padded, chosen, axis=1).reshape(images.shape)


def make_dataset(tf: Any, images: Any, targets: Any, batch_size: int, seed: int) -> Any:
    """A tf.data pipeline: shuffled anew each epoch, batched, the next 2 batches prepared while the model trains.

    tf.data's autotuning is turned off: with TensorFlow's op determinism on (as helpers.setup() sets it), its
    tuning thread sometimes makes fit() return seconds after the last epoch has ended (TensorFlow 2.21 on a 2-core
    CPU). Keras' own pipeline for NumPy arrays autotunes, so fit() on arrays can have the same delay: the models
    table's column 'fit returns after last epoch' shows it for the tutorial's recipe.
    """
    dataset = tf.data.Dataset.from_tensor_slices((images, targets))
    dataset = dataset.shuffle(len(images), seed=seed).batch(batch_size).prefetch(2)
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


# ==================================================================================================
# Worker side: one measurement per process. Invoked as `bench.py --worker '<json spec>'`.


def _import_helpers() -> tuple[Any, bool]:
    """Import helpers; return it and whether TensorFlow is there.

    On a machine without TensorFlow (a GPU machine with Keras on JAX, say), helpers' IDX reader and model builder
    still work, since they need only NumPy and Keras: a placeholder stands in for TensorFlow during the import.
    """
    sys.path.insert(0, str(NOTEBOOKS))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        import types

        import keras  # noqa: F401  (first, on its own backend)

        sys.modules["tensorflow"] = types.ModuleType("tensorflow")
        try:
            import helpers
        finally:
            del sys.modules["tensorflow"]
        return helpers, False
    import helpers

    return helpers, True


class _Worker:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        threads = spec.get("threads")
        self.helpers, self.has_tf = _import_helpers()
        import keras
        import numpy as np

        self.keras, self.np = keras, np
        if self.has_tf:
            import tensorflow as tf

            self.tf = tf
            if threads:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(1)

    # ---------------------------------------------------------------------------------------- common
    def setup(self, seed: int) -> None:
        if self.has_tf and self.spec.get("deterministic", True):
            self.helpers.setup(seed)
        else:  # Keras turns XLA off when TensorFlow's op determinism is on: the XLA knob runs without it
            self.keras.utils.set_random_seed(seed)

    def prepare(self, images: Any) -> Any:
        if self.has_tf:
            return self.helpers.prepare(images)
        return (images.astype("float32") / 255.0)[..., None]

    def dataset(self, images: Any, targets: Any, batch_size: int, seed: int) -> Any:
        """A tf.data pipeline where TensorFlow is there; without it, a Keras PyDataset."""
        if self.has_tf:
            return make_dataset(self.tf, images, targets, batch_size, seed)
        return _array_batches(self.np, images, targets, batch_size, seed)

    def info(self) -> dict[str, Any]:
        keras = self.keras
        result = {"keras": keras.__version__, "backend": keras.backend.backend(), "python": platform.python_version()}
        result["numpy"] = self.np.__version__
        if self.has_tf:
            tf = self.tf
            result["tensorflow"] = tf.__version__
            try:
                from tensorflow.python.util import _pywrap_util_port

                result["onednn"] = bool(_pywrap_util_port.IsMklEnabled())
            except Exception:  # a private API: absent in some builds
                result["onednn"] = None
            result["gpus"] = [d.name for d in tf.config.list_physical_devices("GPU")]
        if keras.backend.backend() == "jax":
            import jax

            result["jax"] = jax.__version__
            result["gpus"] = [str(d) for d in jax.devices() if d.platform == "gpu"]
        return result

    def flops(self, model: Any) -> dict[str, float]:
        """FLOPs per image from the model's layers: 2 per multiply-add of Dense and Conv2D layers.

        Forward: 2 x MACs. Training adds the gradients: 2 x MACs for the weights of every layer and 2 x MACs for
        the inputs of every layer but the first (nothing needs the gradient of the images). Pooling, activations
        and normalization add a few percent, left out.
        """
        macs = []
        for layer in model.layers:
            kind = type(layer).__name__
            if kind == "Dense":
                macs.append(int(layer.kernel.shape[0]) * int(layer.kernel.shape[1]))
            elif kind == "Conv2D":
                kh, kw, cin, cout = (int(d) for d in layer.kernel.shape)
                out = layer.output.shape
                macs.append(int(out[1]) * int(out[2]) * cout * kh * kw * cin)
        forward = 2 * sum(macs)
        training = 2 * forward + 2 * (sum(macs) - (macs[0] if macs else 0))
        return {"forward": float(forward), "training": float(training), "params": float(model.count_params())}

    def load(self) -> tuple[Any, Any, Any, Any]:
        (train_data, train_labels), (test_data, test_labels) = self.helpers.load_mnist()
        return train_data, train_labels, test_data, test_labels

    # ---------------------------------------------------------------------------------------- training
    def train(self) -> dict[str, Any]:
        spec, keras, np = self.spec, self.keras, self.np
        recipe = spec["recipe"]
        seed = spec.get("seed", 42)
        if spec.get("policy"):
            keras.mixed_precision.set_global_policy(spec["policy"])
        self.setup(seed)
        train_data, train_labels, test_data, test_labels = self.load()
        # As the notebooks: the last 6,000 training images are the validation set, watched during training; the test
        # set is evaluated once, after training.
        (train_data, train_labels), (val_data, val_labels) = self.helpers.split_validation(train_data, train_labels)
        if spec.get("images"):  # knobs: a slice of the training set is enough to measure speed
            train_data, train_labels = train_data[: spec["images"]], train_labels[: spec["images"]]
        train_images = self.prepare(train_data)
        val_images, test_images = self.prepare(val_data), self.prepare(test_data)
        epoch_times: list[float] = []

        epoch_cpu: list[float] = []

        class Timer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                self.start, self.cpu = time.perf_counter(), time.process_time()

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                epoch_times.append(time.perf_counter() - self.start)
                epoch_cpu.append(time.process_time() - self.cpu)

        validation = (val_images, val_labels) if spec.get("validate", True) else None
        result: dict[str, Any] = {}
        if recipe in ("tutorial", "knob"):
            model = self.helpers.build_model(spec["model"])
            jit = spec.get("jit_compile", "auto")
            model.compile(
                optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                steps_per_execution=spec.get("steps_per_execution", 1), jit_compile=jit,
            )
            if recipe == "tutorial":  # notebook 05's sanity check before training
                model.evaluate(val_images, val_labels, verbose=0)
            batch_size = spec.get("batch_size", 32)
            pipeline = spec.get("pipeline", "plain" if recipe == "knob" else "arrays")
            if pipeline == "stock" and self.has_tf:  # Keras' array pipeline as it comes, autotuning on
                from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

                ArrayDataAdapter.get_tf_dataset = getattr(ArrayDataAdapter.get_tf_dataset, "original",
                                                          ArrayDataAdapter.get_tf_dataset)
            if pipeline == "plain":  # the pipeline of notebook 09's measurements: no autotuning thread, no stalls
                data = {"x": self.dataset(train_images, train_labels, batch_size, seed), "shuffle": False}
            else:  # the tutorial's (notebook 05's) fit on NumPy arrays, through Keras' own pipeline
                data = {"x": train_images, "y": train_labels, "batch_size": batch_size}
            start = time.perf_counter()
            history = model.fit(**data, epochs=spec["epochs"], validation_data=validation, verbose=0, callbacks=[Timer()])
            fit_s = time.perf_counter() - start
            images_per_epoch = len(train_images)
        elif recipe in ("fast", "further"):  # notebooks 09 and 10: the same CNN, the schedule, label smoothing
            r = {**(FAST if recipe == "fast" else FURTHER), **spec.get("overrides", {})}
            model = self.helpers.build_model("cnn")
            steps = math.ceil(len(train_images) / r["batch_size"]) * r["epochs"]
            model.compile(
                optimizer=keras.optimizers.Adam(warmup_cosine(keras, r["peak_learning_rate"], steps, r["warmup_share"])),
                loss=keras.losses.CategoricalCrossentropy(label_smoothing=r["label_smoothing"]),
                metrics=["accuracy"],
                steps_per_execution=r["steps_per_execution"],
            )
            train_targets = keras.utils.to_categorical(train_labels, 10)  # label smoothing needs one-hot targets
            test_targets = keras.utils.to_categorical(test_labels, 10)
            val_targets = keras.utils.to_categorical(val_labels, 10)
            if recipe == "further":  # as notebook 10: the moves are worked out before the clock starts
                rng = np.random.default_rng(seed)
                maps, pad = move_maps(np, r["max_shift"], r["max_degrees"])
            start = time.perf_counter()
            if recipe == "fast":
                history = model.fit(
                    self.dataset(train_images, train_targets, r["batch_size"], seed), epochs=r["epochs"], shuffle=False,
                    validation_data=(val_images, val_targets) if validation else None, verbose=0, callbacks=[Timer()],
                )
            else:
                calls = []
                for epoch in range(r["epochs"]):  # a new randomly moved copy of the training set every epoch
                    moved = self.prepare(random_moves(np, train_data, maps, pad, rng))
                    last = epoch == r["epochs"] - 1  # the validation set is checked after the last epoch only
                    call_start = time.perf_counter()
                    history = model.fit(
                        self.dataset(moved, train_targets, r["batch_size"], seed + epoch), epochs=epoch + 1,
                        initial_epoch=epoch, shuffle=False,
                        validation_data=(val_images, val_targets) if validation and last else None, verbose=0,
                        callbacks=[Timer()],
                    )
                    calls.append(time.perf_counter() - call_start)
                result["fit_calls_s"] = calls
            fit_s = time.perf_counter() - start
            images_per_epoch = len(train_images)
            result["settings"] = r
            test_labels_eval = test_targets
        else:
            raise ValueError(f"unknown recipe {recipe!r}")
        if recipe in ("tutorial", "knob"):
            test_labels_eval = test_labels
        # The test set, once, after training (outside the timed fit); knob runs measure speed only.
        accuracy = None
        if recipe != "knob":
            accuracy = float(model.evaluate(test_images, test_labels_eval, batch_size=1024, verbose=0, return_dict=True)["accuracy"])
        if validation is not None:
            result["val_accuracy"] = float(history.history["val_accuracy"][-1])
        if recipe == "tutorial" and spec.get("output"):  # notebook 05 saves the model and its metrics
            folder = Path(spec["output"]) / f"mnist_{spec['model']}"
            self.helpers.save_model(model, folder / "model.keras", overwrite=True)
            metrics = {"model_type": spec["model"], "epochs": spec["epochs"], "test_accuracy": accuracy,
                       "validation_accuracy": result.get("val_accuracy"), "fit_seconds": fit_s}
            (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        flops = self.flops(model)
        epochs = spec.get("epochs") or result["settings"]["epochs"]
        validated = len(val_images) if validation is not None else 0
        if recipe == "further" and validation is not None:
            validated = len(val_images) / result["settings"]["epochs"]  # checked after the last epoch only
        work = flops["training"] * images_per_epoch + flops["forward"] * validated  # FLOPs of one epoch
        result.update(
            fit_s=fit_s, epoch_s=epoch_times, epoch_cpu_s=epoch_cpu, tail_s=max(0.0, fit_s - sum(epoch_times)), epochs=epochs, images_per_epoch=images_per_epoch,
            test_accuracy=accuracy, flops_per_image=flops, flops_per_epoch=work,
        )
        return result

    # ---------------------------------------------------------------------------------------- reading
    def read(self) -> dict[str, Any]:
        source, repeats = self.spec["source"], self.spec.get("reads", 5)
        helpers = self.helpers
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            if source == "keras":
                self.keras.datasets.mnist.load_data()
            else:
                helpers.load_mnist(data_dir=self.spec["data_dir"])
            times.append(time.perf_counter() - start)
        return {"read_s": statistics.median(times), "first_s": times[0], "reads": repeats}

    # ---------------------------------------------------------------------------------------- inference
    def infer(self) -> dict[str, Any]:
        tf, np = self.tf, self.np
        spec = self.spec
        export = Path(spec["export_dir"])
        if not (export / "saved_model.pb").exists():  # export once from the .keras file notebook 05's work saved
            model = self.helpers.load_model(Path(spec["keras_file"]))
            self.helpers.write_atomically(export, lambda tmp: model.export(str(tmp), verbose=False), overwrite=True)
        loaded = tf.saved_model.load(str(export))
        serve = loaded.serve
        _, _, test_data, _ = self.load()
        images = np.asarray(self.prepare(test_data))
        one = tf.constant(images[:1])
        for _ in range(20):
            serve(one)
        latencies = []
        for i in range(spec.get("single_calls", 500)):
            x = tf.constant(images[i % len(images)][None])
            start = time.perf_counter()
            serve(x).numpy()
            latencies.append(time.perf_counter() - start)
        batch = tf.constant(images[:1024])
        for _ in range(3):
            serve(batch)
        batch_times = []
        for _ in range(spec.get("batch_calls", 20)):
            start = time.perf_counter()
            serve(batch).numpy()
            batch_times.append(time.perf_counter() - start)
        latencies.sort()
        return {
            "latency_ms": 1000 * statistics.median(latencies),
            "latency_p90_ms": 1000 * latencies[int(0.9 * len(latencies))],
            "batch_s": statistics.median(batch_times),
            "batch_images_per_s": 1024 / statistics.median(batch_times),
        }


def _array_batches(np: Any, images: Any, targets: Any, batch_size: int, seed: int) -> Any:
    """Without TensorFlow (Keras on JAX, for the GPU record): shuffled batches from a keras.utils.PyDataset."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(len(images))

        def __len__(self) -> int:
            return math.ceil(len(images) / batch_size)

        def __getitem__(self, index: int) -> Any:
            chosen = np.sort(self.order[index * batch_size : (index + 1) * batch_size])
            return images[chosen], targets[chosen]

        def on_epoch_end(self) -> None:
            self.order = self.rng.permutation(len(images))

    return Batches()


def worker_main(spec_json: str) -> int:
    spec = json.loads(spec_json)
    worker = _Worker(spec)
    result = {} if spec["kind"] == "info" else getattr(worker, spec["kind"])()
    result["info"] = worker.info()
    print("BENCH_RESULT " + json.dumps(result), flush=True)
    return 0


# ==================================================================================================
# Parent side: the machine, the plan, the subprocesses, the tables.


def _cpu_busy_seconds() -> float:
    """CPU seconds spent busy by the whole machine since boot (all cores), from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def describe_machine() -> dict[str, Any]:
    """CPU model, cores, the vector flags that matter, clock and FP32 peak, read from the system."""
    cpuinfo = ""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        pass

    def field(name: str) -> str | None:
        match = re.search(rf"^{name}\s*:\s*(.*)$", cpuinfo, re.M)
        return match.group(1).strip() if match else None

    flags = set((field("flags") or "").split())
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    mhz, mhz_source = None, None
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        match = re.search(r"^CPU max MHz:\s*([\d.]+)", lscpu, re.M)
        if match:
            mhz, mhz_source = float(match.group(1)), "lscpu max MHz"
    except (OSError, subprocess.SubprocessError):
        pass
    if mhz is None:
        try:
            khz = int(Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text())
            mhz, mhz_source = khz / 1000, "cpufreq max"
        except (OSError, ValueError):
            pass
    if mhz is None and field("cpu MHz"):
        mhz, mhz_source = float(field("cpu MHz")), "/proc/cpuinfo cpu MHz (the reported clock, not a max)"
    if "avx512f" in flags:
        per_cycle, vector = 64, "avx512f: 2 x 512-bit FMA = 64 FP32 FLOP/cycle/core"
    elif "avx2" in flags and "fma" in flags:
        per_cycle, vector = 32, "avx2 + fma: 2 x 256-bit FMA = 32 FP32 FLOP/cycle/core"
    elif "avx" in flags:
        per_cycle, vector = 16, "avx: 16 FP32 FLOP/cycle/core"
    else:
        per_cycle, vector = 8, "sse: 8 FP32 FLOP/cycle/core"
    peak = per_cycle * cores * mhz * 1e6 if mhz else None
    interesting = ["avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile"]
    model_name = field("model name") or platform.processor() or "unknown"
    family, model = field("cpu family"), field("model")
    return {
        "cpu": model_name,
        "cpu_family_model": f"family {family}, model {model}" if family else None,
        "cores": cores,
        "flags": [f for f in interesting if f in flags],
        "bf16": bool({"avx512_bf16", "amx_bf16"} & flags),
        "clock_mhz": mhz,
        "clock_source": mhz_source,
        "fp32_flop_per_cycle_per_core": per_cycle,
        "vector_note": vector,
        "peak_gflops": peak / 1e9 if peak else None,
        "os": platform.platform(),
        "python": platform.python_version(),
    }


class Runner:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args, self.tmp = args, tmp
        self.records: list[dict[str, Any]] = []
        self.log = print if args.verbose else (lambda *a, **k: None)

    def subprocess(self, argv: list[str], label: str, env: dict[str, str] | None = None,
                   timeout: float = 1200) -> dict[str, Any]:
        """Run one command in a fresh process; return its wall time, peak memory, CPU, and what it reported."""
        out_path, err_path = self.tmp / "stdout.txt", self.tmp / "stderr.txt"
        full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0", **(env or {})}
        busy0 = _cpu_busy_seconds()
        start = time.perf_counter()
        with open(out_path, "w") as out, open(err_path, "w") as err:
            process = subprocess.Popen(argv, stdout=out, stderr=err, env=full_env, cwd=str(self.tmp))
            timer = threading.Timer(timeout, process.kill)
            timer.start()
            try:
                _, status, usage = os.wait4(process.pid, 0)
            finally:
                timer.cancel()
            process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        cpu = usage.ru_utime + usage.ru_stime
        other = (_cpu_busy_seconds() - busy0 - cpu) / wall if wall > 0 else float("nan")
        record: dict[str, Any] = {
            "label": label, "wall_s": wall, "cpu_s": cpu, "max_rss_mb": usage.ru_maxrss / 1024,
            "other_load": max(0.0, other), "returncode": process.returncode,
        }
        stdout = out_path.read_text(errors="replace")
        for line in stdout.splitlines():
            if line.startswith("BENCH_RESULT "):
                record.update(json.loads(line[len("BENCH_RESULT "):]))
        if process.returncode != 0:
            record["error"] = (stdout[-1500:] + err_path.read_text(errors="replace")[-3000:]).strip()
            print(f"  ! {label} failed (exit {process.returncode}); see bench.json", flush=True)
        self.records.append(record)
        return record

    def worker(self, spec: dict[str, Any], label: str, env: dict[str, str] | None = None) -> dict[str, Any]:
        print(f"  {label} ...", flush=True)
        return self.subprocess([sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)], label, env)


def _median(records: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in records if r.get(key) is not None and r.get("returncode") == 0]
    values = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
    return statistics.median(values) if values else None


def _fmt(value: float | None, digits: int = 1, suffix: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}{suffix}"


def _pct(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f}%"


def _ratio(a: float | None, b: float | None, digits: int = 2) -> str:
    return "n/a" if not a or not b else f"{a / b:.{digits}f}x"


def _load(records: list[dict[str, Any]]) -> str:
    values = [r["other_load"] for r in records if r.get("other_load") is not None]
    return "n/a" if not values else f"{statistics.mean(values):.2f}"


# ==================================================================================================
# The sections


def run_notebook_section(runner: Runner, repeats: int, quick: bool, machine: dict[str, Any],
                         models: dict[str, Any]) -> dict[str, Any]:
    """Notebook 05 run by papermill vs the same work as a script (the models section's runs, when there)."""
    notebook = series.notebook("05")
    epochs = 1 if quick else TUTORIAL["epochs"]
    if not notebook.exists():
        return {"skipped": f"{notebook.relative_to(REPO_ROOT)} is not there yet"}
    try:
        import papermill  # noqa: F401
    except ImportError:
        return {"skipped": "papermill is not installed (make venv installs it)"}
    if not machine.get("tensorflow"):
        return {"skipped": "TensorFlow is not installed here: the notebooks need it"}
    rows: dict[str, list[dict[str, Any]]] = {}
    for model_type in runner.args.notebook_models:
        script_runs = [r for r in models.get("rows", {}).get(model_type, []) if r.get("images_per_epoch") == 54_000]  # the full training set less the validation set
        notebook_runs = []
        for repeat in range(repeats):
            if len(script_runs) <= repeat:
                out = runner.tmp / f"nb_script_{model_type}_{repeat}"
                spec = {"kind": "train", "recipe": "tutorial", "model": model_type, "epochs": epochs, "output": str(out)}
                record = runner.worker(spec, f"notebook: bare script {model_type} #{repeat + 1}")
                record.update(section="notebook", variant="script", model=model_type)
                script_runs.append(record)
            out = runner.tmp / f"nb_notebook_{model_type}_{repeat}"
            out.mkdir(parents=True, exist_ok=True)
            print(f"  notebook: {notebook.name} MODEL_TYPES=[{model_type!r}] by papermill #{repeat + 1} ...", flush=True)
            record = runner.subprocess(  # the series' own runner: `make run` for this one notebook
                [sys.executable, str(Path(__file__).with_name("run_series.py")), "--only", notebook.stem,
                 "--model-types", model_type, "--epochs", str(epochs), "--build-dir", str(out / "build")],
                f"notebook: papermill {model_type} #{repeat + 1}", env={"MNIST_TUTORIAL_OUTPUT": str(out)},
            )
            record.update(section="notebook", variant="notebook", model=model_type)
            metrics = out / "saved_model" / f"mnist_{model_type}" / "metrics.json"
            if metrics.exists():
                saved = json.loads(metrics.read_text())
                record["fit_s"], record["test_accuracy"] = saved.get("fit_seconds"), saved.get("test_accuracy")
            notebook_runs.append(record)
        rows[model_type] = {"script": script_runs, "notebook": notebook_runs}  # type: ignore[assignment]
    return {"epochs": epochs, "rows": rows}


def run_models_section(runner: Runner, repeats: int, quick: bool, model_types: tuple[str, ...]) -> dict[str, Any]:
    epochs = 1 if quick else TUTORIAL["epochs"]
    rows = {}
    for model_type in model_types:
        runs = []
        for repeat in range(repeats):
            out = runner.tmp / f"models_{model_type}_{repeat}"
            spec = {"kind": "train", "recipe": "tutorial", "model": model_type, "epochs": epochs, "output": str(out)}
            if quick and model_type == "cnn":
                spec["images"] = QUICK_CNN_IMAGES
            record = runner.worker(spec, f"models: tutorial recipe {model_type}, {epochs} epochs #{repeat + 1}")
            record.update(section="models", model=model_type, output=str(out))
            runs.append(record)
        rows[model_type] = runs
    return {"epochs": epochs, "rows": rows}


def run_pipeline_section(runner: Runner, repeats: int, quick: bool) -> dict[str, Any]:
    """The tutorial's CNN recipe fed three ways, interleaved repeat by repeat so that drift hits them alike."""
    epochs = 1 if quick else TUTORIAL["epochs"]
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in PIPELINES}
    for repeat in range(repeats):
        for name in PIPELINES:
            spec = {"kind": "train", "recipe": "tutorial", "model": "cnn", "epochs": epochs, "pipeline": name}
            if quick:
                spec["images"] = QUICK_CNN_IMAGES
            record = runner.worker(spec, f"pipeline: {name}, cnn, {epochs} epochs #{repeat + 1}")
            record.update(section="pipeline", pipeline=name)
            rows[name].append(record)
    return {"epochs": epochs, "rows": rows}


def run_data_section(runner: Runner, repeats: int, quick: bool) -> dict[str, Any]:
    gz_dir = runner.tmp / "idx_gzip"
    gz_dir.mkdir(exist_ok=True)
    for name in IDX_FILES:  # gzip copies with the same names: helpers reads either by their magic bytes
        (gz_dir / name).write_bytes(gzip.compress((DATA_DIR / name).read_bytes(), mtime=0))
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    cache = keras_home / "datasets" / "mnist.npz"
    sources = [("IDX raw", {"source": "idx", "data_dir": str(DATA_DIR)}),
               ("IDX gzip", {"source": "idx", "data_dir": str(gz_dir)})]
    notes = []
    if cache.exists():
        sources.append(("Keras mnist.npz", {"source": "keras"}))
    else:
        notes.append(f"Keras path skipped: no cache at ~/{cache.relative_to(Path.home()) if cache.is_relative_to(Path.home()) else cache} (it would need a download)")
    rows = {}
    for name, extra in sources:
        runs = []
        for repeat in range(repeats):
            record = runner.worker({"kind": "read", "reads": 3 if quick else 5, **extra}, f"data: {name} #{repeat + 1}")
            record.update(section="data", source=name)
            runs.append(record)
        rows[name] = runs
    sizes = {"IDX raw": sum((DATA_DIR / n).stat().st_size for n in IDX_FILES),
             "IDX gzip": sum((gz_dir / n).stat().st_size for n in IDX_FILES)}
    if cache.exists():
        sizes["Keras mnist.npz"] = cache.stat().st_size
    return {"rows": rows, "sizes": sizes, "notes": notes}


def run_inference_section(runner: Runner, repeats: int, quick: bool, models: dict[str, Any],
                          machine: dict[str, Any]) -> dict[str, Any]:
    if not machine.get("tensorflow"):
        return {"skipped": "TensorFlow is not installed here: a SavedModel export needs it"}
    rows = {}
    for model_type in ("fc", "cnn"):
        trained = [r for r in models.get("rows", {}).get(model_type, []) if r.get("returncode") == 0]
        if trained:
            keras_file = Path(trained[0]["output"]) / f"mnist_{model_type}" / "model.keras"
        else:  # the models section did not run: train a model quickly, its accuracy does not matter here
            out = runner.tmp / f"infer_{model_type}"
            runner.worker({"kind": "train", "recipe": "tutorial", "model": model_type, "epochs": 1, "output": str(out)},
                          f"inference: train a {model_type} model to export")
            keras_file = out / f"mnist_{model_type}" / "model.keras"
        export = runner.tmp / f"export_{model_type}"
        runs = []
        for repeat in range(repeats):
            spec = {"kind": "infer", "export_dir": str(export), "keras_file": str(keras_file),
                    "single_calls": 200 if quick else 1000, "batch_calls": 10 if quick else 30}
            record = runner.worker(spec, f"inference: {model_type} SavedModel #{repeat + 1}")
            record.update(section="inference", model=model_type)
            runs.append(record)
        rows[model_type] = runs
    return {"rows": rows}


def knob_plan(machine: dict[str, Any], quick: bool) -> list[tuple[str, str, dict[str, Any], dict[str, str], str | None]]:
    """(model, setting, spec overrides, environment, reason to skip) for every knob measured."""
    plan: list[tuple[str, str, dict[str, Any], dict[str, str], str | None]] = []
    gpu = bool(machine.get("gpus"))
    tf_backend = machine.get("backend") == "tensorflow"
    onednn_default = machine.get("onednn")
    for model_type in ("fc", "cnn"):
        plan += [
            (model_type, "batch 32 (tutorial)", {"batch_size": 32}, {}, None),
            (model_type, "batch 32, steps_per_execution 32", {"batch_size": 32, "steps_per_execution": 32}, {}, None),
            (model_type, "batch 128", {"batch_size": 128}, {}, None),
            (model_type, "batch 128, steps_per_execution 32", {"batch_size": 128, "steps_per_execution": 32}, {}, None),
        ]
    plan += [
        ("cnn", "batch 256, steps_per_execution 16", {"batch_size": 256, "steps_per_execution": 16}, {}, None),
        ("cnn", "batch 128, spe 32, without op determinism", {"batch_size": 128, "steps_per_execution": 32,
                                                              "deterministic": False}, {},
         None if tf_backend else "op determinism: a TensorFlow setting"),
        ("cnn", "batch 128, spe 32, jit_compile=True (XLA; needs op determinism off)",
         {"batch_size": 128, "steps_per_execution": 32, "jit_compile": True, "deterministic": False}, {},
         None if tf_backend else "the JAX backend always compiles with XLA"),
        ("cnn", "batch 128, spe 32, mixed_bfloat16", {"batch_size": 128, "steps_per_execution": 32,
                                                      "policy": "mixed_bfloat16"}, {},
         None if (machine.get("bf16") or gpu) else
         "this CPU has no bf16 instructions (no avx512_bf16/amx_bf16 flag): bf16 would be emulated, far slower"),
        ("cnn", "batch 128, spe 32, 1 thread", {"batch_size": 128, "steps_per_execution": 32, "threads": 1}, {},
         None if (tf_backend and not gpu) else "threads: a CPU knob"),
    ]
    if quick:  # a smoke run: the tutorial's setting and the fast one, for each model
        keep = ("batch 32 (tutorial)", "batch 128, steps_per_execution 32")
        plan = [row for row in plan if row[1] in keep]
    if tf_backend and onednn_default is not None and not gpu and not quick:
        flipped = "0" if onednn_default else "1"
        plan.append(("cnn", f"batch 128, spe 32, oneDNN {'off' if onednn_default else 'on'} "
                     f"(TF_ENABLE_ONEDNN_OPTS={flipped})", {"batch_size": 128, "steps_per_execution": 32},
                     {"TF_ENABLE_ONEDNN_OPTS": flipped}, None))
    return plan


def run_knobs_section(runner: Runner, repeats: int, quick: bool, machine: dict[str, Any]) -> dict[str, Any]:
    images = {"fc": 8192 if quick else 30720, "cnn": 2048 if quick else 16384}
    rows = []
    for model_type, setting, overrides, env, skip in knob_plan(machine, quick):
        if skip:
            rows.append({"model": model_type, "setting": setting, "skipped": skip, "runs": []})
            continue
        runs = []
        for repeat in range(repeats):
            # Two epochs over a slice of the training set; the second one is timed (the first traces and compiles).
            spec = {"kind": "train", "recipe": "knob", "model": model_type, "epochs": 2, "images": images[model_type],
                    "validate": False, **overrides}
            record = runner.worker(spec, f"knobs: {model_type} {setting} #{repeat + 1}", env=env)
            record.update(section="knobs", model=model_type, setting=setting)
            if record.get("epoch_s"):
                record["images_per_s"] = record["images_per_epoch"] / record["epoch_s"][-1]
                record["gflops"] = record["flops_per_epoch"] / record["epoch_s"][-1] / 1e9
            runs.append(record)
        rows.append({"model": model_type, "setting": setting, "runs": runs, "images": images[model_type]})
    return {"rows": rows, "images": images}


def run_recipes_section(runner: Runner, repeats: int, quick: bool, models: dict[str, Any]) -> dict[str, Any]:
    rows = {}
    for recipe in runner.args.recipes:
        overrides = {"epochs": 1} if quick else {}
        runs = []
        for repeat in range(repeats):
            spec = {"kind": "train", "recipe": recipe, "overrides": overrides, "seed": 42 + repeat}
            if quick:
                spec["images"] = QUICK_CNN_IMAGES
            record = runner.worker(spec, f"recipes: {recipe} (seed {42 + repeat}) #{repeat + 1}")
            record.update(section="recipes", recipe=recipe)
            runs.append(record)
        rows[recipe] = runs
    return {"rows": rows, "baseline": models.get("rows", {}).get("cnn", [])}


# ==================================================================================================
# Report


def report(machine: dict[str, Any], results: dict[str, Any], args: argparse.Namespace, elapsed: float) -> str:
    peak = machine.get("peak_gflops")
    gpu = bool(machine.get("gpus"))
    lines = [f"# Benchmark: MNIST with TensorFlow/Keras ({'quick smoke run' if args.quick else 'full run'})", ""]
    versions = ", ".join(f"{k} {machine[k]}" for k in ("tensorflow", "keras", "jax", "numpy", "python") if machine.get(k))
    lines += [
        f"- Date: {machine['date']}; {args.repeats} repeat(s), medians shown; total {elapsed / 60:.1f} min.",
        f"- CPU: {machine['cpu']} ({machine.get('cpu_family_model') or 'family n/a'}), {machine['cores']} cores; "
        f"flags: {', '.join(machine['flags']) or 'none of interest'}.",
        f"- Peak FP32: {_fmt(peak, 0)} GFLOP/s = {machine['cores']} cores x {machine['fp32_flop_per_cycle_per_core']} "
        f"FLOP/cycle ({machine['vector_note']}) x {_fmt(machine['clock_mhz'], 0)} MHz ({machine['clock_source']}).",
        f"- Software: {versions}; Keras backend {machine.get('backend')}; oneDNN "
        f"{ {True: 'on', False: 'off', None: 'n/a'}[machine.get('onednn')] }"
        + (f"; GPU: {', '.join(machine['gpus'])}" if gpu else "") + ".",
        f"- Load average at start: {machine['load_start']}; 'other load' = CPU cores used by other processes during "
        "the measurements (0 = the machine was ours).",
        "",
    ]

    nb = results.get("notebook")
    if nb is not None:
        lines += ["## The tutorial's recipe: bare script vs notebook", ""]
        if nb.get("skipped"):
            lines += [f"Skipped: {nb['skipped']}.", ""]
        else:
            lines += [
                f"The same work (notebook 05: load, normalize, build, compile, check, fit {nb['epochs']} epochs with "
                "the 6,000 held-out images as validation, save) as a Python script and as the notebook run by papermill.", "",
                "| model | measure | script | notebook | notebook / script | other load |",
                "|---|---|---|---|---|---|",
            ]
            for model_type, runs in nb["rows"].items():
                s, n = runs["script"], runs["notebook"]
                load = _load(s + n)
                for label, key, fmt in (("start to end", "wall_s", "s"), ("fit", "fit_s", "s"), ("peak memory", "max_rss_mb", " MB")):
                    a, b = _median(s, key), _median(n, key)
                    digits = 0 if fmt == " MB" else 1
                    lines.append(f"| {model_type} | {label} | {_fmt(a, digits, fmt)} | {_fmt(b, digits, fmt)} | {_ratio(b, a)} | {load} |")
            lines.append("")

    models = results.get("models")
    if models is not None:
        lines += [f"## The models, the tutorial's recipe (batch 32, {models['epochs']} epochs, Adam, 6,000 held-out images as validation; test set evaluated once after)", "",
                  "| model | parameters | training MFLOP/image | s/epoch | images/s | GFLOP/s | share of peak | test accuracy | fit returns after last epoch | peak memory | other load |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for model_type, runs in models["rows"].items():
            ok = [r for r in runs if r.get("returncode") == 0]
            if not ok:
                lines.append(f"| {model_type} | failed | | | | | | | | | |")
                continue
            fit = _median(ok, "fit_s")
            per_epoch = statistics.median([statistics.median(r["epoch_s"]) for r in ok])
            gflops = ok[0]["flops_per_epoch"] * ok[0]["epochs"] / fit / 1e9
            share = None if gpu or not peak else gflops / peak
            lines.append(
                f"| {model_type} | {int(ok[0]['flops_per_image']['params']):,} | {ok[0]['flops_per_image']['training'] / 1e6:.2f} | "
                f"{per_epoch:.2f} | {ok[0]['images_per_epoch'] * ok[0]['epochs'] / fit:,.0f} | {gflops:.1f} | "
                f"{_pct(share, 1)} | {_pct(_median(ok, 'test_accuracy'))} | {_fmt(_median(ok, 'tail_s'), 1, ' s')} | "
                f"{_fmt(_median(ok, 'max_rss_mb'), 0, ' MB')} | {_load(ok)} |")
        if args.quick:
            lines += ["", f"Quick run: 1 epoch; the CNN on the first {QUICK_CNN_IMAGES:,} training images."]
        lines += ["", "s/epoch includes the check on the 6,000 validation images after each epoch; GFLOP/s counts it too. "
                  "'fit returns after last epoch': the seconds between the end of the last epoch and fit() returning "
                  "(NumPy input with op determinism on; see make_dataset in this script).", ""]

    pipeline = results.get("pipeline")
    if pipeline is not None:
        plain = _median(pipeline["rows"]["plain"], "fit_s")
        lines += [f"## The tutorial's fit: NumPy arrays vs a plain tf.data pipeline (CNN, batch 32, {pipeline['epochs']} "
                  "epochs, 6,000 held-out images as validation)", "",
                  "| input | fit time | vs plain pipeline | target | met | slowest epoch / median epoch | "
                  "fit returns after last epoch | test accuracy | other load |", "|---|---|---|---|---|---|---|---|---|"]
        for name, runs in pipeline["rows"].items():
            ok = [r for r in runs if r.get("returncode") == 0 and r.get("epoch_s")]
            if not ok:
                lines.append(f"| {PIPELINES[name]} | failed | | | | | | | |")
                continue
            fit = _median(ok, "fit_s")
            spread = statistics.median([max(r["epoch_s"]) / statistics.median(r["epoch_s"]) for r in ok])
            target, met = "", ""
            if name == "arrays" and plain:
                target = f"<= {PIPELINE_TARGET_RATIO:.2f}x"
                met = "yes" if fit / plain <= PIPELINE_TARGET_RATIO else "NO"
            lines.append(f"| {PIPELINES[name]} | {_fmt(fit, 1, ' s')} | {_ratio(fit, plain)} | {target} | {met} | "
                         f"{spread:.2f} | {_fmt(_median(ok, 'tail_s'), 1, ' s')} | {_pct(_median(ok, 'test_accuracy'))} | "
                         f"{_load(ok)} |")
        lines += ["", "Medians over the repeats; the three inputs are measured in turn within each repeat. Autotuning "
                  "on, TensorFlow 2.21 sometimes waits up to ~10 s when it deletes an epoch's iterator (its tuning "
                  "thread missed the stop signal): the slowest epoch and the wait after the last epoch show it. "
                  "`helpers.setup` turns autotuning off for Keras' "
                  "array pipeline.", ""]

    data = results.get("data")
    if data is not None:
        lines += ["## Reading the data (60,000 + 10,000 images and labels)", "",
                  "| source | size on disk | seconds | vs IDX raw | peak memory | other load |", "|---|---|---|---|---|---|"]
        raw = _median(data["rows"].get("IDX raw", []), "read_s")
        for name, runs in data["rows"].items():
            t = _median(runs, "read_s")
            lines.append(f"| {name} | {data['sizes'].get(name, 0) / 1e6:.1f} MB | {_fmt(t, 3)} | {_ratio(t, raw)} | "
                         f"{_fmt(_median(runs, 'max_rss_mb'), 0, ' MB')} | {_load(runs)} |")
        lines += [""] + [f"- {note}." for note in data.get("notes", [])] if data.get("notes") else []
        lines.append("")

    inference = results.get("inference")
    if inference is not None:
        lines += ["## Inference with the exported SavedModel (`model.export`, reloaded with `tf.saved_model.load`)", ""]
        if inference.get("skipped"):
            lines += [f"Skipped: {inference['skipped']}.", ""]
        else:
            lines += ["| model | latency, 1 image (median) | p90 | throughput, batch 1024 | other load |", "|---|---|---|---|---|"]
            for model_type, runs in inference["rows"].items():
                lines.append(f"| {model_type} | {_fmt(_median(runs, 'latency_ms'), 2, ' ms')} | "
                             f"{_fmt(_median(runs, 'latency_p90_ms'), 2, ' ms')} | "
                             f"{_fmt(_median(runs, 'batch_images_per_s'), 0, ' images/s')} | {_load(runs)} |")
            lines.append("")

    knobs = results.get("knobs")
    if knobs is not None:
        lines += ["## The knobs (training throughput, second of two epochs over a slice of the training set)", "",
                  "Each setting trains a fresh model for two epochs over the first "
                  f"{', '.join(f'{n:,} ({m})' for m, n in knobs.get('images', {}).items())} training images, fed "
                  "through a tf.data pipeline without autotuning (as in notebook 09), and times the second epoch.", "",
                  "| model | setting | images/s | vs batch 32 | GFLOP/s | share of peak | peak memory | other load |",
                  "|---|---|---|---|---|---|---|---|"]
        base = {}
        for row in knobs["rows"]:
            if row["setting"].startswith("batch 32 (tutorial)"):
                base[row["model"]] = _median(row["runs"], "images_per_s")
        for row in knobs["rows"]:
            if row.get("skipped"):
                lines.append(f"| {row['model']} | {row['setting']} | skipped: {row['skipped']} | | | | | |")
                continue
            ips, gf = _median(row["runs"], "images_per_s"), _median(row["runs"], "gflops")
            share = None if gpu or not peak or gf is None else gf / peak
            lines.append(f"| {row['model']} | {row['setting']} | {_fmt(ips, 0)} | {_ratio(ips, base.get(row['model']))} | "
                         f"{_fmt(gf, 1)} | {_pct(share, 1)} | {_fmt(_median(row['runs'], 'max_rss_mb'), 0, ' MB')} | {_load(row['runs'])} |")
        lines.append("")

    recipes = results.get("recipes")
    if recipes is not None:
        baseline = [r for r in recipes.get("baseline", []) if r.get("returncode") == 0]
        base_fit = _median(baseline, "fit_s")
        lines += ["## The recipes (CNN; fit time includes the check on the validation set; the test set is evaluated once, after)", "",
                  "| recipe | settings | fit time | vs tutorial | test accuracy (median, min) | target | met | other load |",
                  "|---|---|---|---|---|---|---|---|"]
        if baseline:
            lines.append(f"| tutorial (notebook 05) | batch 32, {baseline[0]['epochs']} epochs, Adam 1e-3 | {_fmt(base_fit, 1, ' s')} | 1.00x | "
                         f"{_pct(_median(baseline, 'test_accuracy'))}, {_pct(min(r['test_accuracy'] for r in baseline))} | | | {_load(baseline)} |")
        for recipe, runs in recipes["rows"].items():
            ok = [r for r in runs if r.get("returncode") == 0]
            if not ok:
                lines.append(f"| {recipe} | failed | | | | | | |")
                continue
            r0 = ok[0]["settings"]
            fit, acc, worst = _median(ok, "fit_s"), _median(ok, "test_accuracy"), min(r["test_accuracy"] for r in ok)
            if recipe == "fast":
                settings = (f"batch {r0['batch_size']}, {r0['epochs']} epochs, warm-up + cosine to {r0['peak_learning_rate']:g}, "
                            f"label smoothing {r0['label_smoothing']:g}, steps_per_execution {r0['steps_per_execution']}")
                target = f">= {FAST_TARGET_ACCURACY:.1%} in <= 1/3 of the tutorial's time"
                met = base_fit is not None and worst >= FAST_TARGET_ACCURACY and fit <= FAST_TARGET_RATIO * base_fit
            else:
                settings = (f"the same CNN, random shifts <= {r0['max_shift']} px and rotations <= {r0['max_degrees']:g} deg "
                            "(new every epoch), "
                            f"batch {r0['batch_size']}, {r0['epochs']} epochs, warm-up + cosine to {r0['peak_learning_rate']:g}, "
                            f"label smoothing {r0['label_smoothing']:g}, oneDNN on")
                target = f">= {FURTHER_TARGET_ACCURACY:.1%} within {FURTHER_TARGET_SECONDS:.0f} s"
                met = worst >= FURTHER_TARGET_ACCURACY and fit <= FURTHER_TARGET_SECONDS
            verdict = ("not checked (quick run)" if args.quick else ("yes" if met else "NO"))
            lines.append(f"| {recipe} | {settings} | {_fmt(fit, 1, ' s')} | {_ratio(fit, base_fit)} | {_pct(acc)}, {_pct(worst)} | "
                         f"{target} | {verdict} | {_load(ok)} |")
        lines += ["", f"Each recipe ran {args.repeats} time(s), with seeds 42, 43, ...; 'min' is the worst run.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=None, help="measurements per row; medians are shown (default 3, quick 1)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 repeat, 1-epoch trainings, small slices")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="sections to run")
    parser.add_argument("--notebook-models", nargs="+", choices=("fc", "cnn"), default=["fc"],
                        help="models run through notebook 05 for the overhead comparison (default fc)")
    parser.add_argument("--recipes", nargs="+", choices=("fast", "further"), default=["fast", "further"],
                        help="recipes measured in the recipes section (default both)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "bench", help="where bench.json and bench.md go")
    parser.add_argument("--name", default="bench", help="file names in --out: NAME.json, NAME.md (default bench)")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args.worker)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    started = time.perf_counter()
    machine = describe_machine()
    machine["date"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    machine["load_start"] = " / ".join(f"{v:.2f}" for v in os.getloadavg())
    tmp = Path(tempfile.mkdtemp(prefix="mnist-bench-"))
    results: dict[str, Any] = {}
    runner = Runner(args, tmp)
    args.out.mkdir(parents=True, exist_ok=True)

    def save() -> str:
        """Write bench.json and bench.md with what is measured so far (after every section)."""
        markdown = report(machine, results, args, time.perf_counter() - started)
        (args.out / f"{args.name}.md").write_text(markdown + "\n")
        payload = {"machine": machine, "arguments": {k: str(v) for k, v in vars(args).items() if k != "worker"},
                   "elapsed_s": time.perf_counter() - started, "measurements": runner.records}
        (args.out / f"{args.name}.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
        return markdown

    try:
        print(f"Benchmark ({'quick' if args.quick else 'full'}, {args.repeats} repeat(s)); sections: {', '.join(args.only)}", flush=True)
        info = runner.worker({"kind": "info"}, "machine: versions")
        if info.get("returncode") != 0:
            print(info.get("error", ""), file=sys.stderr)
            return 1
        machine.update(info["info"])
        print(f"CPU: {machine['cpu']}, {machine['cores']} cores, flags {machine['flags']}, peak {_fmt(machine['peak_gflops'], 0)} GFLOP/s; "
              f"TensorFlow {machine.get('tensorflow', 'n/a')}, Keras {machine.get('keras')} ({machine.get('backend')})", flush=True)
        sections = set(args.only)
        models: dict[str, Any] = {"rows": {}}
        # The tutorial's recipe as a script: the models section, the baseline of the recipes, and the script side
        # of the notebook comparison.
        needed = [m for m in ("fc", "cnn") if "models" in sections
                  or (m == "cnn" and "recipes" in sections) or (m in args.notebook_models and "notebook" in sections)]
        if needed:
            print("Models: the tutorial's recipe as a script", flush=True)
            models = run_models_section(runner, args.repeats, args.quick, tuple(needed))
            if "models" in sections:
                results["models"] = models
            save()
        if "notebook" in sections:
            print("Notebook overhead", flush=True)
            results["notebook"] = run_notebook_section(runner, args.repeats, args.quick, machine, models)
            save()
        if "pipeline" in sections:
            print("The tutorial's fit: arrays vs a plain pipeline", flush=True)
            results["pipeline"] = run_pipeline_section(runner, args.repeats, args.quick)
            save()
        if "data" in sections:
            print("Reading the data", flush=True)
            results["data"] = run_data_section(runner, args.repeats, args.quick)
            save()
        if "inference" in sections:
            print("Inference", flush=True)
            results["inference"] = run_inference_section(runner, args.repeats, args.quick, models, machine)
            save()
        if "knobs" in sections:
            print("Knobs", flush=True)
            results["knobs"] = run_knobs_section(runner, args.repeats, args.quick, machine)
            save()
        if "recipes" in sections:
            print("Recipes", flush=True)
            results["recipes"] = run_recipes_section(runner, args.repeats, args.quick, models)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    markdown = save()
    print()
    print(markdown)
    shown = args.out.resolve()
    try:
        shown = shown.relative_to(REPO_ROOT)
    except ValueError:
        pass
    print(f"Wrote {shown}/{args.name}.json and {args.name}.md", flush=True)
    failures = [r["label"] for r in runner.records if r.get("returncode") != 0]
    if failures:
        print(f"{len(failures)} measurement(s) failed: {', '.join(failures)}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
