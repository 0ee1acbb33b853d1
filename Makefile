# Two commands: `make run` (the default run: groks on the CPU, writes its run directory)
# and `make test` (the test suite). Both create .venv and install what they need first.
VENV   ?= .venv
PYTHON ?= python3
STAMP  := $(VENV)/.installed-stamp

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

.PHONY: install run test test-slow lint
install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/grokscope run $(ARGS)

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q $(ARGS)

# the slow tests that really train to grokking (CI runs this subset too)
test-slow: $(STAMP)
	$(VENV)/bin/python -m pytest -q -m slow $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests
