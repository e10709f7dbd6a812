# mlserve: two commands on a fresh machine: `make up` serves, `make test` tests.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8080

.PHONY: install system-packages up test lint format bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python >= 3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch is pinned first so nothing can pull a CUDA build in its place.
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[torch,tabular,tracking,dev]"
	touch $(STAMP)

# redis-server (tests start their own), prometheus (the observability test), chromium and
# its driver (drift reports are opened in a real headless browser).
system-packages:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

up: install
	$(BIN)/mlserve up --port $(PORT)

test: install system-packages
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
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
