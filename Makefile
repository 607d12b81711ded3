# The README's two commands are `make run` and `make test`; everything else is a helper.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYNTH := data/synthetic/default

.PHONY: run test lint typecheck bench bench-foundation bench-matching bench-allocation bench-stability bench-stepdown bench-sufficiency bench-ssda903 bench-service bench-store bench-pages bench-writes data db docs clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

$(SYNTH)/children.csv: $(STAMP)
	$(BIN)/matching generate --out $(SYNTH) --las 1 --seed 2024

data: $(SYNTH)/children.csv

db: data
	$(BIN)/matching import $(SYNTH)

## Set up, generate the bundled synthetic local authority, build the SQLite store, add the demonstration
## accounts and trust the bundled models in it (development only: elsewhere an administrator trusts what they
## have checked), generate the authority's activity (referrals sent, answers, decisions, outcomes: once per
## store), serve on :8000 (it prints how to sign in, and whether each model is in use).
run: db
	$(BIN)/matching users demo
	$(BIN)/matching models trust models
	$(BIN)/matching activity --seed 2024
	$(BIN)/matching serve --host 127.0.0.1 --port 8000

## Set up with the dev extras and run the whole suite (lint and types included).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

## Benchmarks (figures printed; see benchmarks/README.md).
bench: bench-foundation bench-matching bench-allocation bench-stability bench-stepdown bench-sufficiency bench-ssda903 bench-service bench-store bench-pages bench-writes

bench-foundation: $(STAMP)
	$(BIN)/python benchmarks/bench_foundation.py

bench-matching: $(STAMP)
	$(BIN)/python benchmarks/bench_matching.py

bench-allocation: bench-matching
	$(BIN)/python benchmarks/bench_allocation.py
	$(BIN)/python benchmarks/bench_time_limit.py

bench-stability: $(STAMP)
	$(BIN)/python benchmarks/bench_stability.py

bench-stepdown: $(STAMP)
	$(BIN)/python benchmarks/bench_stepdown.py

bench-sufficiency: $(STAMP)
	$(BIN)/python benchmarks/bench_sufficiency.py

bench-ssda903: $(STAMP)
	$(BIN)/python benchmarks/bench_ssda903.py

bench-service: $(STAMP)
	$(BIN)/python benchmarks/bench_service.py

bench-store: $(STAMP)
	$(BIN)/python benchmarks/bench_store_kill.py

bench-pages: $(STAMP)
	$(BIN)/python benchmarks/bench_pages.py

bench-writes: $(STAMP)
	$(BIN)/python benchmarks/bench_writes.py

## Regenerate docs/data-format.md from the contract spec and docs/ssda903-rules.md from the 903 rule table.
docs: $(STAMP)
	$(BIN)/matching contract-docs
	$(BIN)/matching ssda903-docs

clean:
	rm -rf $(VENV) data/synthetic data/*.db data/*.db-*
