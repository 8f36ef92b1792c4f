# Every entry point of VPP Ledger. `make help` lists them.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
NETWORK := network/network.sh

.PHONY: help setup test test-fast lint bench validate-battery network-up network-down deploy-cc clean

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

network-up: ## native Fabric network (1 Raft orderer, 2 peer orgs, TLS) with the channel created
	$(NETWORK) up && $(NETWORK) createChannel

network-down: ## stop every network process by its pid and remove the network's work folder
	$(NETWORK) down

deploy-cc: ## deploy the conformance chaincode (served by fabric-ccaas) to the running network
	$(NETWORK) deployCCAAS -ccn conformance -ccdir chaincode/examples -cccg chaincode/examples/collections.json \
	  -ccstart "exec $(CURDIR)/$(VENV)/bin/fabric-ccaas conformance:chaincode"

clean: ## remove generated state (network work folder, caches); keeps .venv
	-$(NETWORK) down
	rm -rf .pytest_cache .ruff_cache .hypothesis bench/work
