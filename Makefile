# Set-up and the two entry points of the README: `make demo` and `make test`.
# Both create (or reuse) .venv and install what they need. Torch comes first,
# from TORCH_SPEC, so that the project's `torch>=2.2` range is already met and
# pip never resolves a multi-GB CUDA build. A GPU user installs their own torch
# into .venv beforehand; an importable torch is never replaced.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.aekit-installed

.PHONY: demo test test-all bench browser clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install "$(TORCH_SPEC)"
	$(BIN)/pip install -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/aekit demo

test: $(STAMP) browser
	$(BIN)/python -m pytest

# The slow checks too: MNIST-sized runs, found through AEKIT_MNIST_HOME.
test-all: $(STAMP) browser
	$(BIN)/python -m pytest --runslow

# Headless Chromium for the browser tests (report, explorer). Best effort: without root or a
# package mirror the browser tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || \
	  { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) ; } || \
	  echo "chromium not installed: the browser tests (report, explorer) will skip"

bench: $(STAMP)
	$(BIN)/pip install -e ".[bench]"

clean:
	rm -rf $(VENV) .pytest_cache
