"""scripts/bench.py: the parts that need no training (the machine, the data moves, the schedule, the verdicts).

The benchmark itself is run with `make bench`, not by the tests: timings are not tested, they are measured.
"""

from __future__ import annotations

import argparse

import numpy as np
import pytest


@pytest.fixture(scope="module")
def bench():
    import bench  # scripts/bench.py, on the import path through pytest.ini

    return bench


def test_machine_peak_is_computed_from_cores_flags_and_clock(bench) -> None:
    machine = bench.describe_machine()
    assert machine["cores"] >= 1
    assert machine["fp32_flop_per_cycle_per_core"] in (8, 16, 32, 64)
    if machine["clock_mhz"]:
        expected = machine["cores"] * machine["fp32_flop_per_cycle_per_core"] * machine["clock_mhz"] / 1000
        assert machine["peak_gflops"] == pytest.approx(expected)


def test_move_maps_identity_and_count(bench) -> None:
    images = np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    maps, pad = bench.move_maps(np, 0, 0)
    assert len(maps) == 1
    assert np.array_equal(bench.random_moves(np, images, maps, pad, np.random.default_rng(1)), images)
    maps, pad = bench.move_maps(np, 2, 10)
    assert len(maps) == 11 * 5 * 5  # 11 angles x 5 row shifts x 5 column shifts


def test_random_moves_shift_a_centred_digit_without_losing_it(bench) -> None:
    image = np.zeros((1, 28, 28), dtype=np.uint8)
    image[0, 10:18, 12:16] = 255  # a bar in the middle, far from the edges
    maps, pad = bench.move_maps(np, 2, 0)  # shifts only: 25 moves
    moved = bench.random_moves(np, np.repeat(image, 200, axis=0), maps, pad, np.random.default_rng(2))
    assert moved.dtype == np.uint8 and moved.shape == (200, 28, 28)
    assert (moved.sum(axis=(1, 2)) == image.sum()).all(), "a shift of at most 2 pixels keeps every pixel of the bar"
    assert len({m.tobytes() for m in moved}) == 25, "200 draws show all 25 shifts"


def test_warmup_cosine_schedule(bench) -> None:
    keras = pytest.importorskip("keras")
    schedule = bench.warmup_cosine(keras, peak=0.01, total_steps=100, warmup_share=0.2)
    rates = [float(schedule(step)) for step in range(101)]
    assert rates[0] == pytest.approx(0.001)
    assert max(rates) == pytest.approx(0.01) and int(np.argmax(rates)) == 20
    assert rates[-1] == pytest.approx(0.0, abs=1e-9)


def _record(**values):
    return {"returncode": 0, "other_load": 0.0, **values}


@pytest.mark.parametrize(
    ("fast_fit", "fast_accuracy", "further_fit", "further_accuracy", "verdicts"),
    [
        (50.0, 0.993, 160.0, 0.9955, ["yes", "yes"]),
        (70.0, 0.993, 190.0, 0.9955, ["NO", "NO"]),  # too slow: 70 > 200 / 3, 190 > 180
        (50.0, 0.985, 160.0, 0.9940, ["NO", "NO"]),  # not accurate enough
    ],
)
def test_report_checks_the_targets(bench, fast_fit, fast_accuracy, further_fit, further_accuracy, verdicts) -> None:
    machine = {"date": "2026-01-01T00:00:00+00:00", "cpu": "test CPU", "cpu_family_model": None, "cores": 2,
               "flags": ["avx2", "fma"], "peak_gflops": 100.0, "fp32_flop_per_cycle_per_core": 32, "vector_note": "",
               "clock_mhz": 1562.5, "clock_source": "test", "backend": "tensorflow", "onednn": False,
               "load_start": "0 / 0 / 0"}
    tutorial = _record(fit_s=200.0, test_accuracy=0.9877, epochs=5)
    settings_fast = {**bench.FAST}
    settings_further = {**bench.FURTHER}
    results = {"recipes": {
        "baseline": [tutorial],
        "rows": {
            "fast": [_record(fit_s=fast_fit, test_accuracy=fast_accuracy, settings=settings_fast)],
            "further": [_record(fit_s=further_fit, test_accuracy=further_accuracy, settings=settings_further)],
        },
    }}
    args = argparse.Namespace(quick=False, repeats=1)
    text = bench.report(machine, results, args, elapsed=60.0)
    rows = [line for line in text.splitlines() if line.startswith(("| fast |", "| further |"))]
    assert [row.split(" | ")[-2] for row in rows] == verdicts
    assert f"{fast_fit / 200:.2f}x" in rows[0]


@pytest.mark.parametrize(("arrays_fit", "verdict"), [(41.0, "yes"), (42.0, "yes"), (42.1, "NO"), (55.0, "NO")])
def test_report_checks_the_array_pipeline_against_the_plain_one(bench, arrays_fit, verdict) -> None:
    """Notebook 05's fit on arrays must stay within 1.05x of the plain tf.data pipeline (medians)."""
    machine = {"date": "2026-01-01T00:00:00+00:00", "cpu": "test CPU", "cpu_family_model": None, "cores": 2,
               "flags": ["avx2", "fma"], "peak_gflops": 100.0, "fp32_flop_per_cycle_per_core": 32, "vector_note": "",
               "clock_mhz": 1562.5, "clock_source": "test", "backend": "tensorflow", "onednn": True,
               "load_start": "0 / 0 / 0"}

    def runs(*fits):
        return [_record(fit_s=f, epoch_s=[f / 5] * 5, tail_s=0.0, test_accuracy=0.988) for f in fits]

    results = {"pipeline": {"epochs": 5, "rows": {
        "arrays": runs(arrays_fit, arrays_fit + 30, arrays_fit - 1),  # median: arrays_fit
        "plain": runs(40.0, 45.0, 38.0),  # median 40.0
        "stock": runs(50.0, 50.0, 50.0),
    }}}
    text = bench.report(machine, results, argparse.Namespace(quick=False, repeats=3), elapsed=60.0)
    row = next(line for line in text.splitlines() if line.startswith("| fit on NumPy arrays, as notebook 05"))
    cells = [cell.strip() for cell in row.split("|")]
    assert cells[3] == f"{arrays_fit / 40.0:.2f}x" and cells[4] == "<= 1.05x" and cells[5] == verdict
