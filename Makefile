# Warmline — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export DJANGO_SETTINGS_MODULE := warmline.settings
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help run setup serve demo test test-postgres lint format bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(BIN)/warmline: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev,semantic]"  # semantic: the optional MiniLM analyser, tested when present
	-$(BIN)/pip download -q --no-deps lifetimes==0.11.3 -d $(VENV)/wheels  # CDNOW data for the CLV test
	@touch $(BIN)/warmline

# Chart.js for the KPI dashboard: installed by name from the npm registry (package.json,
# package-lock.json), copied into the ignored static/vendor/; never committed.
VENDOR := warmline/web/static/vendor
$(VENDOR)/chart.umd.js: package.json package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --no-audit --no-fund --loglevel=error && mkdir -p $(VENDOR) && \
	  cp node_modules/chart.js/dist/chart.umd.js $@; \
	else echo "npm not found: the KPI dashboard will show its tables without charts" >&2; fi

setup: $(BIN)/warmline $(VENDOR)/chart.umd.js ## Create the virtualenv and install everything (pinned)

run: setup ## Set up, migrate SQLite under var/, load the demo, and serve at http://127.0.0.1:8000
	$(BIN)/warmline migrate -v0
	$(BIN)/warmline demo
	@echo "Open http://$(HOST):$(PORT)/ and sign in as demo@warmline.example / warmline-demo"
	$(BIN)/warmline serve --host $(HOST) --port $(PORT)

serve: setup ## Serve without loading the demo
	$(BIN)/warmline serve --host $(HOST) --port $(PORT)

test: setup ## Run the whole test suite (SQLite; PostgreSQL when DATABASE_URL points at one)
	@set +e; $(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

lint: setup ## Ruff lint and format check, and migrations in sync with models
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/warmline makemigrations --check --dry-run

format: setup ## Format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup ## Run the benchmarks (results in bench/results/)
	$(BIN)/python bench/ingest.py

clean: ## Remove the virtualenv and local data
	rm -rf $(VENV) var node_modules $(VENDOR)
