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

# the test tools, the optional Ray backend (tested against a local Ray instance), the docs site's
# builder, the notebook runner (the notebook tests execute notebooks/), and the TransformerLens and
# tracker extras and the field's measures (their tests run against the real packages; none may
# replace the pinned torch)
$(DEV_STAMP): $(STAMP)
	$(PIP) -e '.[dev,ray,docs,notebooks,tl,wandb,tensorboard,forecast,field]'
	$(VENV)/bin/python -c "import torch; v = torch.__version__; assert v.split('+')[0] == '2.13.0', f'an extra replaced torch: {v}'"
	touch $(DEV_STAMP)

.PHONY: install run test test-slow lint bench docs
install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/grokscope run $(ARGS)

# the fast tier (pyproject's addopts deselect the slow marker): a few minutes on 2 cores
test: $(DEV_STAMP)
	$(VENV)/bin/python -m pytest -q $(ARGS)

# the slow tier, every test marked slow wherever it lives (reproductions, grokking runs, bench
# smoke, the browser test); CI runs it too. Two workers, one test file each at a time (module-scoped
# fixtures train a reproduction's seeds once per file): the tests train on one torch thread each.
test-slow: $(DEV_STAMP)
	$(VENV)/bin/python -m pytest -q -m slow -n 2 --dist loadfile $(ARGS)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check src tests bench

bench: $(STAMP)
	$(VENV)/bin/python -m bench $(ARGS)

# the documentation site into site/ (API reference from docstrings, CLI errors from the source);
# --strict: a broken link, a missing page or a docstring mkdocstrings cannot read fails the build
# (not with --quiet: mkdocs then stops counting warnings and a strict build passes with them)
docs: $(DEV_STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict
