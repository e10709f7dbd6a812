# mlserve: two commands on a fresh machine: `make up` serves, `make test` tests.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8080

.PHONY: install system-packages perf-analyzer up test lint format bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python >= 3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch is pinned first so nothing can pull a CUDA build in its place.
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[torch,tabular,tracking,dev]"
	# tritonserver's wheel without its numpy<2 requirement (only its binaries run), and
	# numpy 1.26 alone for Triton's Python backend stub (mlserve/triton/stub_env.py).
	$(BIN)/pip install --quiet --no-deps "nvidia-pytriton==0.7.0"
	$(BIN)/pip install --quiet --no-deps --upgrade --target $(VENV)/triton-stub-site "numpy==1.26.4"
	touch $(STAMP)

# redis-server (tests start their own), prometheus (the observability test), chromium and
# its driver (drift reports are opened in a real headless browser), haproxy (the replica
# test puts two control planes behind it), wrk (the C load generator of
# benchmarks/workers_scaling.py).
system-packages:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing="$$missing haproxy"; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The real perf_analyzer: the binary ships in the tritonclient[all]==2.40.0 wheel (its own
# venv: it pins protobuf<4), needs Debian's libb64 and libcudart.so.12 from PyPI's CUDA
# runtime package (even against a CPU-only Triton). mlserve/benchmarking/perf_analyzer.py
# finds it and sets LD_LIBRARY_PATH; `bin/perf_analyzer ARGS` runs it by hand.
PERF_VENV ?= .venv-perf
PERF_STAMP := $(PERF_VENV)/.installed

perf-analyzer: $(PERF_STAMP)

$(PERF_STAMP):
	@[ -e /usr/lib/x86_64-linux-gnu/libb64.so.0d ] || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends libb64-0d; }
	test -x $(PERF_VENV)/bin/python || $(PYTHON) -m venv $(PERF_VENV)
	$(PERF_VENV)/bin/pip install --quiet "tritonclient[all]==2.40.0" "nvidia-cuda-runtime-cu12==12.9.79"
	PERF_VENV=$(PERF_VENV) bin/perf_analyzer --version
	touch $(PERF_STAMP)

up: install
	$(BIN)/mlserve up --port $(PORT)

test: install system-packages perf-analyzer
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff format --check mlserve tests benchmarks
	$(BIN)/ruff check mlserve tests benchmarks
	$(BIN)/mypy mlserve

format: install
	$(BIN)/ruff format mlserve tests benchmarks
	$(BIN)/ruff check --fix mlserve tests benchmarks

bench: install
	$(BIN)/python benchmarks/compare_serving.py --no-queue-policy --rounds 3 $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(PERF_VENV) var .pytest_cache .mypy_cache .ruff_cache
