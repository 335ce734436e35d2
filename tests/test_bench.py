"""scripts/bench.py, the harness, without training: its report's verdicts, its jobs in fresh processes, what it reads.

The benchmark itself runs with `make bench`, not in the tests: timings are measured, not tested. The recipes it
measures are the notebooks' own; the tests of their pieces (notebook 10's moves, notebook 09's schedule) call the
notebooks' code, through tests/notebook_code.py, or sit in the notebooks.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import bench
import numpy as np
import pytest
from notebook_code import definitions

MACHINE = {
    "date": "2026-01-01T00:00:00+00:00",
    "cpu": "test CPU",
    "cores": 2,
    "flags": ["avx2", "fma"],
    "bf16": False,
    "tensorflow": "2.21.0",
    "keras": "3.15.1",
    "python": "3.11",
    "os": "Linux",
    "load_start": "0 / 0 / 0",
}


def _run(**runs) -> dict:
    return {"returncode": 0, "other_load": 0.0, "wall_s": 1.0, "max_rss_mb": 100.0, "runs": runs}


@pytest.mark.parametrize(
    ("bf16", "fast_fit", "fast_accuracy", "further_fit", "further_accuracy", "verdicts"),
    [
        (False, 50.0, 0.993, 200.0, 0.9955, ["yes", "yes"]),  # without bf16: <= 0.25x and <= 1.0x of 200 s
        (False, 60.0, 0.993, 210.0, 0.9955, ["NO", "NO"]),  # too slow
        (False, 40.0, 0.985, 160.0, 0.9940, ["NO", "NO"]),  # not accurate enough
        (True, 30.0, 0.993, 120.0, 0.9955, ["yes", "yes"]),  # with bf16: <= 0.15x and <= 0.6x
        (True, 40.0, 0.993, 130.0, 0.9955, ["NO", "NO"]),  # fast enough without bf16, not with it
    ],
)
def test_report_checks_the_targets(bf16, fast_fit, fast_accuracy, further_fit, further_accuracy, verdicts) -> None:
    results = {
        "recipes": {
            "09": [
                _run(
                    tutorial={"fit_seconds": 200.0, "test_accuracy": 0.9877},
                    fast={"fit_seconds": fast_fit, "test_accuracy": fast_accuracy, "validation_accuracy": 0.9911},
                )
            ],
            "10": [_run(further={"fit_seconds": further_fit, "test_accuracy": further_accuracy})],
        }
    }
    machine = {**MACHINE, "bf16": bf16}
    text = bench.report(machine, results, argparse.Namespace(quick=False, repeats=1, only=["recipes"]))
    rows = [line for line in text.splitlines() if line.startswith(("| fast", "| further"))]
    assert [row.split(" | ")[-2] for row in rows] == verdicts
    assert f"{fast_fit / 200:.2f}x" in rows[0] and "test CPU, 2 cores; flags: avx2, fma" in text
    assert f" | 99.11%, 99.11% | {fast_accuracy:.2%}, " in rows[0]  # validation (the choice), then test (the report)
    assert " | n/a, n/a | " in rows[1]  # a run that wrote no validation accuracy: said, not invented
    assert "chosen on the validation set" in text and "nothing is re-tuned on the test set" in text
    assert "notebook 09's tutorial fit" in text  # no notebook 05 run: 09's own tutorial run is the denominator
    quick = bench.report(machine, results, argparse.Namespace(quick=True, repeats=1, only=["recipes"]))
    assert quick.count("not checked (quick run)") == 2


def test_report_measures_the_recipes_against_notebook_05() -> None:
    """With the models section, the denominator is notebook 05's CNN fit, as the targets say: here 100 s, not 200."""
    results = {
        "models": {"cnn": [_run(tutorial={"fit_seconds": 100.0, "test_accuracy": 0.9865})]},
        "recipes": {
            "09": [
                _run(
                    tutorial={"fit_seconds": 200.0, "test_accuracy": 0.9877},
                    fast={"fit_seconds": 30.0, "test_accuracy": 0.992},
                )
            ],
            "10": [_run(further={"fit_seconds": 90.0, "test_accuracy": 0.996})],
        },
    }
    args = argparse.Namespace(quick=False, repeats=1, only=["recipes"])
    text = bench.report(MACHINE, results, args)
    rows = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| ")}
    assert "| tutorial (notebook 05)" in rows and "0.30x" in rows["| fast (notebook 09)"]
    assert rows["| fast (notebook 09)"].split(" | ")[-2] == "NO"  # 0.30x > 0.25x
    assert rows["| further (notebook 10)"].split(" | ")[-2] == "yes"  # 0.90x <= 1.0x
    assert "notebook 05's tutorial fit" in text


def test_report_tables_the_knobs_against_the_tutorial_batch() -> None:
    knobs = {
        f"knob: {name}": {"images_per_second": speed}
        for name, speed in [("batch 32 (the tutorial)", 1000.0), (bench.KNOB, 1800.0)]
    }
    results = {
        "knobs": {
            "images": 16_384,
            "variants": {
                "as it comes": [_run(**knobs)],
                "1 intra-op thread": [_run(**{f"knob: {bench.KNOB}": {"images_per_second": 900.0}})],
            },
        }
    }
    text = bench.report(MACHINE, results, argparse.Namespace(quick=False, repeats=1, only=["knobs"]))
    assert f"| {bench.KNOB} | 1,800 | 1.80x |" in text and f"| {bench.KNOB}, 1 intra-op thread | 900 | 0.90x |" in text
    assert "this CPU has no bf16 instructions" in text


@pytest.mark.parametrize(
    ("bf16_speed", "verdict"), [(3250.0, "1.81x; target >= 1.8x: yes"), (2700.0, "1.50x; target >= 1.8x: NO")]
)
def test_report_checks_bf16_against_float32_at_the_fast_settings(bf16_speed, verdict) -> None:
    knobs = {
        f"knob: {name}": {"images_per_second": speed}
        for name, speed in [
            ("batch 32 (the tutorial)", 1000.0),
            (bench.KNOB, 1800.0),
            (f"{bench.KNOB}, mixed_bfloat16", bf16_speed),
        ]
    }
    results = {"knobs": {"images": 16_384, "variants": {"as it comes": [_run(**knobs)]}}}
    args = argparse.Namespace(quick=False, repeats=1, only=["knobs"])
    text = bench.report({**MACHINE, "bf16": True}, results, args)
    assert f"mixed_bfloat16 against float32 at {bench.KNOB}: {verdict}" in text
    assert "no bf16 instructions" not in text


def test_a_full_run_rewrites_the_tables_of_record_and_nothing_else(tmp_path: Path) -> None:
    results = {
        "recipes": {
            "09": [
                _run(
                    tutorial={"fit_seconds": 200.0, "test_accuracy": 0.9877},
                    fast={"fit_seconds": 50.0, "test_accuracy": 0.993},
                )
            ],
            "10": [_run(further={"fit_seconds": 150.0, "test_accuracy": 0.996})],
        }
    }
    markdown = bench.report(MACHINE, results, argparse.Namespace(quick=False, repeats=3, only=["recipes"]))
    markers = "<!-- bench:tables -->\nold\n<!-- /bench:tables -->"
    (tmp_path / "benchmark.md").write_text(f"# Title\n\nkept\n{markers}\n\nkept too\n")
    readme = "# Title\n\n<!-- bench:recipes -->\nold\n<!-- /bench:recipes -->\n"
    (tmp_path / "README.md").write_text(readme)
    bench.write_record(markdown + "\nThe run took 25.0 minutes.\n", tmp_path)
    benchmark = (tmp_path / "benchmark.md").read_text()
    assert benchmark.startswith("# Title\n\nkept\n<!-- bench:tables -->\n## The latest run, 2026-01-01")
    assert "old" not in benchmark and benchmark.endswith("<!-- /bench:tables -->\n\nkept too\n")
    assert "| fast (notebook 09) | 50.0 s | 0.25x | n/a, n/a | 99.30%, 99.30% |" in benchmark
    assert (tmp_path / "README.md").read_text() == readme, "the benchmark writes benchmark.md only"
    with pytest.raises(ValueError, match="no <!-- bench:tables -->"):
        bench.update(tmp_path / "README.md", "tables", "x")


TEST_CPU = "Test CPU 9000 (family 26, model 68)"
X86 = "processor\t: 0\ncpu family\t: 26\nmodel\t\t: 68\nmodel name\t: Test CPU 9000\nflags\t\t: fpu sse2 {}\n"


@pytest.mark.parametrize(
    ("cpuinfo", "cpu", "flags", "bf16"),
    [
        (X86.format("avx2 fma avx512f avx512_bf16"), TEST_CPU, ["avx2", "fma", "avx512f", "avx512_bf16"], True),
        (X86.format("amx_tile avx2 amx_bf16"), TEST_CPU, ["avx2", "amx_bf16", "amx_tile"], True),  # in CPU_FLAGS' order
        (X86.format("avx2 fma avx512f avx512_vnni"), TEST_CPU, ["avx2", "fma", "avx512f", "avx512_vnni"], False),
        ("processor\t: 0\nFeatures\t: fp asimd\n", " (family ?, model ?)", [], None),  # no x86 flags: cannot tell
    ],
)
def test_the_machine_names_its_cpu_flags_and_versions(monkeypatch, cpuinfo, cpu, flags, bf16) -> None:
    """The CPU and its flags from /proc/cpuinfo (here a fake one), and whether it has bf16 as helpers.has_bf16 says."""
    pytest.importorskip("helpers")  # imported before /proc/cpuinfo is faked: describe_machine asks it about bf16
    real_read, real_exists = Path.read_text, Path.exists
    proc = Path("/proc/cpuinfo")
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: cpuinfo if self == proc else real_read(self, *a, **k))
    monkeypatch.setattr(Path, "exists", lambda self, *a, **k: self == proc or real_exists(self, *a, **k))
    machine = bench.describe_machine()
    assert machine["cpu"].endswith(cpu) and machine["flags"] == flags and machine["bf16"] is bf16
    assert machine["cores"] >= 1 and machine["tensorflow"] == "2.21.0" and machine["keras"] == "3.15.1"


def test_a_job_runs_in_a_fresh_process_and_reports(tmp_path: Path) -> None:
    runner = bench.Runner(tmp_path)
    record = runner.run("data: IDX raw", kind="read", data_dir=str(bench.REPO_ROOT / "data"), reads=1)
    assert record["returncode"] == 0 and record["read_s"] > 0 and record["max_rss_mb"] > 50 and record["wall_s"] > 0
    failed = runner.run("data: nowhere", kind="read", data_dir=str(tmp_path / "nowhere"), reads=1)
    assert failed["returncode"] != 0 and "no such file" in failed["error"]
    assert [r["label"] for r in runner.records] == ["data: IDX raw", "data: nowhere"]


def test_a_notebook_runs_as_its_own_code_in_a_script(tmp_path: Path) -> None:
    """The notebook-overhead baseline: the notebook's code exported with nbconvert, parameters injected, no kernel."""
    record = bench.Runner(tmp_path).run(
        "01 as a script", notebook="01", parameters={"SEED": 7}, script=True, env={"MPLBACKEND": "Agg"}
    )
    assert record["returncode"] == 0, record.get("error")
    prepared = (Path(record["out"]) / "prepared-01_reading_the_data.ipynb").read_text()
    assert "SEED = 7" in prepared


def test_the_metrics_the_notebooks_write_are_what_the_harness_reads(tmp_path: Path) -> None:
    helpers = pytest.importorskip("helpers")
    runner = bench.Runner(tmp_path)
    record = runner.run("a helpers call", kind="read", data_dir=str(bench.REPO_ROOT / "data"), reads=1)
    out = Path(record["out"])
    helpers.write_metrics(
        out / "build" / "metrics" / "09_going_faster.json", fast={"fit_seconds": 12.5, "test_accuracy": 0.99}
    )
    helpers.write_metrics(out / "saved_model" / "mnist_fc" / "metrics.json", tutorial={"epochs": 5})
    collected = bench.collect(out)
    assert collected["runs"] == {"fast": {"fit_seconds": 12.5, "test_accuracy": 0.99}, "tutorial": {"epochs": 5}}
    assert collected["kernel_peak_mb"] > 50 and json.loads((out / "result.json").read_text())["read_s"] > 0


# Notebook 10's moves (its own functions, run here as the benchmark's copies once were).
notebook10 = definitions("10")


def test_move_maps_identity_and_count() -> None:
    images = np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    maps, pad = notebook10.move_maps(0, 0)
    assert len(maps) == 1
    assert np.array_equal(notebook10.random_moves(images, maps, pad, np.random.default_rng(1)), images)
    maps, pad = notebook10.move_maps(2, 10)
    assert len(maps) == 11 * 5 * 5  # 11 angles x 5 row shifts x 5 column shifts


def test_random_moves_shift_a_centred_digit_without_losing_it() -> None:
    image = np.zeros((1, 28, 28), dtype=np.uint8)
    image[0, 10:18, 12:16] = 255  # a bar in the middle, far from the edges
    maps, pad = notebook10.move_maps(2, 0)  # shifts only: 25 moves
    moved = notebook10.random_moves(np.repeat(image, 200, axis=0), maps, pad, np.random.default_rng(2))
    assert moved.dtype == np.uint8 and moved.shape == (200, 28, 28)
    assert (moved.sum(axis=(1, 2)) == image.sum()).all(), "a shift of at most 2 pixels keeps every pixel of the bar"
    assert len({m.tobytes() for m in moved}) == 25, "200 draws show all 25 shifts"


def test_random_moves_gather_what_one_take_along_axis_would() -> None:
    """Gathering move by move gives exactly the images of the earlier single np.take_along_axis over all images."""
    images = np.random.default_rng(3).integers(0, 256, (500, 28, 28), dtype=np.uint8)
    maps, pad = notebook10.move_maps(2, 10)
    moved = notebook10.random_moves(images, maps, pad, np.random.default_rng(4))
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad))).reshape(len(images), -1)
    chosen = maps[np.random.default_rng(4).integers(0, len(maps), len(images))]  # the same draws
    assert np.array_equal(moved, np.take_along_axis(padded, chosen, axis=1).reshape(images.shape))


def test_report_shows_the_devices_and_litert_rows_from_what_notebooks_11_and_12_wrote() -> None:
    results = {
        "devices": [
            _run(
                **{
                    "2_devices": {"fit_seconds": 12.0, "validation_accuracy": 0.9812},
                    "1_device": {"fit_seconds": 8.0, "validation_accuracy": 0.9812},
                    "2_workers": {"fit_seconds": 24.0, "validation_accuracy": 0.9795},
                }
            )
        ],
        "litert": [
            _run(
                float32={
                    "validation_accuracy": 0.9863,
                    "test_accuracy": 0.986,
                    "settings": {"bytes": 492_120, "latency_us": 48.0},
                },
                int8={
                    "validation_accuracy": 0.9861,
                    "test_accuracy": 0.9858,
                    "settings": {"bytes": 131_424, "latency_us": 37.5},
                },
            )
        ],
    }
    text = bench.report(MACHINE, results, argparse.Namespace(quick=False, repeats=1, only=["devices", "litert"]))
    assert "| 2 devices | 12.0 s | 1.50x | 98.12% | 0.00 |" in text
    assert "| 2 workers | 24.0 s | 3.00x | 97.95% | 0.00 |" in text
    assert "| float32 | 492,120 bytes | 98.63% | 98.60% | 48 µs | 0.00 |" in text
    assert "| int8 | 131,424 bytes | 98.61% | 98.58% | 38 µs | 0.00 |" in text


def test_a_job_starts_from_the_model_an_earlier_job_trained(tmp_path: Path, monkeypatch) -> None:
    trained = tmp_path / "earlier" / "saved_model" / "mnist_cnn"
    trained.mkdir(parents=True)
    (trained / "model.keras").write_bytes(b"weights")
    out = tmp_path / "job"
    out.mkdir()
    monkeypatch.setattr(bench.series, "execute", lambda notebook, parameters, output, **_: output)
    assert bench.job_main({"out": str(out), "model_from": str(trained), "notebook": "12", "parameters": {}}) == 0
    assert (out / "saved_model" / "mnist_cnn" / "model.keras").read_bytes() == b"weights"
