# One entry point. `make demo` and `make test` work on a fresh clone: they install what
# they need (uv from PyPI into .tools, the locked project into .venv, the test servers
# into .venv-services) before running.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never

.PHONY: help install demo test test-fast lint format services bench clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# --compile-bytecode: Python here never writes .pyc files (PYTHONDONTWRITEBYTECODE), so
# without it every process (flow runs, workers, tests) compiles Prefect again: 20 s, not 7.
$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --quiet --compile-bytecode
	@touch $@

install: $(VENV)/.synced ## Install the project and its dev tools from the lock file

demo: install ## Run every flow on the embedded default with sample data, then parse looker/
	$(VENV)/bin/pipelines demo
	@for f in looker/*.lkml looker/views/*.lkml; do $(VENV)/bin/lkml "$$f" >/dev/null || exit 1; done
	@$(VENV)/bin/python -c "import sys, yaml; [yaml.safe_load(open(f)) for f in sys.argv[1:]]" looker/*.dashboard.lookml
	@echo "looker/: every LookML file parses (the project for Looker users: README, section Looker)"

.venv-services/.installed: $(UV) tests/services/requirements.txt tests/services/install.sh
	UV=$(abspath $(UV)) bash tests/services/install.sh

services: .venv-services/.installed ## Install the local MongoDB/BigQuery stand-ins, chromium and podman for the tests
	bash tests/services/install-browser.sh
	bash tests/services/install-podman.sh

test: install services ## Run the whole test suite (unit, integration, end to end)
	$(VENV)/bin/pytest

test-fast: install ## Unit tests only (no local servers)
	$(VENV)/bin/pytest -m "not integration"

lint: install ## Lint and check formatting
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install ## Format the code
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install ## Benchmarks (prints throughput, peak memory, ratio to a baseline)
	$(PY) bench/bahela_transform.py
	$(PY) bench/geo_lookup.py
	$(PY) bench/glamira_scale.py

bench-glamira: install ## The Glamira pipeline at scale: EVENTS=1000000 by default
	$(PY) bench/glamira_scale.py --events $(or $(EVENTS),1000000)

clean: ## Remove installed environments and the embedded default's data
	rm -rf $(VENV) .venv-services $(TOOLS) .data .pytest_cache
