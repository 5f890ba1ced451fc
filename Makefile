# techval: `make run` validates against the built-in simulator; `make test` tests the harness.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup run test lint typecheck unit clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/techval run --env simulator

test: lint typecheck unit

lint: setup
	$(BIN)/ruff check src steps tests conftest.py
	$(BIN)/ruff format --check src steps tests conftest.py

typecheck: setup
	$(BIN)/mypy

# The harness's own tests; allure-pytest-bdd stays off (it breaks plain tests that report).
unit: setup
	$(BIN)/python -m pytest tests -p no:allure_pytest_bdd

clean:
	rm -rf $(VENV) reports/allure-results reports/junit.xml .mypy_cache .ruff_cache
