# Two commands set everything up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8501
export CZ_LEDGER_PATH ?= data/ledger.sqlite3

.PHONY: install system-deps bench-deps run seed test test-dates lint bench reliability clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the end-to-end tests (Playwright drives it; no browser download).
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: run 'sudo apt-get install chromium'" >&2; exit 1; fi; }

seed: install
	$(PY) -m credits_core seed-demo --if-empty --users 40 --months 4 --seed 7

run: seed
	$(VENV)/bin/streamlit run app.py --server.port $(PORT) --server.headless true

lint: install
	$(VENV)/bin/ruff check .

test: install system-deps lint
	$(VENV)/bin/pytest

# The date-sensitive tests (seeded history, grants, rollover, Ops, plan changes) again with the
# whole app's ledger clock frozen (CZ_CLOCK) at the 1st 00:00:30, 31 December 23:59:30 and 29 February.
DATE_TESTS := tests/ui tests/core/test_cli.py tests/core/test_config.py tests/core/policy/test_edge_dates.py \
	tests/api/test_paid_plans.py tests/api/test_routes_registry.py tests/api/test_routes_state.py \
	tests/api/test_routes_debit.py tests/api/test_runway.py tests/core/test_scenarios.py
test-dates: install
	@for at in 2027-03-01T00:00:30Z 2026-12-31T23:59:30Z 2028-02-29T12:00:00Z; do \
	  echo "== CZ_CLOCK=$$at"; CZ_CLOCK=$$at $(VENV)/bin/pytest -q $(DATE_TESTS) || exit $$?; done

# wrk (Debian) is the HTTP load generator of the benchmarks: C, so it leaves the cores to the server.
bench-deps:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	  else echo "wrk is missing (sudo apt-get install wrk); the benchmarks fall back to a Python load generator" >&2; fi; }

bench: install bench-deps
	$(PY) -m bench

reliability: install
	$(PY) -m bench.reliability

clean:
	rm -rf $(VENV) data/*.sqlite3* test-artifacts
