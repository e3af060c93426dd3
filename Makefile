# sdxl-inf2 — two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TINY   := model_artifacts/tiny-sdxl
TINY1024 := model_artifacts/tiny-sdxl-1024
PORT   ?= 8080
# IMAGE_TEST=0 leaves the container image test out of `make test` (CodeBuild builds the image with
# Docker instead). With 1, `make test` installs buildah/debootstrap where it can and runs it.
IMAGE_TEST ?= 1
IMAGE_STORE := build/image-test
IMAGE_TESTS := tests/image tests/test_image.py tests/test_buildspec.py tests/buildspec_standin.py \
	tests/test_smoke_script.py tests/docker_standin.py tests/test_pins.py tests/test_dockerfile.py

.PHONY: install demo test lint docs unit clean tiny-model bench soak image-tools image-test

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

$(TINY1024)/manifest.json: $(STAMP)  # the same tiny SDXL allowing 1024x1024, for bench/encode_overlap
	$(BIN)/sdxl-inf2 tiny-model $(TINY1024) --size 1024x1024

tiny-model: $(TINY)/manifest.json  ## build the tiny offline SDXL once

demo: $(TINY)/manifest.json  ## serve the tiny SDXL on :$(PORT) and print a working curl line
	SAGEMAKER_BIND_TO_PORT=$(PORT) scripts/demo.sh $(TINY)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy sdxl_inf2 bench serve.py image docs/hooks.py $(IMAGE_TESTS)
	$(BIN)/hadolint Dockerfile
	$(BIN)/shellcheck scripts/*.sh tests/image/*.sh .ci/run

docs: $(STAMP)  ## the documentation site (mkdocs.yml), built with --strict into build/docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

ifeq ($(IMAGE_TEST),0)
test: $(STAMP) lint docs  ## every test (real servers on free loopback ports; the image test unless IMAGE_TEST=0)
	$(BIN)/pytest -m "not slow and not image"
else
test: $(STAMP) lint docs
	scripts/image-tools.sh --optional
	$(BIN)/pytest -m "not slow"
endif

bench: $(TINY)/manifest.json $(TINY1024)/manifest.json  ## every benchmark (~15 minutes); tables printed, JSON in bench/results/
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench.overhead
	$(BIN)/python -m bench.dispatch
	$(BIN)/python -m bench.peer
	$(BIN)/python -m bench.encode
	$(BIN)/python -m bench.encode_overlap --model $(TINY1024)
	$(BIN)/python -m bench.cache_metrics
	$(BIN)/python -m bench.local_endpoint
	$(BIN)/python -m bench.simulate
	$(BIN)/python -m bench.worker_memory --model $(TINY)

soak: $(TINY)/manifest.json  ## 10 minutes of steady load: 0 errors, RSS growth < 5% per process
	$(BIN)/python -m bench.soak --minutes 10

image-tools:  ## buildah + debootstrap for the image test (as root, apt)
	scripts/image-tools.sh

image-test: $(STAMP) image-tools  ## build the real Dockerfile with buildah on a stand-in base and run serve in it
	SDXL_IMAGE_TEST=require $(BIN)/pytest -m image tests/test_image.py

clean:  # buildah first unmounts and removes any container left in the image test's store
	@if command -v buildah >/dev/null && [ -d $(IMAGE_STORE)/storage ]; then \
		buildah --root $(IMAGE_STORE)/storage --runroot $(IMAGE_STORE)/run --storage-driver vfs rm --all >/dev/null || true; fi
	rm -rf $(VENV) $(TINY) $(TINY1024) $(IMAGE_STORE) build/docs .pytest_cache .mypy_cache .ruff_cache *.egg-info
