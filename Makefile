# Entry points of the series. Every target creates the virtual environment on first use and reuses it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: venv run lab test bench refresh docs clean blank

venv: $(VENV)/.installed

# requirements.txt is the list people edit; requirements.lock pins every package beneath it too, for Linux, macOS
# and Windows (uv pip compile --universal, see CONTRIBUTING.md), and is what gets installed.
$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

## Execute the whole series (both models) into build/run/ and leave trained models in saved_model/.
run: venv
	$(PY) scripts/run_series.py

## JupyterLab for learners, at notebook 00, without the news pop-up or update checks (scripts/lab.py).
lab: venv
	$(PY) scripts/lab.py

## The test suite: unit tests of helpers.py, data checksums, papermill runs and nbval checks of the notebooks.
test: venv
	$(PY) -m pytest

## The benchmark: the notebooks run with parameter sets, side by side (models, notebook overhead, reading,
## inference, knobs, recipes, devices, LiteRT), medians of 3 repeats; tables in build/bench/bench.md, and a full
## run rewrites benchmark.md's tables (nothing else). `make bench BENCH_ARGS=--quick`: a short smoke run.
bench: venv
	$(PY) scripts/bench.py $(BENCH_ARGS)

## The website: index.md and the notebooks rendered into build/docs/html/ (open build/docs/html/index.html).
## It shows the outputs stored in the notebooks; `make docs EXECUTE=1` executes every notebook first (~3 min).
docs: venv
	$(PY) -m sphinx -b html -n -W --keep-going -E -d build/docs/doctrees \
		-D nb_execution_mode=$(if $(EXECUTE),force,off) . build/docs/html
	@echo "Open build/docs/html/index.html in a browser."

clean:
	rm -rf build

## A copy of the notebooks for live coding in blank/ (git-ignored; `make clean` leaves it): the lesson's code, no
## outputs, no exercise solutions. A copy changed since is kept; `make blank BLANK_ARGS="--force 05"` replaces it (.bak).
blank: venv
	$(PY) scripts/blank.py $(BLANK_ARGS)

## Re-execute the committed notebooks in place to refresh their stored outputs (maintainers).
refresh: venv
	$(PY) scripts/refresh_notebooks.py
