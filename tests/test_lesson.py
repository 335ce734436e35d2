"""The lesson fits its minutes: what a learner reads is short, free of builders' notes, and timed honestly.

- **Words.** A notebook's reading load is its visible Markdown: the words of its Markdown cells, a word being a run
  of letters, digits and apostrophes (`[A-Za-z0-9']+`), with collapsed `<details>` blocks (hints, solutions, "What
  happened", "More: ...") left out. Notebooks 00-08 (the half-day) have at most 8,500 such words together, 09-12 at
  most 7,000.
- **Provenance.** What learners read (the notebooks' Markdown and code comments, index.md, glossary.md, setup.md,
  before-the-workshop.md)
  names no machine, date, edition or commit, and no benchmark: REJECTED lists the words refused. A number a learner
  needs is measured live by the notebook or given as a plain range; one plain link to benchmark.md is allowed.
- **Minutes.** Each notebook claims at least: visible words / 120 (a learner's pace for technical text with code)
  + 5 per core exercise + 3 per predict-then-run experiment + its run time at full settings on the slowest CPU
  measured (scripts/run_times.json, which `make run` writes), rounded to the nearest 5. An exercise marked
  "(extra)" in its heading is for early finishers and is not counted.
- **Schedule.** index.md's tables give each notebook's claimed minutes, and its half-day schedule adds them up:
  consecutive start times, at most 3 h 30 with breaks; what does not fit is listed after it.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import nbformat
import pytest

import series
from series import NOTEBOOKS, REPO_ROOT

LIMITS = {("00", "08"): 8_500, ("09", "12"): 7_000}
EXTRA, CLAIM, visible_words = series.EXTRA_EXERCISE, series.CLAIM, series.visible_words  # the rules, in one place

# The words refused in learner-facing text, by kind (case-insensitive where the kind allows).
REJECTED = {
    "a machine": r"\b(?:EPYC|Xeon|Ryzen|Threadripper|Zen ?[1-6]|Sapphire Rapids|Granite Rapids|Emerald Rapids|"
    r"Ice Lake|Cascade Lake|Skylake|AMD)\b|\bIntel\b(?! Macs?\b| macOS\b)",  # (an Intel Mac is a learner's computer)
    "a date": r"\b(?:19[89]\d|20[0-4]\d)-\d\d-\d\d\b|\b20[12]\d\b",
    "an edition": r"\beditions?\b",
    "a commit": r"\bcommit\b|\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{7,40}\b",
    "the benchmark": r"\bbenchmark(?:s|ed|ing)?\b|\bmake bench\b",
    "the builders' tools": r"\b(?:nbval|papermill|stored outputs?|the (?:test )?suite)\b",
}
BENCHMARK_LINK = re.compile(r"\[[^\]]*\]\((?:\.\./)?benchmark\.md[^)]*\)")  # one plain link is allowed
TOCTREE = re.compile(r"```\{toctree\}.*?```", re.S)  # the website's table of contents names the pages, benchmark too
LEARNER_DOCS = ("index.md", "glossary.md", "setup.md", "before-the-workshop.md")


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def test_the_word_limits_hold() -> None:
    words = {path.name[:2]: visible_words(_read(path)) for path in NOTEBOOKS}
    for (first, last), limit in LIMITS.items():
        total = sum(n for prefix, n in words.items() if first <= prefix <= last)
        assert total <= limit, f"notebooks {first}-{last}: {total:,} visible words, more than {limit:,}: {words}"


def test_words_are_counted_as_stated() -> None:
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(
                "## It's 28×28 pixels\n\n<details><summary>Hint</summary>\n\nhidden words\n</details>"
            ),
            nbformat.v4.new_code_cell("print('code is not read as prose')"),
        ]
    )
    assert visible_words(notebook) == 4  # It's, 28, 28, pixels ("×" and "##" are not letters; the hint is collapsed)


def _learner_text(path: Path) -> list[tuple[str, str]]:
    """(where, text) of what a learner reads in a notebook: Markdown cells and the code cells' comments."""
    found = []
    for cell in _read(path).cells:
        if cell.cell_type == "markdown":
            found.append((f"{path.name} {cell.get('id')}", cell.source))
        elif cell.cell_type == "code" and not series.is_colab_cell(cell):
            tokens = tokenize.generate_tokens(io.StringIO(cell.source).readline)
            comments = [token.string for token in tokens if token.type == tokenize.COMMENT]
            found.append((f"{path.name} {cell.get('id')} (comments)", "\n".join(comments)))
    return found


def rejected(text: str) -> list[str]:
    text = BENCHMARK_LINK.sub("", TOCTREE.sub("", text))
    return [f"{kind}: {m.group(0)!r}" for kind, pattern in REJECTED.items() for m in re.finditer(pattern, text)]


@pytest.mark.parametrize("path", [*NOTEBOOKS, *(REPO_ROOT / name for name in LEARNER_DOCS)], ids=lambda p: p.stem)
def test_no_builders_provenance_in_what_learners_read(path: Path) -> None:
    parts = _learner_text(path) if path.suffix == ".ipynb" else [(path.name, path.read_text())]
    found = [f"{where}: {word}" for where, text in parts for word in rejected(text)]
    assert not found, "\n".join(found)
    links = sum(len(BENCHMARK_LINK.findall(text)) for _, text in parts)
    assert links <= (3 if path.name == "index.md" else 1), f"{path.name}: {links} links to benchmark.md"


def test_the_rejected_words_are_rejected() -> None:
    for text in ("on a 2-core AMD EPYC", "Zen 5", "measured on 2026-11-26", "the second edition", "commit 3f43496",
                 "the benchmark measured", "as stored outputs show", "Sapphire Rapids"):  # fmt: skip
        assert rejected(text), text
    for text in ("2,048 images", "under a minute on a 2-core laptop", "[benchmark.md](../benchmark.md)", "98.6%",
                 "a deadline", "the tutorial's test set"):  # fmt: skip
        assert not rejected(text), (text, rejected(text))


def required_minutes(path: Path, run_seconds: float) -> tuple[int, int]:
    """(the least minutes a notebook may claim, the part of it that is exercises and experiments)."""
    minutes = series.lesson_minutes(_read(path), run_seconds)
    return minutes["least"], minutes["practice"]


def claimed(path: Path) -> tuple[int, int, int]:
    found = CLAIM.search(_read(path).cells[0].source)
    assert found, f"{path.name}: the first cell gives the minutes: about **N minutes** (T teaching, E exercises...)"
    return int(found.group(1)), int(found.group(2)), int(found.group(3))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_minutes_claimed_are_honest(path: Path) -> None:
    slowest = series.slowest_run_seconds()
    assert path.stem in slowest, f"no run time for {path.stem} in {series.RUN_TIMES.name}: run `make run`"
    least, practice = required_minutes(path, slowest[path.stem])
    minutes, teaching, exercises = claimed(path)
    assert minutes >= least, f"{path.name} claims {minutes} minutes; its words, exercises and run need {least}"
    assert teaching + exercises == minutes and exercises >= practice, (teaching, exercises, practice)
    extra = [c for c in _read(path).cells if c.cell_type == "markdown" and EXTRA.match(c.source)]
    assert all("extra" in _read(path).cells[0].source for _ in extra), "the first cell says which exercise is extra"


def test_the_run_times_table_has_every_notebook() -> None:
    table = series.read_run_times()
    assert table, "scripts/run_times.json: run `make run` on a 2-core machine"
    for cpu, times in table.items():
        assert set(times) <= {path.stem for path in NOTEBOOKS} and all(s > 0 for s in times.values()), cpu
    assert set(series.slowest_run_seconds()) == {path.stem for path in NOTEBOOKS}


def _index_rows(heading: str) -> list[list[str]]:
    """The rows of the first table after `heading` in index.md (the header row first), as lists of cells."""
    lines = (REPO_ROOT / "index.md").read_text().split(f"\n{heading}\n", 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table = [line for line in lines[start:] if line.startswith("|")][
        : next((i for i, line in enumerate(lines[start:]) if not line.startswith("|")), len(lines) - start)
    ]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in table]
    return [row for row in rows if not set("".join(row)) <= set("-: ")]


def test_index_gives_each_notebooks_minutes_and_a_half_day_that_adds_up() -> None:
    claims = {path.name: claimed(path)[0] for path in NOTEBOOKS}
    series_rows = _index_rows("## The series")[1:]
    for row in series_rows:
        name = re.search(r"notebooks/([^)]+\.ipynb)", row[1]).group(1)
        assert int(row[-1]) == claims[name], f"index.md gives {name} {row[-1]} minutes; it claims {claims[name]}"
    assert len(series_rows) == len(NOTEBOOKS)
    schedule = _index_rows("## Workshop schedule")[1:]
    clock = None
    for start, activity, minutes in schedule:
        hours, mins = map(int, start.split(":"))
        now = 60 * hours + mins
        assert clock is None or now == clock, (
            f"index.md's schedule: {start} should be {clock // 60:02d}:{clock % 60:02d}"
        )
        name = re.search(r"notebooks/([^)]+\.ipynb)", activity)
        if name:
            assert int(minutes) == claims[name.group(1)], f"{name.group(1)}: the schedule and the notebook disagree"
        clock = now + int(minutes)
    first = schedule[0][0].split(":")
    assert clock - (60 * int(first[0]) + int(first[1])) <= 210 + 10, "a half-day: about 3 h 30 with breaks"
    said = re.search(r"from \d\d:\d\d to (\d\d):(\d\d) with breaks", (REPO_ROOT / "index.md").read_text())
    assert said and 60 * int(said.group(1)) + int(said.group(2)) == clock, "the end time it states is the table's"
    covered = {re.search(r"notebooks/([^)]+\.ipynb)", a).group(1) for _, a, _ in schedule if "notebooks/" in a}
    after = (REPO_ROOT / "index.md").read_text().split("## Workshop schedule", 1)[1].split("\n## ", 1)[0]
    after = after.split(schedule[-1][1], 1)[1]  # what the page says after the half-day's table
    for path in NOTEBOOKS:
        assert path.name in covered or path.name in after, f"{path.name}: neither in the half-day nor after it"
