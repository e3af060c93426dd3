# sdxl-inf2 — two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TINY   := model_artifacts/tiny-sdxl
PORT   ?= 8080

.PHONY: install demo test lint unit clean tiny-model bench soak

install: $(STAMP)  ## .venv with everything for development and tests

# torch 2.13.0 (CPU) first: nothing in pyproject pins torch, so the Neuron image keeps its own.
$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert (3, 10) <= sys.version_info[:2] < (3, 12), "need Python 3.10 or 3.11 (optimum-neuron 0.4.5)"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(TINY)/manifest.json: $(STAMP)
	$(BIN)/sdxl-inf2 tiny-model $(TINY)

tiny-model: $(TINY)/manifest.json  ## build the tiny offline SDXL once

demo: $(TINY)/manifest.json  ## serve the tiny SDXL on :$(PORT) and print a working curl line
	SAGEMAKER_BIND_TO_PORT=$(PORT) scripts/demo.sh $(TINY)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy container compile sdxl_inf2 deploy bench serve.py

test: $(STAMP) lint  ## every test (real servers on free loopback ports)
	$(BIN)/pytest -m "not slow"

bench: $(TINY)/manifest.json  ## every benchmark (a few minutes); tables printed, JSON in bench/results/
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench.overhead
	$(BIN)/python -m bench.dispatch
	$(BIN)/python -m bench.peer
	$(BIN)/python -m bench.encode
	$(BIN)/python -m bench.cache_metrics

soak: $(TINY)/manifest.json  ## 10 minutes of steady load: 0 errors, RSS growth < 5% per process
	$(BIN)/python -m bench.soak --minutes 10

clean:
	rm -rf $(VENV) $(TINY) .pytest_cache .mypy_cache .ruff_cache *.egg-info
