# The README's two commands: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# DEMO_FEEDS=DIR ingests feed files from a local folder instead of the starter feeds online.
DEMO_FEEDS ?=

.PHONY: demo test lint format bench clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# The pip a new venv starts with is too old for some extras; upgrade it first.
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/tidings demo --host $(HOST) --port $(PORT) $(if $(DEMO_FEEDS),--feeds "$(DEMO_FEEDS)")

test: $(BIN)/.installed lint
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

format: $(BIN)/.installed
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

bench: $(BIN)/.installed
	$(BIN)/tidings bench ingest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
