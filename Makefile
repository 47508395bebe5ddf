# The two commands a newcomer needs: `make demo` (local endpoint on the default model) and `make test`
# (`make test-fast` skips the slow tests).
# Both create .venv from scratch on a fresh machine (Python 3.11; torch pinned to the CPU build).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-fast lint bench install mutation mutation-report

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
	$(PY) -m pytest -ra --durations=15

# Everything but the tests marked slow (artifact builds, image venvs, end-to-end runs): about a minute.
test-fast: lint
	$(PY) -m pytest -ra -m "not slow"

bench: $(VENV)/.installed
	$(PY) -m inference bench --out bench-results

# Mutation testing (slow; not in CI; docs/mutation-testing.md): mutmut mutates these modules and runs the fast tests
# that reach each mutant; prints the survivors as file:line and writes mutants/mutation-report.md.
# One module: `make mutation MODULES=settings/rules.py`; report the last run again: `make mutation-report`.
MUTATION_MODULES := settings/rules.py settings/reader.py inference/limits.py inference/handlers/sls_integrity.py \
	inference/handlers/sls_errors.py inference/handlers/sklearn.py inference/handlers/embeddings.py \
	$(wildcard components/*.py) $(wildcard releasing/*.py) release.py
MODULES ?= $(filter-out %/__init__.py,$(MUTATION_MODULES))
MUTATION_JOBS ?= 2

# One BLAS thread per mutant process: parallel mutants share the cores (the fork server keeps thread pools out of forks).
# The tests run in the mutants/ copy: SLS_VENV_CACHE points them at the image-matching venvs already built here.
mutation: $(VENV)/.installed
	SLS_VENV_CACHE=$(CURDIR)/.cache/venvs OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) tests/mutation_report.py --jobs $(MUTATION_JOBS) $(MODULES)

mutation-report: $(VENV)/.installed
	$(PY) tests/mutation_report.py --report-only $(MODULES)
