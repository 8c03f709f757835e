# Both entry points build their own virtual environment: a fresh machine needs only
# python3 (>= 3.11), git and OpenSSH's ssh-keygen (see .ci/run for the Debian packages).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/git-provenance demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --dist loadfile tests

lint: $(STAMP)
	$(BIN)/ruff check provenance tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
