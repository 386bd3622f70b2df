# goaldrift: `make demo` runs the shipped scenarios and writes a report; `make test` runs every check.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: demo test lint typecheck pytest bench clean clean-cache

$(VENV)/bin/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# the demo needs the package only; the tests also need the dev tools and the sb3 and dask extras
$(STAMP): pyproject.toml $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): pyproject.toml $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[dev,sb3,dask]'
	touch $(STAMP) $(TEST_STAMP)

demo: $(STAMP)
	$(BIN)/goaldrift demo --out out/demo --seeds 64

test: lint typecheck pytest

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests examples
	$(BIN)/ruff format --check src tests examples

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

pytest: $(TEST_STAMP)
	$(BIN)/pytest -n 2

bench: $(STAMP)
	$(BIN)/goaldrift bench

# numba caches a kernel keyed on its own file only: after editing a helper it calls
# (agents/flag_rules.py, rng.py, a world's rules), clear the cache
# numba's compiled kernels (goaldrift.kernel_cache: one folder per version of the sources)
clean-cache:
	rm -rf "$${XDG_CACHE_HOME:-$$HOME/.cache}/goaldrift/numba"
	find src -name '*.nbi' -delete -o -name '*.nbc' -delete

clean: clean-cache
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
