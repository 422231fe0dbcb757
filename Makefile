# Everything runs from a project-local virtualenv that `make install` builds; a fresh machine
# needs only Python 3.11+ and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint demo bench docs clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "ftctl needs Python 3.11 or newer (found $$($(PYTHON) --version))" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check ftctl tests scripts
	$(BIN)/ruff format --check ftctl tests scripts
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo --no-cache
	$(BIN)/python scripts/gen_docs.py --check

docs: install
	$(BIN)/python scripts/gen_docs.py

demo: install
	$(BIN)/python scripts/demo.py

# make bench BENCH="prepare_legacy prepare_bad_files" runs those only (python -m tests.bench --list)
bench: install
	$(BIN)/python -m tests.bench $(BENCH)

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache
