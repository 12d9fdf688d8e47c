# The two commands a new user needs: `make run` and `make test`.
# The first interpreter that really runs and is 3.11 or newer (pyenv shims may exist but not run).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: run demo test unit bench synth bootstrap diff deploy clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "csms needs Python 3.11 or newer (python3)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run: $(BIN)/python pyproject.toml
	@echo "Installing csms and its dependencies into $(VENV) (the first time takes a minute or two)..."
	$(PIP) install -e '.[local]'
	@touch $@

$(VENV)/.test: $(BIN)/python pyproject.toml
	@echo "Installing csms with its test and CDK dependencies into $(VENV) (the first time takes a few minutes)..."
	$(PIP) install -e '.[dev,cdk]'
	@touch $@ $(VENV)/.run $(VENV)/.cdk

$(VENV)/.cdk: $(BIN)/python pyproject.toml
	@echo "Installing csms with the CDK into $(VENV) (the first time takes a minute or two)..."
	$(PIP) install -e '.[cdk]'
	@touch $@

# The CDK CLI, pinned in package.json; only deploying needs it.
node_modules/.bin/cdk: package.json package-lock.json
	npm ci --no-fund --no-audit
	@touch $@

run: $(VENV)/.run
	$(BIN)/csms run

# The local stack with five simulated chargers, every other one OCPP 2.0.1 (--protocol mixed), compressed so that sessions, invoices and incidents appear
# within a minute, and the analytics exports within seconds of them. The stack runs in a session of its own (a portable setsid), so Ctrl-C reaches the fleet
# first, which ends its sessions and clears its faults; then the stack is stopped and its data kept. The key reaches
# the fleet in its environment, not on its command line, where `ps` would show it to every user.
DEMO_LOG := .csms/demo-stack.log
DEMO_FLEET := --chargers 5 --duration 1h --sessions-per-hour 60 --session-duration 40s --sample-interval 5s \
	--faults-per-hour 12 --fault-duration 30s --id-prefix DEMO- --protocol mixed
demo: $(VENV)/.run
	@mkdir -p .csms
	@CSMS_EXPORT_WINDOW_S=10 CSMS_SNAPSHOT_S=60 \
		$(BIN)/python -c 'import os, sys; os.setsid(); os.execv(sys.argv[1], sys.argv[1:])' $(BIN)/csms run \
		>$(DEMO_LOG) 2>&1 & stack=$$!; \
	trap 'kill -INT $$stack 2>/dev/null; wait $$stack; echo "demo: the stack stopped; its log is $(DEMO_LOG)"' EXIT; \
	trap 'exit 130' INT TERM; \
	until grep -qs '^CSMS is running' $(DEMO_LOG); do \
		kill -0 $$stack 2>/dev/null || { cat $(DEMO_LOG); exit 1; }; sleep 0.5; done; \
	key=$$(sed -n 's/^ *operator API key *//p' $(DEMO_LOG)); \
	ocpp=$$(sed -n 's|^ *OCPP websocket *\(ws://[^ ]*\)/{charge_point_id}.*|\1|p' $(DEMO_LOG)); \
	rest=$$(sed -n 's|^ *REST API *\(http://[^ ]*\).*|\1|p' $(DEMO_LOG)); \
	echo "The local stack runs (log: $(DEMO_LOG)); five simulated chargers start (three OCPP 1.6, two 2.0.1). Watch, in another terminal:"; \
	for resource in sessions invoices incidents chargers; do \
		echo "  curl -H 'Authorization: Bearer $$key' $$rest/$$resource"; done; \
	echo "or browse $$rest/docs with that key; after a few minutes, .venv/bin/csms analytics report --out report.html"; \
	echo "draws the exports (docs/analytics.md). Ctrl-C stops the fleet, then the stack."; \
	CSMS_API_KEY=$$key $(BIN)/csms simulate --url $$ocpp --rest-url $$rest $(DEMO_FLEET)

# Every benchmark figure in one run (about 20 minutes; docs/performance.md): bench/results/latest.json and a table.
# ARGS passes options, e.g. make bench ARGS='--chargers 200 --steady 60' or ARGS=--no-load.
bench: $(VENV)/.run
	$(BIN)/python -m bench $(ARGS)

# The end-to-end suite beside the others, one per core (tests/both_cores.py).
test: $(VENV)/.test
	$(BIN)/ruff check -q .
	$(BIN)/python -m tests.both_cores -q

unit: $(VENV)/.test
	$(BIN)/python -m pytest -q tests/unit

# The CloudFormation templates (the stack and its nested stacks) in cdk.out/, without AWS credentials or the CDK CLI.
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
