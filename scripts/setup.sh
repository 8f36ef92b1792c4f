#!/usr/bin/env bash
# One command from a fresh clone to a working checkout: Debian packages when missing, the Python virtual
# environment with every pinned dependency and the project's packages, and the npm packages.
# Safe to run again: each step skips what is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}

step() { printf '\n==> %s\n' "$*"; }

# Debian packages the tests and tools need, installed only when missing.
APT_PACKAGES=(nodejs npm mosquitto chromium docker-compose)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  case $pkg in
    nodejs) command -v node >/dev/null 2>&1 || missing+=("$pkg") ;;
    npm) command -v npm >/dev/null 2>&1 || missing+=("$pkg") ;;
    mosquitto) [ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1 || missing+=("$pkg") ;;
    chromium) command -v chromium >/dev/null 2>&1 || missing+=("$pkg") ;;  # the browser tests' browser
    docker-compose) command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 \
      || missing+=("$pkg") ;;  # validates docker-compose.yaml (no engine needed)
    *) dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg") ;;
  esac
done
if ((${#missing[@]})); then
  step "Installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

step "Python environment (.venv)"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e chaincode/runtime -e chaincode -e gateway -e meter-edge

step "npm packages (bench/node-records: the Node chaincode the benchmark compares against; tests/postman: newman)"
(cd bench/node-records && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/postman && npm ci --no-audit --no-fund --loglevel=error)

step "Web app (web/: npm packages, then the production build into web/dist, which the gateway serves)"
(cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)

step "Secrets for docker-compose (.env: CA and CouchDB admin passwords, random, git-ignored)"
bash network/compose/gen-env.sh

step "Hyperledger Fabric binaries"
if FABRIC_STATUS=$(.venv/bin/python -m tests.fabric.locate 2>&1); then
  echo "found: $FABRIC_STATUS"
else
  echo "$FABRIC_STATUS"
  echo "The Fabric tests will be skipped with this reason. To run them, install Fabric 2.5 binaries and their"
  echo "config/ folder (the release layout bin/ + config/) and put bin/ on PATH or set FABRIC_BIN."
fi

printf '\nSet-up complete. Run the tests with: make test\n'
