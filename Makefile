# Every entry point of VPP Ledger. `make help` lists them.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
NETWORK := network/network.sh

.PHONY: help setup test test-fast lint bench validate-battery network-up network-down deploy-cc deploy-conformance clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

setup: ## install everything: Debian packages when missing, .venv with pinned Python packages, npm packages
	@bash scripts/setup.sh

test: ## the whole test suite (Fabric tests run when Fabric 2.5 binaries are on PATH or in $$FABRIC_BIN)
	$(VENV)/bin/pytest

test-fast: ## the tests that need no external system
	$(VENV)/bin/pytest -m "not fabric and not slow"

lint: ## ruff over the whole tree
	$(VENV)/bin/ruff check .

bench: ## all benchmarks, or one: make bench NAME=<name>; results in bench/results/ and bench/RESULTS.md
	PYTHONPATH=chaincode $(PY) -m bench.run $(NAME)

validate-battery: ## the Tstorage burn algorithm against NREL's thevenin model (30 days, 3 chemistries)
	PYTHONPATH=chaincode $(PY) -m vpp_contract.validation.battery_validation

# docker compose (plugin) or docker-compose (v1), whichever the machine has
COMPOSE := $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
DOCKER_ENGINE := $(shell docker info >/dev/null 2>&1 && echo yes)

network-up: ## Fabric network: docker-compose.yaml when a Docker engine runs, else natively (3 Raft orderers, Org1/Org2 peers, TLS, LevelDB), channel created
ifeq ($(DOCKER_ENGINE),yes)
	bash network/compose/gen-env.sh && $(COMPOSE) up -d --build
else
	$(NETWORK) up && $(NETWORK) createChannel
endif

network-down: ## stop the network (compose down, or every native process by its pid) and remove the network's work folder
ifeq ($(DOCKER_ENGINE),yes)
	$(COMPOSE) down
endif
	$(NETWORK) down

deploy-cc: ## deploy the energy contract (vpp, served by fabric-ccaas, one server per org) to the native network; compose deploys it itself
	$(NETWORK) deployCCAAS -ccn vpp -ccdir chaincode/vpp_contract -ccperorg \
	  -ccstart "exec $(CURDIR)/$(VENV)/bin/fabric-ccaas --app-dir $(CURDIR)/chaincode vpp_contract.contract:chaincode"

deploy-conformance: ## deploy the conformance chaincode (every stub call) to the native network
	$(NETWORK) deployCCAAS -ccn conformance -ccdir chaincode/examples -cccg chaincode/examples/collections.json \
	  -ccstart "exec $(CURDIR)/$(VENV)/bin/fabric-ccaas conformance:chaincode"

.PHONY: demo demo-test
demo: ## the whole system on this machine, no Docker (ARGS="--sites 3 --factor 60 --days-back 2 --port 8080 --reset"; "--backend fabric": on the native Fabric network); see docs/DEMO.md
	$(PY) scripts/demo $(ARGS)

demo-test: ## the demo's end-to-end tests: ten simulated days, a restart, everything balanced, on the embedded ledger (about 2.5 minutes) and on the native Fabric network when its binaries are present (about 5)
	$(VENV)/bin/pytest tests/e2e -q

.PHONY: demo-attach
demo-attach: ## onboard a new owner's site onto the running demo (ARGS="--site S --pv A --battery A --load A", or "--preview"); see docs/DEMO.md
	$(PY) scripts/demo attach $(ARGS)

.PHONY: fuzz
fuzz: ## coverage-guided fuzzing of every parser (atheris): make fuzz SECONDS=600 [TARGETS="mbus dsmr_p1"] [JOBS=2]
	PYTHONPATH=chaincode $(PY) -m tests.fuzz.run --seconds $(or $(SECONDS),60) --jobs $(or $(JOBS),1) $(TARGETS)

clean: ## remove generated state (network work folder, caches); keeps .venv
	-$(NETWORK) down
	rm -rf .pytest_cache .ruff_cache .hypothesis bench/work
