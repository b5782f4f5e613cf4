# Two commands on a fresh machine with Python 3 and root:
#   make serve   creates .venv if missing, installs, serves on http://127.0.0.1:8000
#   make test    creates .venv if missing, installs with test extras and Debian's
#                chromium if absent, npm's axe-core for the accessibility tests, runs
#                lint and the whole suite (browser included)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
# axe-core, a test dependency from the npm registry (tests/browser/test_a11y.py), in a
# git-ignored folder; the stamp names the version, so changing AXE_VERSION reinstalls.
AXE_VERSION := 4.14.1
AXE_DIR     := .cache/axe
AXE_STAMP   := $(AXE_DIR)/axe-core-$(AXE_VERSION).installed

# bench's PyTorch comparisons run under a Python that has torch (not a dependency), e.g.
#   make bench TORCH_PYTHON=/tmp/torchvenv/bin/python; without it they measure BPTT Lab alone
TORCH_PYTHON ?=

.PHONY: serve test install install-test chromium axe lint bench clean

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

axe: $(AXE_STAMP)

$(AXE_STAMP):
	@command -v npm >/dev/null 2>&1 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm; }
	rm -rf $(AXE_DIR) && mkdir -p $(AXE_DIR)
	npm install --prefix $(AXE_DIR) --no-save --no-package-lock --no-audit --no-fund \
	  --loglevel=error axe-core@$(AXE_VERSION)
	touch $@

serve: install
	$(BIN)/bpttlab serve --host $(HOST) --port $(PORT)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: install-test chromium axe lint
	$(BIN)/pytest

bench: install-test chromium
	$(BIN)/python benchmarks/profile_vs_chain.py
	$(BIN)/python benchmarks/lstm_vs_chain.py
	$(BIN)/python benchmarks/api_latency.py
	$(BIN)/python benchmarks/first_visit.py
	$(BIN)/python benchmarks/load.py
	$(BIN)/python benchmarks/health_under_load.py
	$(BIN)/python benchmarks/drag.py
	$(BIN)/python benchmarks/network_maps.py
	$(BIN)/python benchmarks/network_cost.py
	$(BIN)/python benchmarks/model_scale.py $(if $(TORCH_PYTHON),--torch-python $(TORCH_PYTHON))
	$(BIN)/python benchmarks/train.py
	$(BIN)/python benchmarks/train_speed.py \
	  $(if $(TORCH_PYTHON),--torch-python $(TORCH_PYTHON),--numpy-only)

clean:
	rm -rf $(VENV) $(AXE_DIR) .pytest_cache .ruff_cache *.egg-info build dist
