# Two commands on a fresh machine with Python 3 and root:
#   make serve   creates .venv if missing, installs, serves on http://127.0.0.1:8000
#   make test    creates .venv if missing, installs with test extras and Debian's
#                chromium if absent, runs lint and the whole suite (browser included)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: serve test install install-test chromium lint bench clean

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { rm -rf $(VENV); \
	  echo "python3 -m venv failed: installing Debian's python3-venv"; \
	  apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e .

install-test: $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'

chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }

serve: install
	$(BIN)/bpttlab serve --host $(HOST) --port $(PORT)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: install-test chromium lint
	$(BIN)/pytest

bench: install-test chromium
	$(BIN)/python benchmarks/profile_vs_chain.py
	$(BIN)/python benchmarks/lstm_vs_chain.py
	$(BIN)/python benchmarks/api_latency.py
	$(BIN)/python benchmarks/first_visit.py
	$(BIN)/python benchmarks/load.py
	$(BIN)/python benchmarks/health_under_load.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info build dist
