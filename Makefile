# `make check` is what CI runs too (through README's test command): lint, types, tests.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: venv check lint types contracts test run bench

venv:
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --no-compile --require-hashes -r requirements-dev.lock

lint:
	$(VENV)/bin/ruff check .

types:
	$(VENV)/bin/mypy

contracts:
	$(VENV)/bin/lint-imports

test:
	$(VENV)/bin/pytest -q -rs -n 3 --dist loadgroup

check: lint types contracts test

run:
	$(VENV)/bin/streamlit run streamlit_app.py

bench:
	$(PY) bench/refresh_sweep.py
	$(PY) bench/connections_page.py
	$(PY) bench/token_api.py
