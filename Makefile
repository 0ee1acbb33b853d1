# Two commands: `make run` (the default run: groks on the CPU, writes its run directory)
# and `make test` (the test suite). Both create .venv and install what they need first.
VENV   ?= .venv
PYTHON ?= python3
PIP    := $(VENV)/bin/pip install --quiet --disable-pip-version-check
STAMP      := $(VENV)/.installed-stamp
DEV_STAMP  := $(VENV)/.installed-dev-stamp

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -e .
	touch $(STAMP)

# the test tools and the optional Ray backend (tested against a local Ray instance)
$(DEV_STAMP): $(STAMP)
	$(PIP) -e '.[dev,ray]'
	touch $(DEV_STAMP)

.PHONY: install run test test-slow lint bench
install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/grokscope run $(ARGS)

# the fast tier (pyproject's addopts deselect the slow marker): a few minutes on 2 cores
test: $(DEV_STAMP)
	$(VENV)/bin/python -m pytest -q $(ARGS)

# the slow tier, every test marked slow wherever it lives (reproductions, grokking runs, bench
# smoke, the browser test); CI runs it too
test-slow: $(DEV_STAMP)
	$(VENV)/bin/python -m pytest -q -m slow $(ARGS)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check src tests bench

bench: $(STAMP)
	$(VENV)/bin/python -m bench $(ARGS)
