# Harmonia: the two commands.
#   make lab    set up .venv if needed, then open JupyterLab on chapters/00_start_here.ipynb
#   make test   set up .venv if needed, then run every test (library, course tooling, nbval over chapters)
#   make test-portable   the chapters' stored outputs again, as on another CPU: strict nbval with torch's
#               portable kernels (ATEN_CPU_CAPABILITY=default) and one thread, no time budget
#               (PORTABLE_ARGS=--changed: only chapters changed since chapters/portable.toml was recorded)
#   make test-browser   each chapter in the course's JupyterLab in headless Chromium: run all cells, move every
#               widget control, screenshots in build/browser/ (BROWSER_ARGS=--changed: chapter 00 and the chapters
#               changed since chapters/browser.toml). Installs Debian's chromium when root and missing (else says
#               what to install and skips), and Playwright into .venv (the browser extra); never a browser download.
# The set-up installs torch==2.13.0 first (a CPU build; pyproject's torch range accepts it), then the
# course in editable mode with its dev extra. It re-runs only when pyproject.toml changes.

SHELL  := /bin/bash
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.harmonia-installed
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: setup lab test test-portable test-browser clean

PORTABLE_ARGS ?=
BROWSER_ARGS ?=

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

test-browser: $(STAMP)
	@if ! command -v chromium >/dev/null && [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "make test-browser: installing Debian's chromium"; \
	    apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; \
	  fi; \
	fi
	@$(PY) -c "import playwright" 2>/dev/null || $(PY) -m pip install --quiet -e '.[dev,browser]'
	$(PY) -m harmonia.course browser $(BROWSER_ARGS)

clean:
	rm -rf build .pytest_cache
