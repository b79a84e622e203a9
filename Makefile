# DCGAN research kit. `make train` and `make test` set up the environment on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
ARGS   ?=

.PHONY: help install data train test test-slow test-full bench bench-quality evaluate lint format clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: $(STAMP)  ## create .venv and install the package with its dev tools and extras (once)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

data: $(STAMP)  ## get the dataset of a run: local copy, download, Debian's package (apt-get), else one line
	$(BIN)/python scripts/get_data.py $(ARGS)

train: data  ## train the default DCGAN (extra Hydra overrides: make train ARGS="trainer.max_steps=100")
	$(BIN)/python train.py $(ARGS)

test: $(STAMP)  ## run the test suite (everything not marked slow)
	$(BIN)/pytest -q -m "not slow" $(ARGS)

test-slow: $(STAMP)  ## run only the slow tests
	$(BIN)/pytest -q -m slow $(ARGS)

test-full: $(STAMP)  ## run every test, slow ones included
	$(BIN)/pytest -q $(ARGS)

bench: $(STAMP)  ## images/s of the training step vs a plain PyTorch loop (ratio line; --gpu on a GPU)
	$(BIN)/python scripts/bench.py $(ARGS)

bench-quality: $(STAMP)  ## domain FD of the default and the best Fashion-MNIST setting vs the real-data floor
	$(BIN)/python scripts/bench_quality.py $(ARGS)

evaluate: $(STAMP)  ## scores of a checkpoint: make evaluate ARGS="ckpt_path=... metrics=[fid,kid,is]"
	$(BIN)/python evaluate.py $(ARGS)

lint: $(STAMP)  ## ruff check + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)  ## ruff fix + format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:  ## remove caches and run outputs (keeps .venv)
	rm -rf .pytest_cache .ruff_cache src/*.egg-info lightning_logs wandb multirun
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
	find outputs -mindepth 1 -not -name .gitkeep -prune -exec rm -rf {} +
