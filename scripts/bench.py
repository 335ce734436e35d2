#!/usr/bin/env python3
"""Benchmark the series on this machine by running its notebooks with parameter sets, side by side.

    python scripts/bench.py              # full run, medians of 3 repeats (make bench)
    python scripts/bench.py --quick      # smoke run: 1 repeat, short settings (make bench BENCH_ARGS=--quick)
    python scripts/bench.py --only models recipes --repeats 5

Every measurement is one notebook of the series executed by papermill (`series.execute`) in a fresh Python process
with an output folder of its own: the notebook writes what it measured with `helpers.write_metrics` (fit seconds,
images/s, accuracies, its kernel's peak memory) and this script reads it, with the process' wall time and peak
memory (os.wait4: the largest of the job's process and its kernel, not their sum). No recipe lives here: the models
are notebook 05's, the knobs and the fast recipe notebook 09's, the further recipe notebook 10's, training on several
devices and workers notebook 11's, the LiteRT models notebook 12's (from 05's CNN), and the notebook-overhead baseline is notebook 05's own code exported as a plain script. Reading the data and inference,
which no notebook times, call the series' helpers. Compare ratios measured in one run, never numbers across runs or
machines: the tables say how many CPU cores other processes used meanwhile ("other load"). Writes bench.json (every
measurement) and bench.md (the tables) into build/bench/; what the jobs write goes to a temporary folder.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import series
from series import REPO_ROOT

SECTIONS = ("models", "notebook", "data", "inference", "knobs", "recipes", "devices", "litert")
# The targets: a test accuracy, in at most a share of the tutorial's fit time as notebook 05 runs it (its CNN), on a
# CPU with bf16 instructions, and without; and bf16's speed against float32 at the fast recipe's settings (knobs).
FAST_TARGET = (0.990, 0.15, 0.25)  # notebook 09
FURTHER_TARGET = (0.995, 0.60, 1.00)  # notebook 10
BF16_TARGET = 1.8
KNOB = "batch 128, steps_per_execution 32"  # the fast recipe's setting in notebook 09's knobs
FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile")


# ----------------------------------------------------------------------------------- a job: one fresh process
def job_main(job: dict[str, Any]) -> int:
    """Run one measurement in this process: a notebook (papermill, or exported as a script), or a helpers call."""
    out = Path(job["out"])
    if job.get("model_from"):  # a model trained by an earlier job (notebook 05's), where the notebook looks for it
        shutil.copytree(job["model_from"], out / "saved_model" / Path(job["model_from"]).name)
    if "notebook" in job:
        notebook = series.notebook(job["notebook"])
        if not job.get("script"):
            series.execute(notebook, job["parameters"], out / notebook.name, timeout=3600)
            return 0
        import nbconvert
        import papermill

        prepared = out / f"prepared-{notebook.name}"  # the notebook's own code with the parameters, as a .py file
        papermill.execute_notebook(str(notebook), str(prepared), parameters=job["parameters"], prepare_only=True,
                                   kernel_name="python3", progress_bar=False)
        code, _ = nbconvert.PythonExporter().from_filename(str(prepared))
        os.chdir(series.NOTEBOOKS_DIR)
        sys.path.insert(0, str(series.NOTEBOOKS_DIR))
        exec(compile(code, notebook.with_suffix(".py").name, "exec"), {"__name__": "__main__"})
        return 0
    sys.path.insert(0, str(series.NOTEBOOKS_DIR))
    import helpers

    if job["kind"] == "read":  # reading the data: the series' IDX reader, raw or gzip
        times = []
        for _ in range(job["reads"]):
            start = time.perf_counter()
            helpers.load_mnist(data_dir=job["data_dir"])
            times.append(time.perf_counter() - start)
        result = {"read_s": statistics.median(times)}
    else:  # inference: notebook 05's saved model, exported as in notebook 07, served by tf.saved_model.load
        import tensorflow as tf

        model = helpers.load_model(job["keras_file"])
        export = out / "serving"
        helpers.write_atomically(export, lambda tmp: model.export(str(tmp), verbose=False), overwrite=True)
        loaded = tf.saved_model.load(str(export))  # kept: its serving function needs the object's variables
        serve = loaded.serve
        images = helpers.prepare(helpers.load_mnist()[1][0][:1024]).numpy()
        latencies, batches = [], []
        for i in range(20 + job["single_calls"]):  # the first 20 warm up
            one = tf.constant(images[i % 1024][None])
            start = time.perf_counter()
            serve(one).numpy()
            latencies.append(time.perf_counter() - start)
        batch = tf.constant(images)
        for _ in range(3 + job["batch_calls"]):
            start = time.perf_counter()
            serve(batch).numpy()
            batches.append(time.perf_counter() - start)
        latencies = sorted(latencies[20:])
        result = {"latency_ms": 1000 * statistics.median(latencies),
                  "p90_ms": 1000 * latencies[len(latencies) * 9 // 10],
                  "batch_images_per_s": 1024 / statistics.median(batches[3:])}
    (out / "result.json").write_text(json.dumps(result))
    return 0


def _cpu_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores), from /proc/stat."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def collect(out: Path) -> dict[str, Any]:
    """What a job left in its output folder: a helpers call's result.json, and the measurements notebooks wrote with
    helpers.write_metrics (build/metrics/*.json, saved_model/*/metrics.json): their runs, and the kernel's peak."""
    found: dict[str, Any] = {}
    for path in sorted(out.rglob("*.json")):
        if path.name == "result.json":
            found.update(json.loads(path.read_text()))
        elif path.parent.name == "metrics" or path.name == "metrics.json":
            written = json.loads(path.read_text())
            found.setdefault("runs", {}).update(written["runs"])
            found["kernel_peak_mb"] = max(found.get("kernel_peak_mb") or 0, written["peak_memory_mb"] or 0) or None
    return found


class Runner:
    """Runs jobs in fresh processes and keeps every record."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.records, self.count = tmp, [], 0

    def run(self, label: str, env: dict[str, str] | None = None, **job: Any) -> dict[str, Any]:
        self.count += 1
        out = self.tmp / f"job{self.count:03d}"
        out.mkdir()
        print(f"  {label} ...", flush=True)
        environment = {**os.environ, "MNIST_TUTORIAL_OUTPUT": str(out), "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
        busy, start = _cpu_busy_seconds(), time.perf_counter()
        with open(out / "log.txt", "w") as log:
            process = subprocess.Popen([sys.executable, __file__, "--job", json.dumps({**job, "out": str(out)})],
                                       stdout=log, stderr=subprocess.STDOUT, env=environment, start_new_session=True)
            timer = threading.Timer(3600, os.killpg, (process.pid, signal.SIGKILL))  # the job and its kernel
            timer.start()
            try:
                _, status, usage = os.wait4(process.pid, 0)
            finally:
                timer.cancel()
        wall = time.perf_counter() - start
        record = {"label": label, "wall_s": wall, "max_rss_mb": usage.ru_maxrss / 1024, "out": str(out),
                  "returncode": os.waitstatus_to_exitcode(status),
                  "other_load": max(0.0, (_cpu_busy_seconds() - busy - usage.ru_utime - usage.ru_stime) / wall)}
        record.update(collect(out))
        if record["returncode"]:
            record["error"] = (out / "log.txt").read_text(errors="replace")[-3000:]
            print(f"  ! {label} failed (exit {record['returncode']}); see bench.json", flush=True)
        self.records.append(record)
        return record


# ------------------------------------------------------------------------------------------------ the sections
def run_sections(runner: Runner, args: argparse.Namespace, machine: dict[str, Any]) -> dict[str, Any]:
    quick, repeats, sections, results = args.quick, args.repeats, set(args.only), {}
    run, epochs = runner.run, 1 if quick else 5
    models: dict[str, list] = {}
    for model_type in series.MODEL_TYPES if sections & {"models", "inference"} else ():
        parameters = {"MODEL_TYPES": [model_type], "EPOCHS": epochs, "FIT_VERBOSE": 2}
        models[model_type] = [run(f"models: notebook 05, {model_type}, {epochs} epochs #{r + 1}", notebook="05",
                                  parameters={**parameters, "SEED": 42 + r}) for r in range(repeats)]
    results["models"] = models
    if "notebook" in sections:  # papermill against the same notebook's code as a bare script, interleaved
        parameters = {"MODEL_TYPES": ["fc"], "EPOCHS": epochs, "FIT_VERBOSE": 0}
        results["notebook"] = {kind: [] for kind in ("papermill", "script")}
        for r in range(repeats):
            for kind, records in results["notebook"].items():
                records.append(run(f"notebook: 05 (fc) by {kind} #{r + 1}", notebook="05", parameters=parameters,
                                   script=kind == "script", env={"MPLBACKEND": "Agg"}))
    if "data" in sections:
        folders = {"IDX raw": REPO_ROOT / "data", "IDX gzip": runner.tmp / "idx_gzip"}
        folders["IDX gzip"].mkdir()
        for path in folders["IDX raw"].glob("*-ubyte"):  # gzip copies, same names: the reader checks the bytes
            (folders["IDX gzip"] / path.name).write_bytes(gzip.compress(path.read_bytes(), mtime=0))
        reads = 3 if quick else 5
        results["data"] = {name: [run(f"data: {name} #{r + 1}", kind="read", data_dir=str(folder), reads=reads)
                                  for r in range(repeats)] for name, folder in folders.items()}
        results["data_sizes"] = {name: sum(p.stat().st_size for p in folder.glob("*-ubyte")) for name, folder in
                                 folders.items()}
    if "inference" in sections:
        saved = {model_type: Path(next((t for t in trained if not t["returncode"]), trained[0])["out"]) / "saved_model"
                 / f"mnist_{model_type}" / "model.keras" for model_type, trained in models.items()}  # from notebook 05
        results["inference"] = {model_type: [run(f"inference: {model_type} SavedModel #{r + 1}", kind="infer",
                                                 keras_file=str(keras_file), single_calls=200 if quick else 1000,
                                                 batch_calls=10 if quick else 30) for r in range(repeats)]
                                for model_type, keras_file in saved.items()}
    if "knobs" in sections:  # notebook 09's knobs, plus settings it takes as parameters or from the environment
        images = 2048 if quick else 16_384
        base = {"EPOCHS": 1, "FAST_EPOCHS": 1, "TRAIN_IMAGES": images, "KNOB_IMAGES": images, "FIT_VERBOSE": 0}
        variants = [("as it comes", {}, {})]  # notebook 09 measures mixed_bfloat16 itself where the CPU has bf16
        if not quick:
            variants += [("1 intra-op thread", {"THREADS": 1, "PRECISION": "float32"}, {}),  # float32 only: no bf16 knob
                         ("oneDNN off", {"PRECISION": "float32"}, {"TF_ENABLE_ONEDNN_OPTS": "0"})]
        results["knobs"] = {"images": images, "variants": {
            name: [run(f"knobs: notebook 09, {name} #{r + 1}", notebook="09", parameters={**base, **params}, env=env)
                   for r in range(repeats)] for name, params, env in variants}}
    if "recipes" in sections:  # notebook 09 (the tutorial's recipe and the fast one, side by side) and notebook 10
        results["recipes"] = {}
        for nb in ("09", "10"):
            short = series.quick_parameters(series.declared_parameters(series.notebook(nb))) if quick else {}
            short |= {"TRAIN_IMAGES": 12_000} if quick else {}  # as the first benchmark script's quick run
            results["recipes"][nb] = [run(f"recipes: notebook {nb} (seed {42 + r}) #{r + 1}", notebook=nb,
                                          parameters={**short, "FIT_VERBOSE": 0, "SEED": 42 + r,
                                                      "CHECK_TARGETS": False})  # the verdicts are this script's
                                      for r in range(repeats)]
    if "devices" in sections:  # notebook 11: one device, two logical devices, two worker processes
        short = {"TRAIN_IMAGES": 12_000} if quick else {}
        results["devices"] = [run(f"devices: notebook 11 #{r + 1}", notebook="11",
                                  parameters={**short, "FIT_VERBOSE": 0, "SEED": 42 + r}) for r in range(repeats)]
    if "litert" in sections:  # notebook 12, on the CNN notebook 05 trained (models), else on one it trains itself
        cnn = next((Path(t["out"]) / "saved_model" / "mnist_cnn" for t in models.get("cnn", []) if not t["returncode"]), None)
        results["litert"] = [run(f"litert: notebook 12 #{r + 1}", notebook="12", model_from=str(cnn) if cnn else None,
                                 parameters={"EPOCHS": epochs, "SEED": 42 + r}) for r in range(repeats)]
    return results


# ------------------------------------------------------------------------------------------------- the report
def median(records: list[dict[str, Any]], *keys: str) -> float | None:
    values = []
    for record in records:
        value: Any = record
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None and not record.get("returncode"):
            values.append(value)
    return statistics.median(values) if values else None


def fmt(value: float | None, spec: str = ".1f", suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{suffix}"


def ratio(a: float | None, b: float | None) -> str:
    return "n/a" if not a or not b else f"{a / b:.2f}x"


def run_names(records: list[dict[str, Any]]) -> list[str]:
    """The names of the runs the notebooks wrote (helpers.write_metrics), in the order first written."""
    return list(dict.fromkeys(name for record in records for name in record.get("runs", {})))


def load(records: list[dict[str, Any]]) -> str:
    return fmt(statistics.mean(r["other_load"] for r in records), ".2f") if records else "n/a"


def table(title: str, header: str, rows: list[str]) -> list[str]:
    return [f"### {title}", "", f"| {header} |", "|" + "---|" * (header.count("|") + 1), *rows, ""]


def report(machine: dict[str, Any], results: dict[str, Any], args: argparse.Namespace) -> str:
    kind = "quick run (short settings, not checked against the targets)" if args.quick else "full run"
    m = machine
    lines = [f"## The latest run, {m['date']}", "",
             f"- CPU: {m['cpu']}, {m['cores']} cores; flags: {', '.join(m['flags']) or 'none of interest'}",
             f"- TensorFlow {m['tensorflow']}, Keras {m['keras']}, Python {m['python']}, {m['os']}",
             f"- {kind}; {args.repeats} repeat(s), medians; load average at the start {machine['load_start']}",
             "- peak memory: the largest process of a measurement (in practice the notebook's kernel)", ""]
    if "models" in args.only:
        rows = []
        for model_type, runs in results["models"].items():
            got = {key: median(runs, "runs", "tutorial", key) for key in
                   ("parameters", "epochs", "seconds_per_epoch", "images_per_second", "test_accuracy")}
            rows.append(f"| {model_type} | {fmt(got['parameters'], ',.0f')} | {fmt(got['epochs'], '.0f')} | "
                        f"{fmt(got['seconds_per_epoch'], '.2f')} | {fmt(got['images_per_second'], ',.0f')} | "
                        f"{fmt(got['test_accuracy'], '.2%')} | {fmt(median(runs, 'max_rss_mb'), ',.0f', ' MB')} | "
                        f"{load(runs)} |")
        lines += table("The models (notebook 05: batch 32, Adam, 54,000 training images, 6,000 for validation)",
                       "model | parameters | epochs | s/epoch | images/s | test accuracy | peak memory | other load",
                       rows)
    if "notebook" in results:
        runs = results["notebook"]
        wall = {kind: median(records, "wall_s") for kind, records in runs.items()}
        fit = {kind: median(records, "runs", "tutorial", "fit_seconds") for kind, records in runs.items()}
        rows = [f"| {kind} | {fmt(wall[kind], '.1f', ' s')} | {ratio(wall[kind], wall['script'])} | "
                f"{fmt(fit[kind], '.1f', ' s')} | {ratio(fit[kind], fit['script'])} | "
                f"{fmt(median(records, 'max_rss_mb'), ',.0f', ' MB')} | {load(records)} |"
                for kind, records in runs.items()]
        lines += table("Notebook overhead (notebook 05, FC, by papermill vs its own code as a bare script)",
                       "run | process wall time | vs script | fit time | vs script | peak memory | other load", rows)
    if "data" in results:
        raw = median(results["data"]["IDX raw"], "read_s")
        rows = [f"| {name} | {results['data_sizes'][name] / 1e6:.1f} MB | {fmt(median(runs, 'read_s'), '.3f')} | "
                f"{ratio(median(runs, 'read_s'), raw)} | {fmt(median(runs, 'max_rss_mb'), ',.0f', ' MB')} | "
                f"{load(runs)} |"
                for name, runs in results["data"].items()]
        lines += table("Reading the data (60,000 + 10,000 images and labels, helpers.load_mnist)",
                       "source | size on disk | seconds | vs IDX raw | peak memory | other load", rows)
    if "inference" in results:
        rows = [f"| {model_type} | {fmt(median(runs, 'latency_ms'), '.2f', ' ms')} | "
                f"{fmt(median(runs, 'p90_ms'), '.2f', ' ms')} | "
                f"{fmt(median(runs, 'batch_images_per_s'), ',.0f', ' images/s')} | {load(runs)} |"
                for model_type, runs in results["inference"].items()]
        lines += table("Inference with the exported SavedModel (`model.export`, reloaded with `tf.saved_model.load`)",
                       "model | latency, 1 image (median) | p90 | throughput, batch 1024 | other load", rows)
    if "knobs" in results:
        plain = results["knobs"]["variants"]["as it comes"]
        base = median(plain, "runs", "knob: batch 32 (the tutorial)", "images_per_second")
        names = dict.fromkeys(name for record in plain for name in record.get("runs", {}) if name.startswith("knob: "))
        shown = [(name[len("knob: "):], plain, name) for name in names]
        shown += [(f"{KNOB}, {variant}", runs, f"knob: {KNOB}")
                  for variant, runs in results["knobs"]["variants"].items() if variant != "as it comes"]
        rows = [f"| {setting} | {fmt(median(runs, 'runs', name, 'images_per_second'), ',.0f')} | "
                f"{ratio(median(runs, 'runs', name, 'images_per_second'), base)} | {load(runs)} |"
                for setting, runs, name in shown]
        if not machine["bf16"]:
            rows.append("| mixed_bfloat16 | not measured: this CPU has no bf16 instructions (emulated: slower) | | |")
        lines += table(f"The knobs (notebook 09: CNN training speed, the second of two epochs over "
                       f"{results['knobs']['images']:,} images)", "setting | images/s | vs batch 32 | other load", rows)
        if machine["bf16"] and not args.quick:
            bf16 = median(plain, "runs", f"knob: {KNOB}, mixed_bfloat16", "images_per_second")
            fp32 = median(plain, "runs", f"knob: {KNOB}", "images_per_second")
            met = "yes" if None not in (bf16, fp32) and bf16 >= BF16_TARGET * fp32 else "NO"
            lines += [f"mixed_bfloat16 against float32 at {KNOB}: {ratio(bf16, fp32)}; target >= {BF16_TARGET}x: {met}",
                      ""]
    if "recipes" in results:
        fast, further = results["recipes"]["09"], results["recipes"]["10"]
        notebook05 = results.get("models", {}).get("cnn", [])  # the denominator: 05's CNN, else 09's own tutorial run
        rows, runs05 = [], [("tutorial (notebook 05)", notebook05, "tutorial")] if notebook05 else []
        tutorial_fit = median(notebook05 or fast, "runs", "tutorial", "fit_seconds")
        for name, runs, run in (*runs05, ("tutorial (as 05, in notebook 09)", fast, "tutorial"),
                                ("fast (notebook 09)", fast, "fast"), ("further (notebook 10)", further, "further")):
            fit, accuracy = median(runs, "runs", run, "fit_seconds"), median(runs, "runs", run, "test_accuracy")
            worst = min((r["runs"][run]["test_accuracy"] for r in runs if not r["returncode"]), default=None)
            goal = {"fast": FAST_TARGET, "further": FURTHER_TARGET}.get(run)
            target, met = "", False
            if goal and None not in (worst, fit, tutorial_fit):
                share = goal[1] if machine["bf16"] else goal[2]
                target = f">= {goal[0]:.1%} in <= {share:.2f}x ({'bf16' if machine['bf16'] else 'no bf16'})"
                met = worst >= goal[0] and fit <= share * tutorial_fit
            verdict = "" if not target else "not checked (quick run)" if args.quick else "yes" if met else "NO"
            rows.append(f"| {name} | {fmt(fit, '.1f', ' s')} | {ratio(fit, tutorial_fit)} | {fmt(accuracy, '.2%')}, "
                        f"{fmt(worst, '.2%')} | {target} | {verdict} | {load(runs)} |")
        title = ("The recipes (CNN; fit time includes the validation checks; the test set is evaluated once, after; "
                 f"ratios to {'notebook 05' if notebook05 else 'notebook 09'}'s tutorial fit)")
        header = "recipe | fit time | vs tutorial | test accuracy (median, min) | target | met | other load"
        lines += table(title, header, rows)
        lines += ["Seeds 42, 43, ... for the repeats; 'min' is the worst run.", ""]
    if "devices" in results:
        runs = results["devices"]
        names = run_names(runs)
        one = median(runs, "runs", "1_device", "fit_seconds")
        rows = [f"| {name.replace('_', ' ')} | {fmt(median(runs, 'runs', name, 'fit_seconds'), '.1f', ' s')} | "
                f"{ratio(median(runs, 'runs', name, 'fit_seconds'), one)} | "
                f"{fmt(median(runs, 'runs', name, 'validation_accuracy'), '.2%')} | {load(runs)} |" for name in names]
        lines += table("Several devices (notebook 11: the CNN, 1 epoch, global batch 128; training time, without starting "
                       "the workers)", "run | time | vs 1 device | validation accuracy | other load", rows)
    if "litert" in results:
        runs = results["litert"]
        names = run_names(runs)
        rows = [f"| {name} | {fmt(median(runs, 'runs', name, 'settings', 'bytes'), ',.0f', ' bytes')} | "
                f"{fmt(median(runs, 'runs', name, 'validation_accuracy'), '.2%')} | "
                f"{fmt(median(runs, 'runs', name, 'test_accuracy'), '.2%')} | "
                f"{fmt(median(runs, 'runs', name, 'settings', 'latency_us'), ',.0f', ' µs')} | {load(runs)} |"
                for name in names]
        lines += table("The model on small devices (notebook 12: notebook 05's CNN, or without the models section one "
                       "it trains as 05 does, converted to LiteRT; latency of one image, median)", "model | file size | validation accuracy | test accuracy | latency | "
                       "other load", rows)
    return "\n".join(lines)


def update(path: Path, name: str, text: str) -> None:
    """Put `text` between the lines <!-- bench:NAME --> and <!-- /bench:NAME --> of `path` (benchmark.md, README)."""
    content = path.read_text()
    start, end = f"<!-- bench:{name} -->\n", f"<!-- /bench:{name} -->"
    if start not in content or end not in content:
        raise ValueError(f"{path.name} has no {start.strip()} ... {end} block to update")
    head, rest = content.split(start, 1)
    path.write_text(head + start + text.strip() + "\n" + end + rest.split(end, 1)[1])


def write_record(markdown: str, root: Path = REPO_ROOT) -> None:
    """A full run's tables of record: all of them into benchmark.md, the machine and the recipes into the README."""
    update(root / "benchmark.md", "tables", markdown)
    recipes = markdown.split("### The recipes", 1)[1].split("\n### ", 1)[0].split("\n\n", 1)[1]
    recipes = recipes.split("\nThe run took")[0]
    lead = "The latest full run of `make bench` (every table in [benchmark.md](benchmark.md)):"
    update(root / "README.md", "recipes", "\n".join([lead, "", *markdown.splitlines()[2:5]]) + "\n\n" + recipes)


def describe_machine() -> dict[str, Any]:
    """What the tables need to be read: the CPU, its cores and vector flags, the versions, the date, the load."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    pairs = (line.partition(":") for line in cpuinfo.splitlines()[:40])
    field = {key.strip(): value.strip() for key, _, value in pairs}
    flags = set(field.get("flags", "").split())
    cpu = f"{field.get('model name', platform.processor() or '?')} (family {field.get('cpu family', '?')}, model "
    return {"cpu": cpu + f"{field.get('model', '?')})", "flags": [f for f in FLAGS if f in flags],
            "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "bf16": bool({"avx512_bf16", "amx_bf16"} & flags), "tensorflow": version("tensorflow"),
            "keras": version("keras"), "python": platform.python_version(), "os": platform.platform(),
            "load_start": " / ".join(f"{v:.2f}" for v in os.getloadavg()),
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, help="measurements per row, medians shown (default 3, quick 1)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 repeat, short settings")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="sections to run")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "bench", help="for bench.json and bench.md")
    parser.add_argument("--job", help=argparse.SUPPRESS)  # internal: one measurement, in a fresh process
    args = parser.parse_args(argv)
    if args.job:
        return job_main(json.loads(args.job))
    args.repeats = args.repeats or (1 if args.quick else 3)
    machine, started = describe_machine(), time.perf_counter()
    print(f"Benchmark ({'quick' if args.quick else 'full'}, {args.repeats} repeat(s)): {', '.join(args.only)}\nCPU: "
          f"{machine['cpu']}, {machine['cores']} cores, {', '.join(machine['flags'])}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="mnist-bench-"))
    runner = Runner(tmp)
    try:
        results = run_sections(runner, args, machine)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    tables = report(machine, results, args)
    markdown = tables + f"\nThe run took {(time.perf_counter() - started) / 60:.1f} minutes.\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.md").write_text(markdown)
    (args.out / "bench.json").write_text(json.dumps({"machine": machine, "measurements": runner.records}, indent=1))
    print("\n" + markdown + f"\nWrote {args.out / 'bench.md'} and bench.json", flush=True)
    failed = [record["label"] for record in runner.records if record["returncode"]]
    if not args.quick and set(args.only) == set(SECTIONS) and not failed:  # a full run: the tables of record
        write_record(markdown)
        print("Updated the tables in benchmark.md and the recipes in README.md", flush=True)
    if failed:
        print(f"{len(failed)} measurement(s) failed: {', '.join(failed)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
