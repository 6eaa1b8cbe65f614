# Quick start: `make demo` opens the console on the built-in demo; `make test` runs every test.
# Both create the virtual environment when it is missing.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lab bench screenshots clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/canary-console --demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

lab: $(STAMP)
	$(BIN)/python -m tui.lab

bench: $(STAMP)
	$(BIN)/python -m tests.bench.detection --runs 200

screenshots: $(STAMP)
	$(BIN)/python screenshots/make.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
