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

test: $(DEV_STAMP)
	$(VENV)/bin/python -m pytest -q $(ARGS)

# the slow tests that really train to grokking (CI runs them too)
test-slow: $(DEV_STAMP)
	$(VENV)/bin/python -m pytest -q -m slow $(ARGS)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check src tests bench

bench: $(STAMP)
	$(VENV)/bin/python -m bench $(ARGS)
