# techval: `make run` validates against the built-in simulator; `make test` tests the harness.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp

.PHONY: setup run report bundle bench bench-scale test test-fast lint typecheck unit durations bytecode clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Allure 3 for the HTML report, into ./node_modules from package-lock.json. Without npm the
# suite still runs; the run then says how to get the HTML.
$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --no-audit --no-fund --loglevel=error && touch $(NODE_STAMP); \
	else echo "techval: npm not found: install Node.js 20+ for the HTML report"; fi

# Where PYTHONDONTWRITEBYTECODE is set (as on CI machines) Python compiles every module of the
# project again on each start; compileall writes the bytecode anyway (a no-op when up to date).
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q src steps tests bench conftest.py >/dev/null

setup: $(STAMP) $(NODE_STAMP) bytecode

# pytest's rewritten test modules (for its assert messages), written once before the workers
# start: each of make test's four workers would otherwise rewrite every test module itself on
# a fresh clone (~1.5 s of CPU each).
REWRITTEN := tests/__pycache__/.rewritten-stamp
$(REWRITTEN): $(STAMP) $(shell find tests -name '*.py' -not -path '*/__pycache__/*')
	@env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest tests -p no:allure_pytest_bdd \
	  --collect-only -q >/dev/null
	@touch $@

run: setup
	$(BIN)/techval run --env simulator

report: setup
	$(BIN)/techval report

bundle: setup
	$(BIN)/techval bundle

# Not a test: prints a table and writes reports/bench.json (see bench/bench.py).
bench: setup
	$(BIN)/python bench/bench.py

# The suite with Redox-like timing on 1-8 workers, 4 shards and their merge (bench/bench.py,
# section 5): about 9 minutes, so not part of `make bench`; other figures in bench.json stay.
bench-scale: setup
	$(BIN)/python bench/bench.py --scale

# Lint, types and the tests side by side: the tests spend much of their time waiting, and
# mypy and the linters fill that time (each still fails `make test` on its own).
test: setup
	@$(MAKE) --no-print-directory -j3 lint typecheck unit

lint: setup
	$(BIN)/ruff check src steps tests bench conftest.py
	$(BIN)/ruff format --check src steps tests bench conftest.py
	$(BIN)/lint-imports --no-cache

typecheck: setup
	$(BIN)/mypy

# The harness's own tests (tests/unit, and tests/runs: techval commands run as a user runs
# them). Four workers on two cores: the whole-run tests mostly wait (timeouts, Retry-After,
# a slow simulator), and two workers a core overlap those waits (six cost more than they
# give). allure-pytest-bdd stays off (it breaks plain tests that report). WORKERS=0: one
# process. tests/conftest.py orders the tests (the longest first) and schedules them
# (--dist loadscope): one test at a time to each worker, as it comes free (xdist's default
# hands out contiguous chunks, and one worker ended up with every whole run of a file), but
# the tests that import Redox's models all on one worker. Bytecode is written even where
# PYTHONDONTWRITEBYTECODE is set, for the tests and the techval processes they start: pytest
# keeps the test modules it rewrote (for assert messages), which each worker and each run in
# a fresh interpreter would otherwise rewrite again.
WORKERS ?= 4
unit: setup $(REWRITTEN)
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest tests -p no:allure_pytest_bdd \
	  -n $(WORKERS) --dist loadscope

# How long each test takes under make test's load, for its order (tests/conftest.py): refresh
# after adding slow tests. Runs the tests as make test does.
durations: setup $(REWRITTEN)
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest tests -p no:allure_pytest_bdd \
	  -n $(WORKERS) --dist loadscope --record-durations -q

# The edit loop: the unit tests alone (tests/unit), no whole run of techval.
test-fast: setup
	$(BIN)/python -m pytest tests/unit -p no:allure_pytest_bdd -n $(WORKERS) -m "not whole_run"

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache
	find reports -mindepth 1 ! -name .gitkeep ! -path 'reports/history*' -delete
