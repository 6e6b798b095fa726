# The two commands of the README, plus the tools behind them.
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck pytest bench bench-large lock clean

## Set up, migrate, seed the demo round, print one API key per role, and serve on SQLite.
## The server refuses to start without an audit key: unless one is set, a development key
## is made once in var/audit-key (mode 0600) and used.
run: export SUPPLYBID_AUDIT_KEY_FILE ?= var/audit-key
run: $(VENV)/.installed
	$(BIN)/supplybid db upgrade
	@if [ -z "$$SUPPLYBID_AUDIT_KEY" ]; then $(BIN)/supplybid audit new-key "$$SUPPLYBID_AUDIT_KEY_FILE"; fi
	$(BIN)/supplybid demo seed --base-url http://$(HOST):$(PORT)
	$(BIN)/supplybid serve --host $(HOST) --port $(PORT)

## Set up and run everything CI runs: lint, format check, types, and the tests
## (on SQLite, and on PostgreSQL too where a server can be started here).
test: $(VENV)/.installed lint typecheck
	scripts/with-postgres.sh $(BIN)/pytest -q

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy .

pytest: $(VENV)/.installed
	$(BIN)/pytest -q

## The allocator benchmark: PuLP model against two direct highspy builds (plain and segment form), same run; 1M LP included.
bench: $(VENV)/.installed
	$(BIN)/python -m bench.allocator

bench-large: $(VENV)/.installed
	$(BIN)/python -m bench.allocator --sizes 1M --kinds lp

$(VENV)/.installed: requirements.lock pyproject.toml
	@PY=$$(scripts/find-python.sh) && \
	  { [ -x $(BIN)/python ] || $$PY -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

## Re-pin requirements.lock from pyproject.toml's ranges (needs network to PyPI).
lock: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/python -m uv pip compile pyproject.toml --extra dev --python-version 3.12 \
	  --python-platform x86_64-manylinux_2_28 -o requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
