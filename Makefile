# Both entry points build their own virtual environment: a fresh machine needs only
# python3 (>= 3.11), git and OpenSSH's ssh-keygen (see .ci/run for the Debian packages).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench man clean

MAN := man/git-provenance.1

# setuptools announces every editable install with a banner: nothing to act on, so not shown.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	PYTHONWARNINGS='ignore:Editable installation' $(BIN)/pip install --quiet -e '.[test,dev]'
	# An editable install skips data-files: link the manual where man looks for this bin/.
	mkdir -p $(VENV)/share/man/man1 && ln -sf $(CURDIR)/$(MAN) $(VENV)/share/man/man1/
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/git-provenance demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --dist loadfile tests

lint: $(STAMP)
	$(BIN)/ruff check provenance tests bench
	$(BIN)/mypy

# The manual (`git provenance --help`) from the click commands; tests/commands/test_manpage.py checks it.
man: $(STAMP)
	$(BIN)/python -c 'from provenance.cli import cli; from provenance.commands.manpage import render; \
		print(render(cli), end="")' > $(MAN)

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
