# The README's commands. CI runs `make test` through .ci/run on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
OUT    ?= out/province
DOSSIERS ?= 100000
SEED   ?= 7
PORT   ?= 8000
# the suite runs on this many processes (pytest-xdist; a module's tests stay on one process)
TEST_WORKERS ?= 2

.PHONY: help install browser run test test-fast lint bench bench-api bench-cases bench-feedback bench-day-one bench-actors bench-scale clean

help:
	@echo "make run        simulate a province, validate, train, score (flags into the case store), report,"
	@echo "                then serve the scoring API and the inspection workbench"
	@echo "make test       install test dependencies and the browser, run the whole suite"
	@echo "make browser    Debian's chromium for the workbench's browser tests (apt-get, as root)"
	@echo "make test-fast  the suite without tests marked slow"
	@echo "make lint       ruff and mypy"
	@echo "make bench      benchmarks (simulator, graph, train/score at 100k-1M); figures in bench/results/"
	@echo "make bench-api  scoring API: in process and over HTTP at 1M history (ARGS=--quick: 100k, short)"
	@echo "make bench-cases    review API with 100k cases: queue and case pages over HTTP (ARGS=--quick: 10k;"
	@echo "                    ARGS='--both --database-url postgresql://.../detector_bench': SQLite and PostgreSQL)"
	@echo "make bench-feedback verdicts teach the model: a team reviews the queue, retrain, judge later months"
	@echo "make bench-day-one  every label condition (none, few, noisy, full) on development and held-out"
	@echo "                    simulator settings, beside the baselines (ARGS=--quick: a smoke run)"
	@echo "make bench-scale    pandas and Dask engines: 1M (both) and 10M dossiers (Dask): time, peak memory of"
	@echo "                    the process tree, spill (ARGS=--quick: 100k; ARGS='--sizes 1000000': 1M only)"
	@echo "make bench-actors   the make run province's flags as dossier cases vs actor cases: cases to cover"
	@echo "                    the year's misuse, misuse confirmed at 60 reviews a month (ARGS=--quick)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required; set PYTHON=python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

# The workbench's browser tests drive Debian's chromium (Playwright cannot download one here).
CHROMIUM := /usr/bin/chromium
browser:
	@if [ -x $(CHROMIUM) ]; then \
		echo "chromium: $(CHROMIUM)"; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get install -y chromium || (apt-get update && apt-get install -y chromium); \
	else \
		echo "$(CHROMIUM) is missing and the browser tests will be skipped; as root run:"; \
		echo "    apt-get install -y chromium"; \
	fi

run: install
	$(BIN)/detector simulate $(OUT) --dossiers $(DOSSIERS) --seed $(SEED)
	$(BIN)/detector validate $(OUT)/data --json $(OUT)/quality.json
	$(BIN)/detector train $(OUT)/data --labels $(OUT)/labels.csv --out $(OUT)/model
	DETECTOR_STATE_DIR=$(OUT)/state $(BIN)/detector score $(OUT)/data --model $(OUT)/model \
		--out $(OUT)/scores.csv --at review --details --to-db
	$(BIN)/detector report $(OUT)/data --model $(OUT)/model --out $(OUT)/unit_report.csv
	@echo
	@echo "Outputs:"
	@echo "  data folder (contract format): $(OUT)/data/"
	@echo "  labels (kept outside data/):   $(OUT)/labels.csv"
	@echo "  data-quality report (JSON):    $(OUT)/quality.json"
	@echo "  model and its card:            $(OUT)/model/"
	@echo "  scores with reasons:           $(OUT)/scores.csv"
	@echo "  unit x month report:           $(OUT)/unit_report.csv (officers: $(OUT)/unit_report_officers.csv)"
	@echo "  case store (flagged dossiers): $(OUT)/state/detector.db"
	@DETECTOR_STATE_DIR=$(OUT)/state $(BIN)/python -m service.demo $(OUT) $(PORT)
	DETECTOR_API_KEYS_FILE=$(OUT)/api_keys.txt DETECTOR_STATE_DIR=$(OUT)/state \
		$(BIN)/detector serve --data $(OUT)/data --model $(OUT)/model --port $(PORT)

test: install browser
	$(BIN)/ruff check features detector service tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadscope

test-fast: install
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadscope -m "not slow"

lint: install
	$(BIN)/ruff check features detector service tests bench
	$(BIN)/ruff format --check features detector service tests bench
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/bench_simulate.py
	$(BIN)/python bench/bench_graph.py --dossiers 1000000
	$(BIN)/python bench/bench_detect.py

bench-scale: install
	$(BIN)/python bench/bench_scale.py $(ARGS)

bench-api: install
	$(BIN)/python bench/bench_api.py $(ARGS)

bench-cases: install
	$(BIN)/python bench/bench_cases.py $(ARGS)

bench-feedback: install
	$(BIN)/python bench/feedback.py $(ARGS)

bench-day-one: install
	$(BIN)/python bench/day_one.py $(ARGS)

bench-actors: install
	$(BIN)/python bench/actor_cases.py $(ARGS)

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
