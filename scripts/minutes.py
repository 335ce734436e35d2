"""Each notebook's minutes, by construction, and the workshop schedule built from them.

    python scripts/minutes.py            # the table: words, exercises, experiments, run time, least claim, claim
    python scripts/minutes.py --write    # write the claims into the notebooks' first cells and index.md's tables

A notebook claims at least its visible words / 120 + 5 per core exercise + 3 per predict-then-run experiment + its
run time at full settings on the slowest CPU measured (scripts/run_times.json, which `make run` writes), rounded to
the nearest 5 (series.lesson_minutes; tests/test_lesson.py checks the claims and index.md against it). `--write`
sets each claim to that sum rounded up to a multiple of 5, never below the least, and rebuilds index.md's half-day
schedule from the claims: notebooks in order, with breaks, as many as fit in 3 h 30; the rest is listed after it
as the second half-day or self-study.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import textwrap
from pathlib import Path

import nbformat

import series

INDEX = series.REPO_ROOT / "index.md"
START, HALF_DAY = 9 * 60, 210  # 09:00, 3 h 30 with breaks
BREAKS = ((75, 15), (130, 10))  # after about this many minutes of lessons, a break of so many minutes
BUFFER = ("Buffer: questions, slow computers, the extra exercises", 10)  # when it fits
WRAP_UP = ("Wrap-up and questions", 10)


def table() -> list[dict]:
    slowest = series.slowest_run_seconds()
    rows = []
    for path in series.NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        found = series.CLAIM.search(notebook.cells[0].source)
        minutes = series.lesson_minutes(notebook, slowest.get(path.stem, 0.0))
        rows.append({"path": path, "claimed": int(found.group(1)) if found else None, **minutes})
    return rows


def claim_text(row: dict) -> str:
    core = [f"exercise{'s' if row['core'] > 1 else ''} {' and '.join(str(i + 1) for i in range(row['core']))}"]
    core += ["the experiment"] * bool(row["experiments"])
    text = " and ".join(part for part in core if not part.endswith("exercise "))
    if row["extra"]:
        text += f"; exercise {row['core'] + 1} is extra, for those who finish early"
    claim, practice = row["claim"], row["practice"]
    return f"about **{claim} minutes** ({claim - practice} teaching, {practice} exercises: {text})"


def schedule(rows: list[dict]) -> tuple[list[tuple[str, str, int]], list[Path]]:
    """The half-day: (start, activity, minutes) rows, and the notebooks left for after it."""
    entries, clock, lessons, breaks = [], START, 0, list(BREAKS)
    left = []
    for row in rows:
        if left or clock + row["claim"] + WRAP_UP[1] > START + HALF_DAY:
            left.append(row["path"])
            continue
        if breaks and lessons + row["claim"] / 2 >= breaks[0][0]:
            entries.append((clock, "Break", breaks[0][1]))
            clock += breaks.pop(0)[1]
        title = re.sub(r"^# \d+ · ", "", nbformat.read(row["path"], as_version=4).cells[0].source.splitlines()[0])
        entries.append((clock, f"[{title}](notebooks/{row['path'].name})", row["claim"]))
        clock += row["claim"]
        lessons += row["claim"]
    if clock + BUFFER[1] + WRAP_UP[1] <= START + HALF_DAY:
        entries.append((clock, *BUFFER))
        clock += BUFFER[1]
    entries.append((clock, *WRAP_UP))
    return [(f"{t // 60:02d}:{t % 60:02d}", activity, m) for t, activity, m in entries], left


def write(rows: list[dict]) -> None:
    for row in rows:
        notebook = nbformat.read(row["path"], as_version=4)
        first = notebook.cells[0]
        if not series.CLAIM.search(first.source):
            raise ValueError(f"{row['path'].name}: no 'about **N minutes** (T teaching, E exercises...)' to update")
        first.source = series.CLAIM.sub(claim_text(row).replace("\\", "\\\\"), first.source, count=1)
        temporary = row["path"].with_suffix(".tmp")
        nbformat.write(notebook, temporary)
        os.replace(temporary, row["path"])
    text = INDEX.read_text()
    minutes = {row["path"].name: row["claim"] for row in rows}
    text = re.sub(
        r"^(\| \d+ \| \[[^\]]+\]\(notebooks/([^)]+\.ipynb)\) \| .*? \| )\d+( \|)$",
        lambda m: f"{m.group(1)}{minutes[m.group(2)]}{m.group(3)}",
        text,
        flags=re.M,
    )
    entries, left = schedule(rows)
    lines = ["| Start | Activity | Minutes |", "|---|---|---|", *(f"| {s} | {a} | {m} |" for s, a, m in entries)]
    end = entries[-1][0]
    end_minutes = int(end[:2]) * 60 + int(end[3:]) + WRAP_UP[1]
    covered = [row["path"] for row in rows if row["path"] not in left]
    after = ", ".join(f"[{p.stem[:2]}](notebooks/{p.name})" for p in left)
    intro = (
        f"A half-day workshop covers notebooks {covered[0].stem[:2]}–{covered[-1].stem[:2]}, from 09:00 to "
        f"{end_minutes // 60:02d}:{end_minutes % 60:02d} with breaks. Each notebook's minutes count its reading, its "
        "run, its core exercise and its experiment; the extra exercises are for those who finish early. Instructors: "
        "see the [instructor notes](instructors.md) first, and [how to cut](instructors.md#how-to-cut) when time runs "
        "short."
    )
    rest_text = (
        f"**Second half-day, or self-study:** notebooks {after} ({sum(minutes[p.name] for p in left)} minutes "
        "together). They build on notebook 05's CNN: speed and the last tenths of a percent (09, 10), training on "
        "several devices (11) and the model on small devices (12)."
    )
    body = "\n\n".join([textwrap.fill(intro, 116), "\n".join(lines), textwrap.fill(rest_text, 116)])
    head, rest = text.split("## Workshop schedule\n", 1)
    rest = rest.split("\n## ", 1)[1]
    INDEX.write_text(f"{head}## Workshop schedule\n\n{body}\n\n## {rest}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="write the claims and index.md's tables")
    args = parser.parse_args(argv)
    rows = table()
    print("notebook                        words  core extra exper.   run  least write claim")
    for row in rows:
        print(
            f"{row['path'].stem:<30} {row['words']:6,} {row['core']:5} {row['extra']:5} {row['experiments']:6} "
            f"{row['run_minutes']:5.1f} {row['least']:6} {row['claim']:5} {row['claimed'] or '-':>5}"
        )
    if args.write:
        write(rows)
        print(f"Claims written into {len(rows)} notebooks and {INDEX.name}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
