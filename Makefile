# GovShare developer commands. The README quotes `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
VENDOR := src/govshare/web/static/vendor
PYTEST_ARGS ?= -n 2
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help install run test test-postgres lint format typecheck check security assets bench clean

help:
	@echo "make run            install, load the demo city into ./data (SQLite) and serve on http://$(HOST):$(PORT)"
	@echo "make test           install everything and run the whole test suite (SQLite; PostgreSQL too when"
	@echo "                    GOVSHARE_TEST_DATABASE_URL is set, e.g. postgresql+psycopg://root@127.0.0.1:5432/test)"
	@echo "make test-postgres  run the suite against the local PostgreSQL database 'test'"
	@echo "make check          lint (ruff) and type-check (mypy)"
	@echo "make security       static security analysis (bandit) and known vulnerabilities in the lock (pip-audit)"
	@echo "make bench          run the benchmarks in bench/"

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

node_modules/.package-lock.json: package.json package-lock.json
	scripts/ensure-system-packages node
	npm ci --no-audit --no-fund --loglevel=error

$(VENDOR)/.stamp: node_modules/.package-lock.json
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/echarts/dist/echarts.min.js $(VENDOR)/
	touch $@

assets: $(VENDOR)/.stamp

install: $(STAMP) assets

run: install
	scripts/ensure-system-packages fonts
	$(BIN)/govshare demo
	$(BIN)/govshare serve --host $(HOST) --port $(PORT)

test: install
	scripts/ensure-system-packages browser
	$(BIN)/pytest $(PYTEST_ARGS)

test-postgres: install
	GOVSHARE_TEST_DATABASE_URL=postgresql+psycopg://root@127.0.0.1:5432/test $(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

typecheck: install
	$(BIN)/mypy

check: lint typecheck

# bandit fails on any finding not justified in [tool.bandit] or by an inline `# nosec BXXX - reason`;
# scripts/audit-dependencies fails on a known vulnerability and warns when its database is unreachable.
security: install
	$(BIN)/bandit -c pyproject.toml -r src -q
	$(BIN)/python scripts/audit-dependencies requirements.lock

bench: install
	scripts/ensure-system-packages wrk
	scripts/ensure-system-packages valgrind
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules $(VENDOR) .pytest_cache .mypy_cache .ruff_cache
