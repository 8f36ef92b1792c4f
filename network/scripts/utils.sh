#!/usr/bin/env bash
# Logging, timing and polling helpers for network.sh (sourced, not run).

# Exit codes of network.sh (also used by scripts/netctl.py).
readonly EXIT_OK=0
readonly EXIT_FAIL=1      # a Fabric command failed, the network is not up, ...
readonly EXIT_USAGE=2     # unknown sub-command or flag, missing required flag
readonly EXIT_PREREQ=3    # Fabric binaries / config / Python+PyYAML missing, port in use
readonly EXIT_TIMEOUT=4   # a wait (health, channel, chaincode readiness) timed out

if [ -t 1 ]; then
    C_RESET=$'\033[0m'; C_RED=$'\033[0;31m'; C_GREEN=$'\033[0;32m'; C_BLUE=$'\033[0;34m'; C_YELLOW=$'\033[1;33m'
else
    C_RESET=; C_RED=; C_GREEN=; C_BLUE=; C_YELLOW=
fi

println()   { echo -e "$*"; }
infoln()    { println "${C_BLUE}$*${C_RESET}"; }
successln() { println "${C_GREEN}$*${C_RESET}"; }
warnln()    { println "${C_YELLOW}$*${C_RESET}" >&2; }
errorln()   { println "${C_RED}ERROR: $*${C_RESET}" >&2; }
# fatalln MESSAGE [EXIT_CODE]
fatalln()   { errorln "$1"; exit "${2:-$EXIT_FAIL}"; }

# Seconds since the epoch with sub-second precision (bash >= 5 has EPOCHREALTIME).
now() {
    if [ -n "${EPOCHREALTIME:-}" ]; then echo "${EPOCHREALTIME/,/.}"; else date +%s.%N; fi
}
# elapsed START -> "12.3"
elapsed() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }'; }
# over_deadline START TIMEOUT_SECONDS -> exit status 0 when the timeout has passed
over_deadline() { awk -v s="$1" -v e="$(now)" -v t="$2" 'BEGIN { exit !(e - s > t) }'; }

# Phases are timed and reported as "<phase> done in N.Ns"; PHASE_TIMES collects them
# for the summary line of each sub-command.
PHASE_TIMES=()
phase_begin() { PHASE_NAME="$1"; PHASE_START=$(now); infoln "--> $1"; }
phase_end() {
    local t; t=$(elapsed "$PHASE_START")
    PHASE_TIMES+=("${PHASE_NAME}=${t}s")
    successln "    ${PHASE_NAME} done in ${t}s"
}

# run CMD...: echo the command when VERBOSE=true, then run it.
run() {
    if [ "${VERBOSE:-false}" = "true" ]; then println "    + $*" >&2; fi
    "$@"
}

# retry_until TIMEOUT DESCRIPTION CMD...: run CMD until it exits 0 or TIMEOUT seconds
# pass. Its last output is kept in LAST_OUTPUT; on timeout it is printed and the
# function returns EXIT_TIMEOUT.
retry_until() {
    local timeout="$1" desc="$2" start attempts=0 rc
    shift 2
    start=$(now)
    while :; do
        attempts=$((attempts + 1))
        LAST_OUTPUT=$(run "$@" 2>&1)
        rc=$?
        if [ "$rc" -eq 0 ]; then
            return 0
        fi
        if over_deadline "$start" "$timeout"; then
            errorln "${desc}: gave up after ${timeout}s (${attempts} attempts, last exit code ${rc}); last output:"
            println "$LAST_OUTPUT" | tail -n 20 | sed 's/^/    /' >&2
            return "$EXIT_TIMEOUT"
        fi
        sleep "${POLL_INTERVAL:-0.5}"
    done
}
