#!/usr/bin/env python3
"""Benchmark the series on this machine by running its notebooks with parameter sets, side by side.

    python scripts/bench.py              # full run, medians of 3 repeats (make bench)
    python scripts/bench.py --quick      # smoke run: 1 repeat, short settings (make bench BENCH_ARGS=--quick)
    python scripts/bench.py --only models recipes --repeats 5

Every measurement is a job in a fresh process (`series.run_child`) with a folder of its own: a notebook of the
series, which writes what it measured with `helpers.write_metrics`, or a helpers call (reading the data, inference).
No recipe lives here. Writes bench.json and bench.md (the tables) into build/bench/, and a full run benchmark.md's
tables; CONTRIBUTING.md, "The benchmark", says more.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from importlib.metadata import version
from pathlib import Path
from typing import Any

import series
from series import REPO_ROOT

Records = list[dict[str, Any]]
SECTIONS = ("models", "notebook", "data", "inference", "knobs", "recipes", "devices", "litert")
# Notebooks 09 and 10: a test accuracy in at most a share of notebook 05's CNN fit time, on a CPU with bf16 / without.
# A report of the final, once-only evaluation: the recipes are chosen on the validation set and never re-tuned on test.
TARGETS = {"fast": (0.990, 0.15, 0.25), "further": (0.995, 0.60, 1.00)}
RECIPES_CHOSEN_ON_VALIDATION = (
    "The recipes were chosen on the validation set (notebooks 09 and 10 show the choices over seeds 42-44). The test "
    "targets report the final, once-only evaluation: where one is missed, the table says so, and nothing is re-tuned "
    "on the test set."
)
BF16_TARGET = 1.8  # bf16's speed against float32 at the fast recipe's settings (knobs)
KNOB = "batch 128, steps_per_execution 32"  # the fast recipe's setting in notebook 09's knobs
MODEL_COLUMNS = (("parameters", ",.0f"), ("epochs", ".0f"), ("seconds_per_epoch", ".2f"))
MODEL_COLUMNS += (("images_per_second", ",.0f"), ("test_accuracy", ".2%"))  # notebook 05's runs, as formatted
SERVING_COLUMNS = (("latency_ms", ".2f", " ms"), ("p90_ms", ".2f", " ms"), ("batch_images_per_s", ",.0f", " images/s"))


def job_main(job: dict[str, Any]) -> int:
    """Run one measurement in this process: a notebook (papermill, or exported as a script), or a helpers call."""
    out = Path(job["out"])
    if job.get("model_from"):  # a model trained by an earlier job (notebook 05's), where the notebook looks for it
        shutil.copytree(job["model_from"], out / "saved_model" / Path(job["model_from"]).name)
    sys.path.insert(0, str(series.NOTEBOOKS_DIR))  # for `import helpers`, here or in the notebook's code
    if "notebook" in job:
        notebook = series.notebook(job["notebook"])
        if not job.get("script"):
            series.execute(notebook, job["parameters"], out / notebook.name, timeout=3600)
            return 0
        import nbconvert
        import papermill

        prepared = out / f"prepared-{notebook.name}"  # the notebook's own code with the parameters, as a .py file
        options = {"prepare_only": True, "kernel_name": "python3", "progress_bar": False}
        papermill.execute_notebook(str(notebook), str(prepared), parameters=job["parameters"], **options)
        code, _ = nbconvert.PythonExporter().from_filename(str(prepared))
        os.chdir(series.NOTEBOOKS_DIR)
        exec(compile(code, notebook.with_suffix(".py").name, "exec"), {"__name__": "__main__"})
        return 0
    import helpers

    if job["kind"] == "read":  # reading the data: the series' IDX reader, raw or gzip
        times = timeit.repeat(lambda: helpers.load_mnist(data_dir=job["data_dir"]), repeat=job["reads"], number=1)
        result = {"read_s": statistics.median(times)}
    else:  # inference: notebook 05's saved model, exported as in notebook 07, served by tf.saved_model.load
        import tensorflow as tf

        model = helpers.load_model(job["keras_file"])
        helpers.write_atomically(out / "serving", lambda tmp: model.export(str(tmp), verbose=False), overwrite=True)
        loaded = tf.saved_model.load(str(out / "serving"))  # kept: its serving function needs the object's variables
        serve = loaded.serve
        images = helpers.prepare(helpers.load_mnist()[1][0][:1024]).numpy()
        singles = [tf.constant(images[i % 1024][None]) for i in range(20 + job["single_calls"])]  # 20 to warm up
        latencies = sorted([timeit.timeit(lambda one=one: serve(one).numpy(), number=1) for one in singles][20:])
        batch = tf.constant(images)
        batches = timeit.repeat(lambda: serve(batch).numpy(), repeat=3 + job["batch_calls"], number=1)[3:]
        p90 = latencies[len(latencies) * 9 // 10]
        result = {"latency_ms": 1000 * statistics.median(latencies), "p90_ms": 1000 * p90}
        result["batch_images_per_s"] = 1024 / statistics.median(batches)
    (out / "result.json").write_text(json.dumps(result))
    return 0


def collect(out: Path) -> dict[str, Any]:
    """What a job left in its folder: a helpers call's result.json, or what a notebook's helpers.write_metrics wrote."""
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
        self.tmp = tmp
        self.records: Records = []

    def run(self, label: str, env: dict[str, str] | None = None, **job: Any) -> dict[str, Any]:
        """One measurement: `job` in a fresh process (job_main), killed with its kernel if it takes over an hour."""
        out = self.tmp / f"job{len(self.records) + 1:03d}"
        out.mkdir()
        print(f"  {label} ...", flush=True)
        environment = {**os.environ, "MNIST_TUTORIAL_OUTPUT": str(out), "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
        command = [sys.executable, __file__, "--job", json.dumps({**job, "out": str(out)})]
        with open(out / "log.txt", "w") as log:
            child = series.run_child(command, env=environment, stdout=log, stderr=subprocess.STDOUT, timeout=3600)
        record = {"label": label, "wall_s": child.seconds, "max_rss_mb": child.peak_mb, "out": str(out)}
        record.update(returncode=child.returncode, other_load=child.other_load, **collect(out))
        if record["returncode"]:
            record["error"] = (out / "log.txt").read_text(errors="replace")[-3000:]
            print(f"  ! {label} failed (exit {record['returncode']}); see bench.json", flush=True)
        self.records.append(record)
        return record


def run_sections(runner: Runner, args: argparse.Namespace) -> dict[str, Any]:
    def repeated(label: str, seeded: bool = False, **job: Any) -> Records:
        """`job` once per repeat, labelled "LABEL #1", ... ({seed}: the seed); seeded: SEED 42, 43, ... added."""
        records = []
        for r in range(args.repeats):
            seed = {"parameters": {**job["parameters"], "SEED": 42 + r}} if seeded else {}
            records.append(runner.run(f"{label} #{r + 1}".replace("{seed}", str(42 + r)), **{**job, **seed}))
        return records

    quick, sections, results = args.quick, set(args.only), {}
    epochs = 1 if quick else 5
    short = {"TRAIN_IMAGES": 12_000} if quick else {}  # as the first benchmark script's quick run
    models = results["models"] = {}  # notebook 05's, one model at a time
    for model_type in series.MODEL_TYPES if sections & {"models", "inference"} else ():
        parameters = {"MODEL_TYPES": [model_type], "EPOCHS": epochs, "FIT_VERBOSE": 2}
        label = f"models: notebook 05, {model_type}, {epochs} epochs"
        models[model_type] = repeated(label, seeded=True, notebook="05", parameters=parameters)
    if "notebook" in sections:  # papermill against the same notebook's code as a bare script, interleaved
        parameters = {"MODEL_TYPES": ["fc"], "EPOCHS": epochs, "FIT_VERBOSE": 0}
        results["notebook"] = {kind: [] for kind in ("papermill", "script")}
        for r in range(args.repeats):
            for kind, records in results["notebook"].items():
                job = {"notebook": "05", "parameters": parameters, "script": kind == "script"}
                records.append(runner.run(f"notebook: 05 (fc) by {kind} #{r + 1}", env={"MPLBACKEND": "Agg"}, **job))
    if "data" in sections:
        folders = {"IDX raw": REPO_ROOT / "data", "IDX gzip": runner.tmp / "idx_gzip"}
        folders["IDX gzip"].mkdir()
        for path in folders["IDX raw"].glob("*-ubyte"):  # gzip copies, same names: the reader checks the bytes
            (folders["IDX gzip"] / path.name).write_bytes(gzip.compress(path.read_bytes(), mtime=0))
        read = {"kind": "read", "reads": 3 if quick else 5}
        results["data"] = {name: repeated(f"data: {name}", data_dir=str(f), **read) for name, f in folders.items()}
        results["data_sizes"] = {name: sum(p.stat().st_size for p in f.glob("*-ubyte")) for name, f in folders.items()}
    if "inference" in sections:  # notebook 05's models, from the first of its runs that succeeded
        inference = results["inference"] = {}
        job = {"kind": "infer", "single_calls": 200 if quick else 1000, "batch_calls": 10 if quick else 30}
        for model_type, trained in models.items():
            out = Path(next((t for t in trained if not t["returncode"]), trained[0])["out"])
            keras_file = str(out / "saved_model" / f"mnist_{model_type}" / "model.keras")
            inference[model_type] = repeated(f"inference: {model_type} SavedModel", keras_file=keras_file, **job)
    if "knobs" in sections:  # notebook 09's knobs, plus settings it takes as parameters or from the environment
        images = 2048 if quick else 16_384
        base = {"EPOCHS": 1, "FAST_EPOCHS": 1, "TRAIN_IMAGES": images, "KNOB_IMAGES": images, "FIT_VERBOSE": 0}
        variants = [("as it comes", {}, {})]  # notebook 09 measures mixed_bfloat16 itself where the CPU has bf16
        if not quick:  # float32 only: the thread count and oneDNN are not bf16 knobs
            variants.append(("1 intra-op thread", {"THREADS": 1, "PRECISION": "float32"}, {}))
            variants.append(("oneDNN off", {"PRECISION": "float32"}, {"TF_ENABLE_ONEDNN_OPTS": "0"}))
        knobs = {}
        for name, params, env in variants:
            knobs[name] = repeated(f"knobs: notebook 09, {name}", notebook="09", parameters={**base, **params}, env=env)
        results["knobs"] = {"images": images, "variants": knobs}
    if "recipes" in sections:  # notebook 09 (the tutorial's recipe and the fast one, side by side) and notebook 10
        results["recipes"] = {}
        for nb in ("09", "10"):
            quick_settings = series.quick_parameters(series.declared_parameters(series.notebook(nb))) if quick else {}
            parameters = {**quick_settings, **short, "FIT_VERBOSE": 0, "CHECK_TARGETS": False}  # verdicts: ours
            label = f"recipes: notebook {nb} (seed {{seed}})"
            results["recipes"][nb] = repeated(label, seeded=True, notebook=nb, parameters=parameters)
    if "devices" in sections:  # notebook 11: one device, two logical devices, two worker processes
        parameters = {**short, "FIT_VERBOSE": 0}
        results["devices"] = repeated("devices: notebook 11", seeded=True, notebook="11", parameters=parameters)
    if "litert" in sections:  # notebook 12, on the CNN notebook 05 trained (models), else on one it trains itself
        cnn = next((t["out"] for t in models.get("cnn", []) if not t["returncode"]), None)
        job = {"notebook": "12", "model_from": str(Path(cnn) / "saved_model" / "mnist_cnn") if cnn else None}
        results["litert"] = repeated("litert: notebook 12", seeded=True, parameters={"EPOCHS": epochs}, **job)
    return results


def median(records: Records, *keys: str) -> float | None:
    values = []
    for value in (record for record in records if not record.get("returncode")):  # the measurements that succeeded
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None:
            values.append(value)
    return statistics.median(values) if values else None


def fmt(value: float | None, spec: str = ".1f", suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{suffix}"


def ratio(a: float | None, b: float | None) -> str:
    return "n/a" if not a or not b else f"{a / b:.2f}x"


def vs(value: float | None, base: float | None, spec: str = ".1f", suffix: str = " s") -> tuple[str, str]:
    return fmt(value, spec, suffix), ratio(value, base)


def run_names(records: Records) -> list[str]:
    return list(dict.fromkeys(name for record in records for name in record.get("runs", {})))  # first written first


def row(name: str, runs: Records, *cells: str, peak: bool = False) -> list[str]:
    memory = [fmt(median(runs, "max_rss_mb"), ",.0f", " MB")] if peak else []
    return [name, *cells, *memory, fmt(statistics.mean(r["other_load"] for r in runs), ".2f") if runs else "n/a"]


def table(title: str, header: str, rows: list[list[str]]) -> list[str]:
    lines = [f"| {' | '.join(cells)} |" for cells in rows]
    return [f"### {title}", "", f"| {header} |", "|" + "---|" * (header.count("|") + 1), *lines, ""]


def report(machine: dict[str, Any], results: dict[str, Any], args: argparse.Namespace) -> str:
    mode = "quick run (short settings, not checked against the targets)" if args.quick else "full run"
    m, bf16, flags = machine, machine["bf16"], ", ".join(machine["flags"]) or "none of interest"
    lines = [f"## The latest run, {m['date']}", "", f"- CPU: {m['cpu']}, {m['cores']} cores; flags: {flags}"]
    lines.append(f"- TensorFlow {m['tensorflow']}, Keras {m['keras']}, Python {m['python']}, {m['os']}")
    lines.append(f"- {mode}; {args.repeats} repeat(s), medians; load average at the start {m['load_start']}")
    lines += ["- peak memory: the largest process of a measurement (in practice the notebook's kernel)", ""]
    if "models" in args.only:  # results always has models (for inference and litert): their table only if asked for
        title = "The models (notebook 05: batch 32, Adam, 54,000 training images, 6,000 for validation)"
        header = "model | parameters | epochs | s/epoch | images/s | test accuracy | peak memory | other load"
        rows = []
        for name, runs in results["models"].items():
            cells = [fmt(median(runs, "runs", "tutorial", key), spec) for key, spec in MODEL_COLUMNS]
            rows.append(row(name, runs, *cells, peak=True))
        lines += table(title, header, rows)
    if "notebook" in results:
        title = "Notebook overhead (notebook 05, FC, by papermill vs its own code as a bare script)"
        header = "run | process wall time | vs script | fit time | vs script | peak memory | other load"
        runs = results["notebook"]
        wall = {kind: median(records, "wall_s") for kind, records in runs.items()}
        fit = {kind: median(records, "runs", "tutorial", "fit_seconds") for kind, records in runs.items()}
        cells = {kind: [*vs(wall[kind], wall["script"]), *vs(fit[kind], fit["script"])] for kind in runs}
        lines += table(title, header, [row(kind, records, *cells[kind], peak=True) for kind, records in runs.items()])
    if "data" in results:
        title = "Reading the data (60,000 + 10,000 images and labels, helpers.load_mnist)"
        raw, rows = median(results["data"]["IDX raw"], "read_s"), []
        for name, runs in results["data"].items():
            size = f"{results['data_sizes'][name] / 1e6:.1f} MB"
            rows.append(row(name, runs, size, *vs(median(runs, "read_s"), raw, ".3f", ""), peak=True))
        lines += table(title, "source | size on disk | seconds | vs IDX raw | peak memory | other load", rows)
    if "inference" in results:
        title = "Inference with the exported SavedModel (`model.export`, reloaded with `tf.saved_model.load`)"
        rows = []
        for name, runs in results["inference"].items():
            rows.append(row(name, runs, *(fmt(median(runs, key), spec, unit) for key, spec, unit in SERVING_COLUMNS)))
        lines += table(title, "model | latency, 1 image (median) | p90 | throughput, batch 1024 | other load", rows)
    if "knobs" in results:  # notebook 09's knobs against batch 32, then this script's variants of the fast recipe's
        images, variants = results["knobs"]["images"], dict(results["knobs"]["variants"])
        plain = variants.pop("as it comes")
        speed = {name: median(plain, "runs", name, "images_per_second") for name in run_names(plain)}
        shown = [(name.removeprefix("knob: "), plain, speed[name]) for name in speed if name.startswith("knob: ")]
        for variant, runs in variants.items():
            shown.append((f"{KNOB}, {variant}", runs, median(runs, "runs", f"knob: {KNOB}", "images_per_second")))
        base = speed.get("knob: batch 32 (the tutorial)")
        rows = [row(setting, runs, *vs(value, base, ",.0f", "")) for setting, runs, value in shown]
        if not bf16:
            rows += [["mixed_bfloat16", "not measured: this CPU has no bf16 instructions (emulated: slower)", "", ""]]
        title = f"The knobs (notebook 09: CNN training speed, the second of two epochs over {images:,} images)"
        lines += table(title, "setting | images/s | vs batch 32 | other load", rows)
        if bf16 and not args.quick:
            bf16_speed, fp32 = speed.get(f"knob: {KNOB}, mixed_bfloat16"), speed.get(f"knob: {KNOB}")
            met = "yes" if None not in (bf16_speed, fp32) and bf16_speed >= BF16_TARGET * fp32 else "NO"
            verdict = f"{ratio(bf16_speed, fp32)}; target >= {BF16_TARGET}x: {met}"
            lines += [f"mixed_bfloat16 against float32 at {KNOB}: {verdict}", ""]
    if "recipes" in results:
        fast, further = results["recipes"]["09"], results["recipes"]["10"]
        notebook05 = results.get("models", {}).get("cnn", [])  # the denominator: 05's CNN, else 09's own tutorial run
        recipes = [("tutorial (notebook 05)", notebook05, "tutorial")] if notebook05 else []
        recipes += [("tutorial (as 05, in notebook 09)", fast, "tutorial"), ("fast (notebook 09)", fast, "fast")]
        recipes.append(("further (notebook 10)", further, "further"))
        tutorial_fit, rows = median(notebook05 or fast, "runs", "tutorial", "fit_seconds"), []
        for name, runs, run in recipes:
            fit, accuracy = median(runs, "runs", run, "fit_seconds"), median(runs, "runs", run, "test_accuracy")
            worst = min((r["runs"][run]["test_accuracy"] for r in runs if not r["returncode"]), default=None)
            validation = median(runs, "runs", run, "validation_accuracy")
            checked = [r["runs"][run].get("validation_accuracy") for r in runs if not r["returncode"]]
            lowest = min((value for value in checked if value is not None), default=None)
            goal = TARGETS.get(run)
            target = verdict = ""
            if goal and None not in (worst, fit, tutorial_fit):
                share = goal[1] if bf16 else goal[2]
                target = f">= {goal[0]:.1%} in <= {share:.2f}x ({'bf16' if bf16 else 'no bf16'})"
                met = worst >= goal[0] and fit <= share * tutorial_fit
                verdict = "not checked (quick run)" if args.quick else "yes" if met else "NO"
            chosen_on = f"{fmt(validation, '.2%')}, {fmt(lowest, '.2%')}"
            accuracies = f"{fmt(accuracy, '.2%')}, {fmt(worst, '.2%')}"
            rows.append(row(name, runs, *vs(fit, tutorial_fit), chosen_on, accuracies, target, verdict))
        title = "The recipes (CNN; fit time includes the validation checks; the test set is evaluated once, after; "
        title += f"ratios to {'notebook 05' if notebook05 else 'notebook 09'}'s tutorial fit)"
        header = "recipe | fit time | vs tutorial | validation accuracy (median, min) | test accuracy (median, min) | "
        header += "test target | met | other load"
        lines += table(title, header, rows) + ["Seeds 42, 43, ... for the repeats; 'min' is the worst run.", ""]
        lines += [RECIPES_CHOSEN_ON_VALIDATION, ""]
    if "devices" in results:
        title = "Several devices (notebook 11: the CNN, 1 epoch, global batch 128; "
        title += "training time, without starting the workers)"
        runs, rows = results["devices"], []
        fit = {name: median(runs, "runs", name, "fit_seconds") for name in run_names(runs)}
        for name, seconds in fit.items():
            accuracy = fmt(median(runs, "runs", name, "validation_accuracy"), ".2%")
            rows.append(row(name.replace("_", " "), runs, *vs(seconds, fit.get("1_device")), accuracy))
        lines += table(title, "run | time | vs 1 device | validation accuracy | other load", rows)
    if "litert" in results:
        title = "The model on small devices (notebook 12: notebook 05's CNN, or without the models section one it "
        title += "trains as 05 does, converted to LiteRT; latency of one image, median)"
        runs, rows = results["litert"], []
        for name in run_names(runs):
            size, latency = (median(runs, "runs", name, "settings", key) for key in ("bytes", "latency_us"))
            accuracies = (fmt(median(runs, "runs", name, f"{s}_accuracy"), ".2%") for s in ("validation", "test"))
            rows.append(row(name, runs, fmt(size, ",.0f", " bytes"), *accuracies, fmt(latency, ",.0f", " µs")))
        lines += table(title, "model | file size | validation accuracy | test accuracy | latency | other load", rows)
    return "\n".join(lines)


def update(path: Path, name: str, text: str) -> None:
    """Put `text` between the lines <!-- bench:NAME --> and <!-- /bench:NAME --> of `path` (benchmark.md)."""
    content = path.read_text()
    start, end = f"<!-- bench:{name} -->\n", f"<!-- /bench:{name} -->"
    if start not in content or end not in content:
        raise ValueError(f"{path.name} has no {start.strip()} ... {end} block to update")
    head, rest = content.split(start, 1)
    path.write_text(head + start + text.strip() + "\n" + end + rest.split(end, 1)[1])


def write_record(markdown: str, root: Path = REPO_ROOT) -> None:
    """A full run's tables of record, into benchmark.md: the one place a measured figure lives (others link to it)."""
    update(root / "benchmark.md", "tables", markdown)


def describe_machine() -> dict[str, Any]:
    """What the tables need to be read: the CPU, its cores and vector flags, the versions, the date, the load."""
    sys.path.insert(0, str(series.NOTEBOOKS_DIR))
    import helpers  # for has_bf16, the notebooks' answer (it imports TensorFlow)

    cpu, flags, cores = series.cpu_info()
    machine = {"cpu": cpu, "flags": flags, "cores": cores, "bf16": helpers.has_bf16()}
    machine |= {"tensorflow": version("tensorflow"), "keras": version("keras"), "python": platform.python_version()}
    machine |= {"os": platform.platform(), "load_start": " / ".join(f"{v:.2f}" for v in os.getloadavg())}
    return machine | {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}


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
    print(f"Benchmark ({'quick' if args.quick else 'full'}, {args.repeats} repeat(s)): {', '.join(args.only)}")
    print(f"CPU: {machine['cpu']}, {machine['cores']} cores, {', '.join(machine['flags'])}", flush=True)
    with tempfile.TemporaryDirectory(prefix="mnist-bench-", ignore_cleanup_errors=True) as tmp:
        runner = Runner(Path(tmp))
        results = run_sections(runner, args)
    markdown = report(machine, results, args) + f"\nThe run took {(time.perf_counter() - started) / 60:.1f} minutes.\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.md").write_text(markdown)
    (args.out / "bench.json").write_text(json.dumps({"machine": machine, "measurements": runner.records}, indent=1))
    print("\n" + markdown + f"\nWrote {args.out / 'bench.md'} and bench.json", flush=True)
    failed = [record["label"] for record in runner.records if record["returncode"]]
    if not args.quick and set(args.only) == set(SECTIONS) and not failed:  # a full run: the tables of record
        write_record(markdown)
        print("Updated the tables in benchmark.md", flush=True)
    if failed:
        print(f"{len(failed)} measurement(s) failed: {', '.join(failed)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
