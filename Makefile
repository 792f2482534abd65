# Harmonia: the two commands.
#   make lab    set up .venv if needed, then open JupyterLab on chapters/00_start_here.ipynb
#   make test   set up .venv if needed, then run every test (library, course tooling, nbval over chapters)
#   make test-portable   the chapters' stored outputs again, as on another CPU: strict nbval with torch's
#               portable kernels (ATEN_CPU_CAPABILITY=default) and one thread, no time budget
#               (PORTABLE_ARGS=--changed: only chapters changed since chapters/portable.toml was recorded)
# The set-up installs torch==2.13.0 first (a CPU build; pyproject's torch range accepts it), then the
# course in editable mode with its dev extra. It re-runs only when pyproject.toml changes.

SHELL  := /bin/bash
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.harmonia-installed
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: setup lab test test-portable clean

PORTABLE_ARGS ?=

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

lab: $(STAMP)
	$(PY) -m harmonia.course lab

test: $(STAMP)
	$(PY) -m pytest tests chapters $(NBVAL)

test-portable: $(STAMP)
	$(PY) -m harmonia.course portable $(PORTABLE_ARGS)

clean:
	rm -rf build .pytest_cache
