# Each target is self-sufficient on a fresh machine with Python 3.11: it creates .venv when absent.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo serve test lint install install-dev bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || ($(PYTHON) -m pip install --user virtualenv && $(PYTHON) -m virtualenv $(VENV))
	$(BIN)/python -m pip install --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -e ".[dev]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(BIN)/ecgdesk demo

serve: $(VENV)/.installed
	$(BIN)/ecgdesk serve --demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench tools
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

bench: $(VENV)/.installed-dev
	$(BIN)/python -m pip install -e ".[dev,peers]"

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
