# The two commands a new user needs: `make run` and `make test`.
# The first interpreter that really runs and is 3.11 or newer (pyenv shims may exist but not run).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: run test unit synth bootstrap diff deploy clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "csms needs Python 3.11 or newer (python3)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run: $(BIN)/python pyproject.toml
	$(PIP) install -e '.[local]'
	@touch $@

$(VENV)/.test: $(BIN)/python pyproject.toml
	$(PIP) install -e '.[dev,cdk]'
	@touch $@ $(VENV)/.run $(VENV)/.cdk

$(VENV)/.cdk: $(BIN)/python pyproject.toml
	$(PIP) install -e '.[cdk]'
	@touch $@

# The CDK CLI, pinned in package.json; only deploying needs it.
node_modules/.bin/cdk: package.json package-lock.json
	npm ci --no-fund --no-audit
	@touch $@

run: $(VENV)/.run
	$(BIN)/csms run

test: $(VENV)/.test
	$(BIN)/ruff check -q .
	$(BIN)/python -m pytest -q

unit: $(VENV)/.test
	$(BIN)/python -m pytest -q tests/unit

# The CloudFormation template in cdk.out/, without AWS credentials or the CDK CLI.
synth: $(VENV)/.cdk
	$(BIN)/python app.py

# Deploying needs AWS credentials; ARGS passes options, e.g. ARGS='-c stage=prod -c alarm_email=ops@example.com'.
bootstrap: $(VENV)/.cdk node_modules/.bin/cdk
	npx cdk bootstrap $(ARGS)

diff: $(VENV)/.cdk node_modules/.bin/cdk
	npx cdk diff $(ARGS)

deploy: $(VENV)/.cdk node_modules/.bin/cdk
	npx cdk deploy $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache cdk.out .cache node_modules
