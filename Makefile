# The front door: `make run` starts the whole gateway, `make test` runs every test.
# Needs only Python 3.11+ and make; uv is fetched from PyPI into .tools/ when missing.

.DEFAULT_GOAL := help
SHELL := bash
.SHELLFLAGS := -euo pipefail -c

PYTHON ?= python3
UV ?= $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)
PYTEST_ARGS ?=
CHAOS_ARGS ?=
RECEIVER_ARGS ?=
BASELINE ?=
BENCH_ARGS ?=

.PHONY: help install run receiver test lint bench chaos clean

help: ## Show this list
	@echo "Targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'
	@echo "Local data (embedded PostgreSQL and Redis) lives in .data/; delete it to start afresh."

install: $(UV) ## Install every workspace package, exactly as uv.lock pins them
	$(UV) sync --all-packages --locked

# A private virtualenv keeps the bootstrap clear of the system Python (PEP 668).
.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet uv

run: install ## Start the gateway (embedded PostgreSQL and Redis unless DATABASE_URL/REDIS_URL are set)
	$(UV) run --no-sync python -m devstack.run

receiver: install ## Test merchant's webhook receiver on :4000; RECEIVER_ARGS="--fail-first 2"
	$(UV) run --no-sync python -m devstack.receiver $(RECEIVER_ARGS)

test: install ## Run the tests; extra pytest arguments via PYTEST_ARGS="-k refund -x"
	$(UV) run --no-sync pytest $(PYTEST_ARGS)

lint: install ## Check style and formatting with ruff, types with mypy
	$(UV) run --no-sync ruff check .
	$(UV) run --no-sync ruff format --check .
	$(UV) run --no-sync mypy

bench: install ## Run the benchmarks; BASELINE=<commit> compares the cost of a paid order with it; BENCH_ARGS="--only-cost"
	UV="$(UV)" $(UV) run --no-sync python -m bench $(if $(BASELINE),--baseline $(BASELINE)) $(BENCH_ARGS)

chaos: install ## Kill workers, restart Redis and PostgreSQL under load, check nothing is lost; CHAOS_ARGS="--seed 7"
	$(UV) run --no-sync python -m chaos $(CHAOS_ARGS)

clean: ## Remove the virtualenvs, caches and test outputs (keeps .data/)
	rm -rf .venv .tools .pytest_cache .ruff_cache test-artifacts bench-results
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
