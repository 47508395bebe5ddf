# The two commands a newcomer needs: `make demo` (local endpoint on the default model) and `make test`
# (`make test-fast` skips the slow tests).
# Both create .venv from scratch on a fresh machine (Python 3.11; torch pinned to the CPU build).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-fast lint bench install

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@echo "==> creating $(VENV) and installing requirements (first run only, a few minutes)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(PY) -m inference demo

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

test: lint
	$(PY) -m pytest -ra

# Everything but the tests marked slow (artifact builds, image venvs, end-to-end runs): about a minute.
test-fast: lint
	$(PY) -m pytest -ra -m "not slow"

bench: $(VENV)/.installed
	$(PY) -m inference bench --out bench-results
