# Tidings: `make run` starts a demo server, `make test` runs every test.
# Both do all set-up on a fresh machine: they need only python3 (3.11+) with pip.
# They use a virtualenv in .venv; if `python3 -m venv` does not work (Debian without
# python3-venv), they fall back to installing into the system python.

PYTHON ?= python3
VENV := .venv
PIP_INSTALL := -m pip install --quiet --disable-pip-version-check

# Sets $$PY to a python with pip: the venv (created or repaired if needed) or the system one.
define ENSURE_PYTHON
if ! $(VENV)/bin/python -m pip --version >/dev/null 2>&1; then \
  rm -rf $(VENV); \
  if ! { $(PYTHON) -m venv $(VENV) >/dev/null 2>&1 \
         && $(VENV)/bin/python -m pip --version >/dev/null 2>&1; }; then \
    rm -rf $(VENV); \
  fi; \
fi; \
if [ -x $(VENV)/bin/python ]; then \
  PY=$(VENV)/bin/python; \
else \
  echo "note: '$(PYTHON) -m venv' is unavailable; installing into the system python" >&2; \
  PY=$(PYTHON); export PIP_BREAK_SYSTEM_PACKAGES=1; \
fi
endef

.PHONY: run test lint bench clean

run:
	@$(ENSURE_PYTHON); \
	$$PY $(PIP_INSTALL) -e . && exec $$PY -m tidings serve --demo

test:
	@$(ENSURE_PYTHON); \
	$$PY $(PIP_INSTALL) -e '.[test]' && $$PY -m pytest

# Tidings against Dovecot (installed and started on loopback by the benchmark) in one run;
# the table goes to bench/RESULTS.md. BENCH_ARGS=--quick for a short run.
bench:
	@$(ENSURE_PYTHON); \
	$$PY $(PIP_INSTALL) -e '.[test]' && $$PY -m bench.run $(BENCH_ARGS)

lint:
	@$(ENSURE_PYTHON); \
	$$PY $(PIP_INSTALL) -e '.[test]' && $$PY -m ruff check src tests \
	  && $$PY -m ruff format --check src tests && $$PY -m mypy src/tidings

# Removes build and tool caches and the virtualenv; never the mail in ./tidings-data.
clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache \
	  .hypothesis .coverage
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
