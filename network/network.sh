#!/usr/bin/env bash
#
# VPP Ledger native test network: three Raft orderers (ORDERER_COUNT) and two peer
# organisations (Org1MSP = the VPP operator, Org2MSP = the utility) on 127.0.0.1 with
# TLS, run from Hyperledger Fabric 2.5 binaries the user already has — no Docker.
# Shaped like fabric-samples' test-network/network.sh; docker-compose.yaml runs the
# same topology in containers.
#
#   ./network.sh up                         start orderers + peers (cryptogen, configs, health)
#   ./network.sh createChannel [-c name]    create the channel and join every node
#   ./network.sh deployCCAAS -ccn name -ccstart 'cmd' [-ccdir dir] ...
#   ./network.sh status
#   ./network.sh startNode <node>           start one stopped node again (after a crash or kill -9)
#   ./network.sh stop / start               stop every process, keep the work folder / run it again
#   ./network.sh down                       stop everything, remove the work folder
#
# Run ./network.sh -h for every flag; defaults are in network.config.

NETWORK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export NETWORK_DIR
# shellcheck source=scripts/utils.sh
. "${NETWORK_DIR}/scripts/utils.sh"

# Node names (NODES, ORDERERS: set by setNodes once the settings are read); each has
# <work>/pids/<name>.pid and <work>/logs/<name>.log.
MARKER_FILE=".vpp-network"

printHelp() {
    cat <<EOF
Usage:
  network.sh <sub-command> [flags]

Sub-commands:
  up               generate crypto (cryptogen) and node configs, start the Raft orderers and
                   both peers as background processes, wait until each /healthz is OK
  up createChannel the same, then createChannel
  createChannel    build the channel genesis block (configtxgen), join every orderer
                   (osnadmin; each an active consenter) and both peers, wait until both
                   peers have height >= 1
  deployCCAAS      package, install, approve (both orgs), commit a chaincode-as-a-service,
                   start its server process, wait until it answers
  status           processes, health, channel heights, chaincodes; exit 0 only if all nodes run
  startNode NODE   start one stopped node of a running network again, on its own ledger and config:
                   orderer, orderer2, orderer3, peer0.org1, peer0.org2 (waits for /healthz), or a
                   chaincode server cc-<name> / cc-<name>-org1 / cc-<name>-org2 with the command,
                   package id and address deployCCAAS gave it (fault tests: kill -9, then startNode)
  stop             stop every process of this network (as down does), keep the work folder: its
                   crypto, ledgers and chaincode packages stay for start
  start            run a stopped network again from its work folder: the same ports and ledgers,
                   orderers and peers (waits for health, a Raft leader per channel), then the
                   chaincode servers deployCCAAS started (waits until each answers on both peers)
  down             stop every process of this network (SIGTERM, then SIGKILL), remove the work folder

Flags (defaults: network.config; environment variables of the same name override them):
  -c <channel>      channel name                                   CHANNEL_NAME=${CHANNEL_NAME}
  -bt <duration>    orderer BatchTimeout for a new channel          BATCH_TIMEOUT=${BATCH_TIMEOUT}
  -mmc <n>          orderer BatchSize.MaxMessageCount               MAX_MESSAGE_COUNT=${MAX_MESSAGE_COUNT}
  -ccn <name>       chaincode name (deployCCAAS, required)
  -ccv <version>    chaincode version                              CC_VERSION=${CC_VERSION}
  -ccs <seq|auto>   chaincode definition sequence                  CC_SEQUENCE=${CC_SEQUENCE}
  -ccep <policy>    signature policy, e.g. "OR('Org1MSP.peer','Org2MSP.peer')"; NA = channel
                    default (both orgs endorse)                    CC_END_POLICY=${CC_END_POLICY}
  -cccg <file>      private data collections config JSON; NA = none  CC_COLL_CONFIG=${CC_COLL_CONFIG}
  -ccaddr <h:p>     where the chaincode server listens (and peers dial); default 127.0.0.1:<free
                    port from CCAAS_PORT_BASE=${CCAAS_PORT_BASE}>, kept across redeploys of a name
  -ccstart <cmd>    shell command starting the chaincode server; it gets CHAINCODE_ID (package id)
                    and CHAINCODE_SERVER_ADDRESS (host:port) in its environment. NA = do not
                    start one (you run it yourself; the values are printed)
  -ccdir <dir>      working directory of -ccstart (alias -ccp); a META-INF/ in it (CouchDB
                    indexes) is packaged. Default: the current directory
  -ccqc <json>      readiness query run on both peers after commit; NA = only querycommitted
                    (default: '{"Args":["org.hyperledger.fabric:GetMetadata"]}')
  -ccperorg         one chaincode server per organisation: a package per org (same label, its
                    own connection.json address), installed on and approved by that org with its
                    own package id; two servers from -ccstart (pids/cc-<name>-org{1,2}.pid).
                    -ccaddr then takes two addresses: <org1 h:p>,<org2 h:p>  CC_PER_ORG=${CC_PER_ORG}
  -verbose          print every command
  -h                this help

Environment only:
  NETWORK_WORK_DIR  work folder for everything generated (default network/work): ${NETWORK_WORK_DIR}
  NETWORK_PORT_BASE first port of the 40-port block used (default 7050): ${NETWORK_PORT_BASE}
  ORDERER_COUNT     Raft orderers at up: 1, 2 or 3 (default 3): ${ORDERER_COUNT}
  FABRIC_BIN        dir with peer, orderer, configtxgen, osnadmin, cryptogen (else PATH)
  FABRIC_CFG_PATH   dir with Fabric's core.yaml + orderer.yaml (else \$FABRIC_BIN/../config,
                    else <dir of peer>/../config)
  NETWORK_PYTHON    Python 3 with PyYAML (default: repo .venv, else python3)

Exit codes: 0 ok, 1 failure, 2 usage, 3 missing prerequisite / port in use, 4 timeout.

Examples:
  ./network.sh up createChannel
  ./network.sh deployCCAAS -ccn records -ccdir ../bench/node-records \\
      -ccstart 'npx fabric-chaincode-node server --chaincode-address \$CHAINCODE_SERVER_ADDRESS --chaincode-id \$CHAINCODE_ID'
  NETWORK_WORK_DIR=/tmp/net2 NETWORK_PORT_BASE=8050 ./network.sh up
  ./network.sh down
EOF
}

# ------------------------------------------------------------------ arguments

MODE="${1:-}"
if [ -z "$MODE" ]; then
    printHelp_later=1
else
    shift
fi
case "$MODE" in -h|--help|help) MODE=help ;; esac
UP_THEN_CHANNEL=false
if [ "$MODE" = "up" ] && [ "${1:-}" = "createChannel" ]; then
    UP_THEN_CHANNEL=true
    shift
fi
NODE_NAME=""
if [ "$MODE" = "startNode" ] && [ -n "${1:-}" ] && [ "${1#-}" = "$1" ]; then
    NODE_NAME="$1"
    shift
fi

needs_value() { [ "$#" -ge 2 ] || { errorln "flag $1 needs a value"; exit "$EXIT_USAGE"; }; }

while [ "$#" -gt 0 ]; do
    case "$1" in
        -h|--help) MODE=help ;;
        -c) needs_value "$@"; CHANNEL_NAME="$2"; shift ;;
        -bt) needs_value "$@"; BATCH_TIMEOUT="$2"; shift ;;
        -mmc) needs_value "$@"; MAX_MESSAGE_COUNT="$2"; shift ;;
        -ccn) needs_value "$@"; CC_NAME="$2"; shift ;;
        -ccv) needs_value "$@"; CC_VERSION="$2"; shift ;;
        -ccs) needs_value "$@"; CC_SEQUENCE="$2"; shift ;;
        -ccep) needs_value "$@"; CC_END_POLICY="$2"; shift ;;
        -cccg) needs_value "$@"; CC_COLL_CONFIG="$2"; shift ;;
        -ccaddr) needs_value "$@"; CC_ADDRESS="$2"; shift ;;
        -ccstart) needs_value "$@"; CC_START="$2"; shift ;;
        -ccdir|-ccp) needs_value "$@"; CC_DIR="$2"; shift ;;
        -ccqc) needs_value "$@"; CC_QUERY_CONSTRUCTOR="$2"; shift ;;
        -ccperorg) CC_PER_ORG=true ;;
        -verbose) VERBOSE=true ;;
        *) errorln "unknown flag: $1"; echo "Run ./network.sh -h for help." >&2; exit "$EXIT_USAGE" ;;
    esac
    shift
done

# shellcheck source=network.config
. "${NETWORK_DIR}/network.config"
NETWORK_WORK_DIR="$(realpath -m "$NETWORK_WORK_DIR")"
export NETWORK_WORK_DIR
WORK="$NETWORK_WORK_DIR"
NETWORK_ENV="${WORK}/network.env"

# Later sub-commands use the topology recorded by `up` (ports, binaries, config dir).
if [ "$MODE" != "up" ] && [ -f "$NETWORK_ENV" ]; then
    # shellcheck disable=SC1090
    . "$NETWORK_ENV"
fi

if [ "${printHelp_later:-0}" = 1 ] || [ "$MODE" = "help" ]; then
    printHelp
    [ "$MODE" = "help" ] && exit 0
    exit "$EXIT_USAGE"
fi

# ORDERERS: the Raft orderers of this network, the first ORDERER_COUNT of orderer,
# orderer2, orderer3 (ports ORDERER_PORT, ORDERER2_PORT, ... in network.config);
# NODES: the orderers and both peers.
setNodes() {
    case "$ORDERER_COUNT" in
        1|2|3) ;;
        *) fatalln "ORDERER_COUNT must be 1, 2 or 3, not '${ORDERER_COUNT}'" "$EXIT_USAGE" ;;
    esac
    ORDERERS=(orderer orderer2 orderer3)
    ORDERERS=("${ORDERERS[@]:0:$ORDERER_COUNT}")
    NODES=("${ORDERERS[@]}" peer0.org1 peer0.org2)
}
# ordererPort NAME [KIND]: the port of orderer NAME; KIND is empty (gRPC), _ADMIN or _OPS.
ordererPort() { local var="${1^^}${2:-}_PORT"; echo "${!var}"; }
setNodes

# ------------------------------------------------------------------ prerequisites

resolvePython() {
    local candidates=() py
    if [ -n "$NETWORK_PYTHON" ]; then
        candidates=("$NETWORK_PYTHON")
    else
        candidates=("${NETWORK_DIR}/../.venv/bin/python" python3)
    fi
    for py in "${candidates[@]}"; do
        if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import yaml' >/dev/null 2>&1; then
            NETWORK_PYTHON="$(command -v "$py")"
            return 0
        fi
    done
    fatalln "no Python 3 with PyYAML found (tried: ${candidates[*]}); install PyYAML (pip install PyYAML) or set NETWORK_PYTHON" "$EXIT_PREREQ"
}

netctl() { run "$NETWORK_PYTHON" "${NETWORK_DIR}/scripts/netctl.py" "$@"; }

# checkBinaries NAME...: every NAME must be in $FABRIC_BIN when it is set (no mixing of
# versions from PATH), else on PATH.
checkBinaries() {
    local missing=() b
    if [ -n "$FABRIC_BIN" ]; then
        [ -d "$FABRIC_BIN" ] || fatalln "FABRIC_BIN=${FABRIC_BIN} is not a directory" "$EXIT_PREREQ"
        PATH="$(cd "$FABRIC_BIN" && pwd):$PATH"
        for b in "$@"; do
            [ -x "${FABRIC_BIN}/${b}" ] || missing+=("$b")
        done
    else
        for b in "$@"; do
            command -v "$b" >/dev/null 2>&1 || missing+=("$b")
        done
    fi
    if [ "${#missing[@]}" -gt 0 ]; then
        errorln "Fabric binaries not found: ${missing[*]}"
        if [ -n "$FABRIC_BIN" ]; then errorln "  looked in: \$FABRIC_BIN=${FABRIC_BIN}"; else errorln "  looked in: PATH"; fi
        errorln "  install the Hyperledger Fabric 2.5 binaries (release tarball bin/ + config/) and put"
        errorln "  bin/ on PATH or set FABRIC_BIN=<dir>/bin; see network/README.md"
        exit "$EXIT_PREREQ"
    fi
}

# resolveFabricConfig: FABRIC_CFG_DIR = $FABRIC_CFG_PATH, else $FABRIC_BIN/../config,
# else (realpath of peer)/../config; it must hold core.yaml and orderer.yaml.
resolveFabricConfig() {
    local tried=() dir
    if [ -n "${FABRIC_CFG_PATH:-}" ]; then
        tried=("$FABRIC_CFG_PATH (FABRIC_CFG_PATH)")
        dir="$FABRIC_CFG_PATH"
    elif [ -n "$FABRIC_BIN" ] && [ -d "${FABRIC_BIN}/../config" ]; then
        dir="${FABRIC_BIN}/../config"
        tried=("$dir (FABRIC_BIN/../config)")
    else
        dir="$(dirname "$(realpath "$(command -v peer)")")/../config"
        tried=("$dir (<peer binary dir>/../config)")
    fi
    local missing=() f
    for f in core.yaml orderer.yaml; do
        [ -f "${dir}/${f}" ] || missing+=("$f")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        errorln "Fabric config missing: ${missing[*]} not found in ${tried[*]}"
        errorln "  set FABRIC_CFG_PATH to the config/ dir of the Fabric 2.5 release (core.yaml, orderer.yaml)"
        exit "$EXIT_PREREQ"
    fi
    FABRIC_CFG_DIR="$(realpath "$dir")"
}

checkPrereqsUp() {
    checkBinaries peer orderer cryptogen configtxgen osnadmin
    resolveFabricConfig
    resolvePython
    FABRIC_BIN_DIR="$(cd "$(dirname "$(command -v peer)")" && pwd)"
    local version
    version="$(peer version 2>/dev/null | sed -ne 's/^ Version: //p')"
    case "$version" in
        2.5.*|3.*) infoln "Fabric peer ${version} from ${FABRIC_BIN_DIR}, config from ${FABRIC_CFG_DIR}" ;;
        *) warnln "peer reports version '${version}'; this network is written for Fabric 2.5" ;;
    esac
}

# After `up`, sub-commands reuse the recorded binaries and config.
checkPrereqsRunning() {
    [ -f "$NETWORK_ENV" ] || fatalln "no network in ${WORK} (run ./network.sh up first, or set NETWORK_WORK_DIR)" "$EXIT_FAIL"
    PATH="${FABRIC_BIN_DIR}:$PATH"
    checkBinaries "$@"
    [ -f "${FABRIC_CFG_DIR}/core.yaml" ] || fatalln "Fabric config missing: ${FABRIC_CFG_DIR}/core.yaml" "$EXIT_PREREQ"
    resolvePython
    export FABRIC_CFG_PATH="$FABRIC_CFG_DIR"
    # shellcheck source=scripts/envVar.sh
    . "${NETWORK_DIR}/scripts/envVar.sh" || exit "$EXIT_FAIL"
    local node
    for node in "${NODES[@]}"; do
        netctl alive "${WORK}/pids/${node}.pid" ||
            fatalln "${node} is not running (pid file ${WORK}/pids/${node}.pid; log ${WORK}/logs/${node}.log); run ./network.sh down && ./network.sh up" "$EXIT_FAIL"
    done
}

# Export the settings netctl.py reads (and a colour-free log format for the peer CLI).
exportSettings() {
    export FABRIC_LOGGING_FORMAT="$NODE_LOGGING_FORMAT"
    export NETWORK_WORK_DIR FABRIC_CFG_DIR FABRIC_BIN_DIR NETWORK_PORT_BASE ORDERER_COUNT \
        ORDERER_PORT ORDERER_ADMIN_PORT ORDERER_OPS_PORT \
        ORDERER2_PORT ORDERER2_ADMIN_PORT ORDERER2_OPS_PORT ORDERER3_PORT ORDERER3_ADMIN_PORT ORDERER3_OPS_PORT \
        PEER0_ORG1_PORT PEER0_ORG1_CC_PORT PEER0_ORG1_OPS_PORT \
        PEER0_ORG2_PORT PEER0_ORG2_CC_PORT PEER0_ORG2_OPS_PORT CCAAS_PORT_BASE \
        PEER_PROFILE PEER0_ORG1_PROFILE_PORT PEER0_ORG2_PROFILE_PORT \
        CC_EXECUTE_TIMEOUT CC_STARTUP_TIMEOUT GATEWAY_ENDORSEMENT_TIMEOUT \
        BATCH_TIMEOUT MAX_MESSAGE_COUNT ABSOLUTE_MAX_BYTES PREFERRED_MAX_BYTES
}

writeNetworkEnv() {
    local var
    {
        echo "# Written by network.sh up: the topology of the network in this folder."
        echo "# Sourced by later network.sh sub-commands and by scripts/envVar.sh."
        for var in NETWORK_WORK_DIR NETWORK_PORT_BASE FABRIC_BIN_DIR FABRIC_CFG_DIR NETWORK_PYTHON ORDERER_COUNT \
            ORDERER_PORT ORDERER_ADMIN_PORT ORDERER_OPS_PORT \
            ORDERER2_PORT ORDERER2_ADMIN_PORT ORDERER2_OPS_PORT ORDERER3_PORT ORDERER3_ADMIN_PORT ORDERER3_OPS_PORT \
            PEER0_ORG1_PORT PEER0_ORG1_CC_PORT PEER0_ORG1_OPS_PORT \
            PEER0_ORG2_PORT PEER0_ORG2_CC_PORT PEER0_ORG2_OPS_PORT CCAAS_PORT_BASE; do
            printf '%s=%q\n' "$var" "${!var}"
        done
    } >"$NETWORK_ENV"
}

# ------------------------------------------------------------------ up

anyNodeAlive() {
    local f
    for f in "${WORK}"/pids/*.pid; do
        [ -e "$f" ] || continue
        netctl alive "$f" && return 0
    done
    return 1
}

# removeWorkDir: only a folder we created (marker file) or an empty one is removed.
removeWorkDir() {
    [ -d "$WORK" ] || return 0
    if [ -f "${WORK}/${MARKER_FILE}" ]; then
        rm -rf "$WORK"
    elif [ -z "$(ls -A "$WORK")" ]; then
        rmdir "$WORK"
    else
        fatalln "${WORK} exists, is not empty and was not created by network.sh (no ${MARKER_FILE}); refusing to delete it" "$EXIT_FAIL"
    fi
}

# startNode NAME: start orderer NAME or peer0.org<N> as a background process from the node
# config generated at `up` (also what `start` does for each node of a stopped network).
startNode() {
    local name="$1" cmd=()
    case "$name" in
        orderer|orderer2|orderer3) cmd=("$(command -v orderer)") ;;
        peer0.org1|peer0.org2) cmd=("$(command -v peer)" node start) ;;
        *) errorln "unknown node '${name}'"; return "$EXIT_USAGE" ;;
    esac
    netctl start --name "$name" --clean-env \
        --pid "${WORK}/pids/${name}.pid" --log "${WORK}/logs/${name}.log" --cwd "${WORK}/data" \
        --env "FABRIC_CFG_PATH=${WORK}/config/${name}" --env "FABRIC_LOGGING_SPEC=${NODE_LOGGING_SPEC}" \
        --env "FABRIC_LOGGING_FORMAT=${NODE_LOGGING_FORMAT}" -- "${cmd[@]}"
}

# waitNodesHealthy: every node's operations /healthz reports OK (exit on timeout or death).
waitNodesHealthy() {
    phase_begin "wait for /healthz (timeout ${HEALTH_TIMEOUT}s each)"
    local pidfiles=() targets=() name
    for name in "${NODES[@]}"; do pidfiles+=("${WORK}/pids/${name}.pid"); done
    for name in "${ORDERERS[@]}"; do targets+=("${name}=http://127.0.0.1:$(ordererPort "$name" _OPS)/healthz"); done
    netctl wait-health --timeout "$HEALTH_TIMEOUT" \
        --pidfiles "$(IFS=,; echo "${pidfiles[*]}")" "${targets[@]}" \
        "peer0.org1=http://127.0.0.1:${PEER0_ORG1_OPS_PORT}/healthz" \
        "peer0.org2=http://127.0.0.1:${PEER0_ORG2_OPS_PORT}/healthz"
    local rc=$?
    if [ "$rc" -ne 0 ]; then
        errorln "network did not become healthy; logs in ${WORK}/logs/ (./network.sh down to clean up)"
        exit "$rc"
    fi
    phase_end
}

# A failed or interrupted `up` stops what it started; the work folder (logs) stays for
# inspection and is replaced by the next `up` (or removed by `down`).
abortUp() {
    local rc=$?
    [ "$rc" -ne 0 ] || return 0
    trap - EXIT
    local f pidfiles=()
    for f in "${WORK}"/pids/*.pid; do [ -e "$f" ] && pidfiles+=("$f"); done
    if [ "${#pidfiles[@]}" -gt 0 ]; then
        warnln "${MODE} failed (exit ${rc}): stopping the processes it started; logs stay in ${WORK}/logs"
        netctl stop --grace "$STOP_GRACE" "${pidfiles[@]}" >&2
    fi
    exit "$rc"
}

networkUp() {
    local t0; t0=$(now)
    checkPrereqsUp
    exportSettings
    if [ -d "${WORK}/pids" ] && anyNodeAlive; then
        fatalln "a network is already running in ${WORK} (./network.sh status; ./network.sh down)" "$EXIT_FAIL"
    fi
    if [ -d "$WORK" ]; then
        warnln "removing the stopped network left in ${WORK}"
        removeWorkDir
    fi
    local ports=() name
    for name in "${ORDERERS[@]}"; do
        ports+=("$(ordererPort "$name")" "$(ordererPort "$name" _ADMIN)" "$(ordererPort "$name" _OPS)")
    done
    netctl check-ports "${ports[@]}" \
        "$PEER0_ORG1_PORT" "$PEER0_ORG1_CC_PORT" "$PEER0_ORG1_OPS_PORT" \
        "$PEER0_ORG2_PORT" "$PEER0_ORG2_CC_PORT" "$PEER0_ORG2_OPS_PORT" || exit "$EXIT_PREREQ"

    mkdir -p "${WORK}"/{pids,logs,data,config,channel-artifacts,chaincode} || exit "$EXIT_FAIL"
    trap abortUp EXIT
    trap 'exit 130' INT TERM
    echo "VPP Ledger native Fabric network work folder; network.sh down removes it" >"${WORK}/${MARKER_FILE}"
    writeNetworkEnv

    phase_begin "crypto material (cryptogen)"
    run cryptogen generate --config="${NETWORK_DIR}/crypto-config.yaml" --output="${WORK}/organizations" \
        >"${WORK}/logs/cryptogen.log" 2>&1 || { cat "${WORK}/logs/cryptogen.log" >&2; fatalln "cryptogen failed"; }
    phase_end

    phase_begin "node configs from ${FABRIC_CFG_DIR}"
    netctl gen-node-configs || fatalln "could not generate node configs"
    phase_end

    phase_begin "start ${#ORDERERS[@]} orderer(s) and the peers"
    for name in "${NODES[@]}"; do
        startNode "$name" || fatalln "could not start ${name}"
    done
    phase_end

    waitNodesHealthy

    netctl write-network-json || fatalln "could not write network.json"
    trap - EXIT INT TERM
    successln "Network up in $(elapsed "$t0")s: work folder ${WORK}"
    for name in "${ORDERERS[@]}"; do
        printf '  %-11s 127.0.0.1:%s (admin %s, ops %s)\n' "$name" "$(ordererPort "$name")" \
            "$(ordererPort "$name" _ADMIN)" "$(ordererPort "$name" _OPS)"
    done
    println "  peer0.org1  127.0.0.1:${PEER0_ORG1_PORT} (chaincode ${PEER0_ORG1_CC_PORT}, ops ${PEER0_ORG1_OPS_PORT})"
    println "  peer0.org2  127.0.0.1:${PEER0_ORG2_PORT} (chaincode ${PEER0_ORG2_CC_PORT}, ops ${PEER0_ORG2_OPS_PORT})"
}

# ------------------------------------------------------------------ createChannel

# An orderer answers Deliver for a channel only once its Raft node knows a leader
# (about a second after the last join); until then Broadcast would fail as well.
ordererServesChannel() { # ORDERER_NAME
    setGlobals 1 || return 1
    local probe="${WORK}/channel-artifacts/.probe-${CHANNEL_NAME}-$1.block" rc
    peer channel fetch oldest "$probe" -c "$CHANNEL_NAME" -o "127.0.0.1:$(ordererPort "$1")" \
        --tls --cafile "$ORDERER_CA" 2>&1
    rc=$?
    rm -f "$probe"
    return "$rc"
}

osnadminOn() { # ORDERER_NAME osnadmin-channel-args...
    local name="$1"
    shift
    run osnadmin channel "$@" -o "127.0.0.1:$(ordererPort "$name" _ADMIN)" --ca-file "$ORDERER_CA" \
        --client-cert "$ORDERER_ADMIN_TLS_SIGN_CERT" --client-key "$ORDERER_ADMIN_TLS_PRIVATE_KEY"
}

# The orderer lists the channel as an active member of its consenter set.
ordererIsConsenter() { # ORDERER_NAME
    local out
    out="$(osnadminOn "$1" list --channelID "$CHANNEL_NAME" 2>&1)" || { echo "$out"; return 1; }
    echo "$out" | netctl json osn-consenter || { echo "$out"; return 1; }
}

peerHeightAtLeast() { # ORG MIN
    setGlobals "$1" || return 1
    local out h
    out="$(peer channel getinfo -c "$CHANNEL_NAME" 2>&1)" || { echo "$out"; return 1; }
    h="$(echo "$out" | netctl json height)" || { echo "$out"; return 1; }
    echo "height ${h}"
    [ "$h" -ge "$2" ]
}

peerJoin() { # ORG
    setGlobals "$1" || return 1
    local out
    out="$(peer channel join -b "$BLOCKFILE" 2>&1)" && return 0
    # A peer that already joined (e.g. a retried createChannel) is fine.
    echo "$out" | grep -q "already exists" && return 0
    echo "$out"
    return 1
}

createChannel() {
    local t0; t0=$(now)
    checkPrereqsRunning peer configtxgen osnadmin
    exportSettings
    BLOCKFILE="${WORK}/channel-artifacts/${CHANNEL_NAME}.block"
    [ -f "$BLOCKFILE" ] && fatalln "channel '${CHANNEL_NAME}' was already created in this network (${BLOCKFILE})" "$EXIT_FAIL"
    infoln "Channel '${CHANNEL_NAME}': BatchTimeout ${BATCH_TIMEOUT}, MaxMessageCount ${MAX_MESSAGE_COUNT}"

    phase_begin "channel genesis block (configtxgen)"
    local cfg="${WORK}/config/configtx"
    netctl gen-configtx "${cfg}/configtx.yaml" || fatalln "could not generate configtx.yaml"
    FABRIC_CFG_PATH="$cfg" run configtxgen -profile VppChannelUsingRaft -outputBlock "$BLOCKFILE" \
        -channelID "$CHANNEL_NAME" >"${WORK}/logs/configtxgen-${CHANNEL_NAME}.log" 2>&1 ||
        { cat "${WORK}/logs/configtxgen-${CHANNEL_NAME}.log" >&2; fatalln "configtxgen failed"; }
    phase_end

    phase_begin "${#ORDERERS[@]} orderer(s) join (osnadmin channel join)"
    local out name
    for name in "${ORDERERS[@]}"; do
        out="$(osnadminOn "$name" join --channelID "$CHANNEL_NAME" --config-block "$BLOCKFILE" 2>&1)" ||
            { println "$out" >&2; fatalln "osnadmin channel join on ${name} failed"; }
        println "$out" | sed "s/^/    ${name}: /"
        if echo "$out" | grep -q '"error"'; then
            fatalln "${name} refused to join channel '${CHANNEL_NAME}' (does it exist already?)"
        fi
    done
    for name in "${ORDERERS[@]}"; do
        retry_until "$CHANNEL_TIMEOUT" "${name}: '${CHANNEL_NAME}' active with consensus relation consenter" \
            ordererIsConsenter "$name" || exit "$EXIT_TIMEOUT"
        println "    ${name}: ${LAST_OUTPUT}"
    done
    for name in "${ORDERERS[@]}"; do
        retry_until "$CHANNEL_TIMEOUT" "${name} serving channel '${CHANNEL_NAME}' (Raft leader elected)" \
            ordererServesChannel "$name" || exit "$EXIT_TIMEOUT"
    done
    println "    every orderer serves '${CHANNEL_NAME}' (Raft leader elected)"
    phase_end

    phase_begin "peers join"
    local org
    for org in 1 2; do
        retry_until "$CHANNEL_TIMEOUT" "peer0.org${org} channel join" peerJoin "$org" || exit "$EXIT_TIMEOUT"
        println "    peer0.org${org} joined"
    done
    phase_end

    phase_begin "wait until both peers have height >= 1"
    for org in 1 2; do
        retry_until "$CHANNEL_TIMEOUT" "peer0.org${org} height" peerHeightAtLeast "$org" 1 || exit "$EXIT_TIMEOUT"
        println "    peer0.org${org}: ${LAST_OUTPUT}"
    done
    phase_end

    netctl write-network-json --channel "$CHANNEL_NAME" || fatalln "could not update network.json"
    successln "Channel '${CHANNEL_NAME}' created and joined in $(elapsed "$t0")s"
}

# ------------------------------------------------------------------ deployCCAAS

ccPolicyArgs() {
    CC_ARGS=()
    if [ "$CC_END_POLICY" != "NA" ] && [ -n "$CC_END_POLICY" ]; then
        CC_ARGS+=(--signature-policy "$CC_END_POLICY")
    fi
    if [ "$CC_COLL_CONFIG" != "NA" ] && [ -n "$CC_COLL_CONFIG" ]; then
        CC_ARGS+=(--collections-config "$CC_COLL_CONFIG")
    fi
}

# Chaincode servers of one deploy ("slots"): "all" = one server both peers dial (the
# default), or "org1" and "org2" = one per organisation (-ccperorg). Per slot (assoc
# arrays, keyed by slot): SLOT_DIR (package, connection.json, package_id, address),
# SLOT_ADDR, SLOT_PKG (package file), SLOT_ID (package id), SLOT_PID, SLOT_LOG.
# ccSlotOf ORG -> the slot whose package peer0.org<ORG> installs and Org<ORG>MSP approves.
ccSlotOf() { if [ "$CC_PER_ORG" = true ]; then echo "org$1"; else echo all; fi; }

# ccTakenPorts -> comma-separated ports recorded for any chaincode server of this network.
ccTakenPorts() {
    cat "${WORK}"/chaincode/*/address "${WORK}"/chaincode/*/org[12]/address 2>/dev/null | sed 's/.*://' | paste -sd, -
}

ccInstall() { # ORG
    setGlobals "$1" || return 1
    local slot; slot="$(ccSlotOf "$1")"
    if peer lifecycle chaincode queryinstalled --output json 2>/dev/null | netctl json installed "${SLOT_ID[$slot]}"; then
        println "    already installed on peer0.org$1"
        return 0
    fi
    run peer lifecycle chaincode install "${SLOT_PKG[$slot]}" 2>&1 | sed 's/^/    /'
    [ "${PIPESTATUS[0]}" -eq 0 ]
}

# resolveSequence: CC_SEQUENCE=auto -> 1 for a new name; the approved-but-uncommitted
# sequence if there is one; else committed + 1.
resolveSequence() {
    [ "$CC_SEQUENCE" = "auto" ] || return 0
    setGlobals 1
    local committed approved out
    if out="$(peer lifecycle chaincode querycommitted -C "$CHANNEL_NAME" -n "$CC_NAME" --output json 2>/dev/null)"; then
        committed="$(echo "$out" | netctl json sequence)"
    else
        committed=0
    fi
    if out="$(peer lifecycle chaincode queryapproved -C "$CHANNEL_NAME" -n "$CC_NAME" --output json 2>/dev/null)"; then
        approved="$(echo "$out" | netctl json sequence)"
    else
        approved=0
    fi
    if [ "$approved" -gt "$committed" ]; then
        CC_SEQUENCE="$approved"
    else
        CC_SEQUENCE=$((committed + 1))
    fi
}

# Each organisation approves with the package id of the package installed on its own peer
# (with -ccperorg they differ; the definition they approve is the same).
ccApprove() { # ORG
    setGlobals "$1" || return 1
    local slot; slot="$(ccSlotOf "$1")"
    run peer lifecycle chaincode approveformyorg -o "$ORDERER_ADDRESS" --tls --cafile "$ORDERER_CA" \
        --channelID "$CHANNEL_NAME" --name "$CC_NAME" --version "$CC_VERSION" --package-id "${SLOT_ID[$slot]}" \
        --sequence "$CC_SEQUENCE" "${CC_ARGS[@]}" --waitForEventTimeout "${CC_READY_TIMEOUT}s"
}

ccCommitReady() {
    setGlobals 1 || return 1
    peer lifecycle chaincode checkcommitreadiness --channelID "$CHANNEL_NAME" --name "$CC_NAME" \
        --version "$CC_VERSION" --sequence "$CC_SEQUENCE" "${CC_ARGS[@]}" --output json 2>&1 | netctl json approvals
    [ "${PIPESTATUS[1]}" -eq 0 ]
}

ccCommit() {
    setGlobals 1 || return 1
    parsePeerConnectionParameters 1 2
    run peer lifecycle chaincode commit -o "$ORDERER_ADDRESS" --tls --cafile "$ORDERER_CA" \
        --channelID "$CHANNEL_NAME" --name "$CC_NAME" --version "$CC_VERSION" --sequence "$CC_SEQUENCE" \
        "${CC_ARGS[@]}" "${PEER_CONN_PARMS[@]}" --waitForEventTimeout "${CC_READY_TIMEOUT}s"
}

ccCommitted() { # ORG
    setGlobals "$1" || return 1
    local out
    out="$(peer lifecycle chaincode querycommitted -C "$CHANNEL_NAME" -n "$CC_NAME" --output json 2>&1)" || { echo "$out"; return 1; }
    echo "$out" | netctl json committed "${CC_VERSION}:${CC_SEQUENCE}" || { echo "$out"; return 1; }
}

ccQuery() { # ORG
    setGlobals "$1" || return 1
    peer chaincode query -C "$CHANNEL_NAME" -n "$CC_NAME" -c "$CC_QUERY_CONSTRUCTOR"
}

deployCCAAS() {
    local t0; t0=$(now)
    [ -n "${CC_NAME:-}" ] && [ "$CC_NAME" != "NA" ] ||
        fatalln "no chaincode name: ./network.sh deployCCAAS -ccn <name> -ccstart '<command>' [-ccdir <dir>]" "$EXIT_USAGE"
    [[ "$CC_NAME" =~ ^[a-zA-Z0-9]+([-_][a-zA-Z0-9]+)*$ ]] ||
        fatalln "invalid chaincode name '${CC_NAME}' (letters, digits, - and _)" "$EXIT_USAGE"
    [ -n "${CC_START:-}" ] ||
        fatalln "no -ccstart '<command>' (the chaincode server command; NA to run it yourself)" "$EXIT_USAGE"
    case "$CC_PER_ORG" in
        true|false) ;;
        *) fatalln "CC_PER_ORG must be true or false, not '${CC_PER_ORG}'" "$EXIT_USAGE" ;;
    esac
    local slots=(all) slot
    declare -A SLOT_DIR SLOT_ADDR SLOT_PKG SLOT_ID SLOT_PID SLOT_LOG
    if [ "$CC_PER_ORG" = true ]; then
        slots=(org1 org2)
        if [ -n "${CC_ADDRESS:-}" ]; then
            SLOT_ADDR[org1]="${CC_ADDRESS%%,*}"
            SLOT_ADDR[org2]="${CC_ADDRESS#*,}"
            [[ "$CC_ADDRESS" == *,* && -n "${SLOT_ADDR[org1]}" && -n "${SLOT_ADDR[org2]}" && "${SLOT_ADDR[org2]}" != *,* ]] ||
                fatalln "-ccaddr with -ccperorg takes two addresses: <org1 host:port>,<org2 host:port>" "$EXIT_USAGE"
            [ "${SLOT_ADDR[org1]}" != "${SLOT_ADDR[org2]}" ] ||
                fatalln "-ccaddr with -ccperorg: the two servers need different addresses" "$EXIT_USAGE"
        fi
    elif [ -n "${CC_ADDRESS:-}" ]; then
        SLOT_ADDR[all]="$CC_ADDRESS"
    fi
    CC_DIR="$(realpath "${CC_DIR:-$PWD}")" || fatalln "-ccdir does not exist" "$EXIT_USAGE"
    [ -d "$CC_DIR" ] || fatalln "-ccdir ${CC_DIR} is not a directory" "$EXIT_USAGE"
    if [ "$CC_COLL_CONFIG" != "NA" ] && [ -n "$CC_COLL_CONFIG" ]; then
        [ -f "$CC_COLL_CONFIG" ] || fatalln "collections config ${CC_COLL_CONFIG} not found" "$EXIT_USAGE"
        CC_COLL_CONFIG="$(realpath "$CC_COLL_CONFIG")"
    fi
    checkPrereqsRunning peer
    exportSettings
    [ -f "${WORK}/channel-artifacts/${CHANNEL_NAME}.block" ] ||
        fatalln "channel '${CHANNEL_NAME}' was not created in this network (./network.sh createChannel -c ${CHANNEL_NAME})" "$EXIT_FAIL"
    ccPolicyArgs

    local ccwork="${WORK}/chaincode/${CC_NAME}"
    # pids/cc-<name>-org1.pid of a per-org <name> is also the pid file of a single-server
    # chaincode called <name>-org1: refuse the combination instead of mixing them up.
    if [ "$CC_PER_ORG" = true ]; then
        for slot in org1 org2; do
            [ ! -d "${WORK}/chaincode/${CC_NAME}-${slot}" ] ||
                fatalln "chaincode '${CC_NAME}-${slot}' exists in this network; its pid file would clash with -ccperorg '${CC_NAME}'" "$EXIT_USAGE"
        done
    elif [[ "$CC_NAME" =~ ^(.+)-(org[12])$ ]] && [ -d "${WORK}/chaincode/${BASH_REMATCH[1]}/${BASH_REMATCH[2]}" ]; then
        fatalln "chaincode '${BASH_REMATCH[1]}' runs one server per org in this network; its pid file would clash with '${CC_NAME}'" "$EXIT_USAGE"
    fi
    for slot in "${slots[@]}"; do
        if [ "$slot" = all ]; then
            SLOT_DIR[$slot]="$ccwork"
            SLOT_PID[$slot]="${WORK}/pids/cc-${CC_NAME}.pid"
            SLOT_LOG[$slot]="${WORK}/logs/cc-${CC_NAME}.log"
        else
            SLOT_DIR[$slot]="${ccwork}/${slot}"
            SLOT_PID[$slot]="${WORK}/pids/cc-${CC_NAME}-${slot}.pid"
            SLOT_LOG[$slot]="${WORK}/logs/cc-${CC_NAME}-${slot}.log"
        fi
        SLOT_PKG[$slot]="${SLOT_DIR[$slot]}/${CC_NAME}.tar.gz"
    done
    mkdir -p "${SLOT_DIR[@]}"
    # A name switching mode keeps its recorded ports (address files) but not the other
    # mode's packages: what is in package_id files is what is deployed.
    if [ "$CC_PER_ORG" = true ]; then
        rm -f "${ccwork}/package_id" "${ccwork}/connection.json" "${ccwork}/${CC_NAME}.tar.gz"
    else
        rm -f "${ccwork}"/org[12]/package_id "${ccwork}"/org[12]/connection.json "${ccwork}"/org[12]/"${CC_NAME}.tar.gz"
    fi

    if [ "$CC_PER_ORG" = true ]; then
        phase_begin "package ${CC_NAME} (ccaas, one package per organisation)"
    else
        phase_begin "package ${CC_NAME} (ccaas)"
    fi
    CC_LABEL="${CC_NAME}_${CC_VERSION}"
    for slot in "${slots[@]}"; do
        if [ -z "${SLOT_ADDR[$slot]:-}" ]; then
            if [ -f "${SLOT_DIR[$slot]}/address" ]; then
                SLOT_ADDR[$slot]="$(cat "${SLOT_DIR[$slot]}/address")"
            else
                SLOT_ADDR[$slot]="127.0.0.1:$(netctl free-port "$CCAAS_PORT_BASE" --exclude "$(ccTakenPorts)")" ||
                    fatalln "no free port for the chaincode server"
            fi
        fi
        # Written at once, so the next slot's free port excludes this one.
        echo "${SLOT_ADDR[$slot]}" >"${SLOT_DIR[$slot]}/address"
        netctl package-ccaas --label "$CC_LABEL" --address "${SLOT_ADDR[$slot]}" --dial-timeout "$CC_DIAL_TIMEOUT" \
            --meta-inf "${CC_DIR}/META-INF" --out "${SLOT_PKG[$slot]}" || fatalln "packaging failed"
        SLOT_ID[$slot]="$(peer lifecycle chaincode calculatepackageid "${SLOT_PKG[$slot]}")" || fatalln "calculatepackageid failed"
        echo "${SLOT_ID[$slot]}" >"${SLOT_DIR[$slot]}/package_id"
        if [ "$slot" = all ]; then
            println "    package id ${SLOT_ID[$slot]}"
        else
            println "    ${slot} package id ${SLOT_ID[$slot]}"
        fi
    done
    phase_end

    if [ "$CC_PER_ORG" = true ]; then
        phase_begin "install org1's package on peer0.org1, org2's on peer0.org2"
    else
        phase_begin "install on peer0.org1 and peer0.org2"
    fi
    local org
    for org in 1 2; do
        ccInstall "$org" || fatalln "install on peer0.org${org} failed"
    done
    phase_end

    resolveSequence
    infoln "Definition: name ${CC_NAME}, version ${CC_VERSION}, sequence ${CC_SEQUENCE}, channel ${CHANNEL_NAME}${CC_ARGS[*]:+, ${CC_ARGS[*]}}"

    if [ "$CC_PER_ORG" = true ]; then
        phase_begin "chaincode servers (one per organisation)"
    else
        phase_begin "chaincode server"
    fi
    # Upgrade: stop what serves this name now, in either mode (per-org pid files only when
    # this name was deployed per org, see the clash check above).
    local running=() f
    for f in "${WORK}/pids/cc-${CC_NAME}.pid" "${WORK}/pids/cc-${CC_NAME}-org1.pid" "${WORK}/pids/cc-${CC_NAME}-org2.pid"; do
        case "$f" in
            *-org1.pid) [ -d "${ccwork}/org1" ] || continue ;;
            *-org2.pid) [ -d "${ccwork}/org2" ] || continue ;;
        esac
        [ -f "$f" ] && running+=("$f")
    done
    if [ "${#running[@]}" -gt 0 ]; then
        netctl stop --grace "$STOP_GRACE" "${running[@]}"
    fi
    if [ "$CC_START" = "NA" ]; then
        if [ "$CC_PER_ORG" = true ]; then
            warnln "    not starting the chaincode servers (-ccstart NA); start yours with:"
        else
            warnln "    not starting a chaincode server (-ccstart NA); start yours with:"
        fi
        for slot in "${slots[@]}"; do
            println "      CHAINCODE_ID=${SLOT_ID[$slot]} CHAINCODE_SERVER_ADDRESS=${SLOT_ADDR[$slot]} <your server>"
        done
    else
        local ports=()
        for slot in "${slots[@]}"; do ports+=("${SLOT_ADDR[$slot]##*:}"); done
        netctl check-ports "${ports[@]}" || exit "$EXIT_PREREQ"
        local name
        for slot in "${slots[@]}"; do
            name="$(basename "${SLOT_PID[$slot]}" .pid)"
            netctl start --name "$name" --pid "${SLOT_PID[$slot]}" --log "${SLOT_LOG[$slot]}" --cwd "$CC_DIR" --settle 1 \
                --env "CHAINCODE_ID=${SLOT_ID[$slot]}" --env "CHAINCODE_SERVER_ADDRESS=${SLOT_ADDR[$slot]}" \
                --env "CORE_CHAINCODE_ID_NAME=${SLOT_ID[$slot]}" \
                -- /bin/sh -c "$CC_START" || fatalln "the chaincode server ${name} did not start (log ${SLOT_LOG[$slot]})"
        done
    fi
    phase_end
    # What `start` needs to serve this chaincode again after `stop` (shell-quoted, sourced there).
    {
        printf 'CC_START=%q\n' "$CC_START"
        printf 'CC_DIR=%q\n' "$CC_DIR"
        printf 'CC_CHANNEL=%q\n' "$CHANNEL_NAME"
        printf 'CC_PER_ORG=%q\n' "$CC_PER_ORG"
    } >"${ccwork}/server.env"

    phase_begin "approve for Org1MSP and Org2MSP"
    for org in 1 2; do
        ccApprove "$org" 2>&1 | sed 's/^/    /'
        [ "${PIPESTATUS[0]}" -eq 0 ] || fatalln "approveformyorg for Org${org}MSP failed"
    done
    retry_until "$CC_READY_TIMEOUT" "commit readiness" ccCommitReady || exit "$EXIT_TIMEOUT"
    println "    commit readiness: ${LAST_OUTPUT}"
    phase_end

    phase_begin "commit"
    ccCommit 2>&1 | sed 's/^/    /'
    [ "${PIPESTATUS[0]}" -eq 0 ] || fatalln "commit of ${CC_NAME} failed"
    for org in 1 2; do
        retry_until "$CC_READY_TIMEOUT" "querycommitted on peer0.org${org}" ccCommitted "$org" || exit "$EXIT_TIMEOUT"
    done
    println "    committed on both peers: version ${CC_VERSION}, sequence ${CC_SEQUENCE}"
    phase_end

    if [ "$CC_START" != "NA" ] && [ "$CC_QUERY_CONSTRUCTOR" != "NA" ]; then
        phase_begin "wait until ${CC_NAME} answers on both peers"
        local logfile
        for org in 1 2; do
            logfile="${SLOT_LOG[$(ccSlotOf "$org")]}"
            if ! retry_until "$CC_READY_TIMEOUT" "query ${CC_QUERY_CONSTRUCTOR} on peer0.org${org}" ccQuery "$org"; then
                errorln "chaincode server log (${logfile}):"
                tail -n 20 "$logfile" | sed 's/^/    /' >&2
                exit "$EXIT_TIMEOUT"
            fi
            println "    peer0.org${org}: answered (${#LAST_OUTPUT} bytes)"
        done
        phase_end
    fi

    local per_org_arg=()
    [ "$CC_PER_ORG" = true ] && per_org_arg=(--cc-per-org)
    netctl write-network-json --chaincode "$CC_NAME" --cc-channel "$CHANNEL_NAME" \
        --cc-version "$CC_VERSION" --cc-sequence "$CC_SEQUENCE" "${per_org_arg[@]}" || fatalln "could not update network.json"
    if [ "$CC_PER_ORG" = true ]; then
        successln "Chaincode '${CC_NAME}' deployed in $(elapsed "$t0")s, one server per organisation:"
        for slot in "${slots[@]}"; do
            println "  ${slot}: package ${SLOT_ID[$slot]}, server ${SLOT_ADDR[$slot]}"
            [ "$CC_START" = "NA" ] || println "        pid file ${SLOT_PID[$slot]}, log ${SLOT_LOG[$slot]}"
        done
    else
        successln "Chaincode '${CC_NAME}' deployed in $(elapsed "$t0")s: package ${SLOT_ID[all]}, server ${SLOT_ADDR[all]}"
        [ "$CC_START" = "NA" ] || println "  server pid file ${SLOT_PID[all]}, log ${SLOT_LOG[all]}"
    fi
}

# ------------------------------------------------------------------ status

networkStatus() {
    if [ ! -f "$NETWORK_ENV" ]; then
        println "no network in ${WORK}"
        exit "$EXIT_FAIL"
    fi
    resolvePython
    exportSettings
    local rc=0 f name pid state health url
    println "work folder: ${WORK}"
    for f in "${WORK}"/pids/*.pid; do
        [ -e "$f" ] || continue
        name="$(basename "$f" .pid)"
        pid="$(cat "$f")"
        if netctl alive "$f"; then state="running"; else state="STOPPED"; fi
        url=""
        case "$name" in
            orderer|orderer2|orderer3) url="http://127.0.0.1:$(ordererPort "$name" _OPS)/healthz" ;;
            peer0.org1) url="http://127.0.0.1:${PEER0_ORG1_OPS_PORT}/healthz" ;;
            peer0.org2) url="http://127.0.0.1:${PEER0_ORG2_OPS_PORT}/healthz" ;;
        esac
        health=""
        if [ -n "$url" ]; then
            if netctl wait-health --timeout 0 "${name}=${url}" >/dev/null 2>&1; then health="healthy"; else health="UNHEALTHY"; fi
        fi
        printf '  %-22s pid %-8s %-8s %s\n' "$name" "$pid" "$state" "$health"
    done
    local node
    for node in "${NODES[@]}"; do
        netctl alive "${WORK}/pids/${node}.pid" || rc=1
    done
    if [ "$rc" -eq 0 ]; then
        PATH="${FABRIC_BIN_DIR}:$PATH"
        export FABRIC_CFG_PATH="$FABRIC_CFG_DIR"
        . "${NETWORK_DIR}/scripts/envVar.sh"
        local block ch org
        for block in "${WORK}"/channel-artifacts/*.block; do
            [ -e "$block" ] || continue
            ch="$(basename "$block" .block)"
            for org in 1 2; do
                setGlobals "$org"
                printf '  channel %-14s peer0.org%s height %s\n' "$ch" "$org" \
                    "$(peer channel getinfo -c "$ch" 2>/dev/null | netctl json height 2>/dev/null || echo '?')"
            done
        done
        local d
        for d in "${WORK}"/chaincode/*/; do
            [ -d "$d" ] || continue
            if [ -f "${d}package_id" ]; then
                printf '  chaincode %-12s %s at %s\n' "$(basename "$d")" "$(cat "${d}package_id")" \
                    "$(cat "${d}address")"
            fi
            # -ccperorg: one server per organisation.
            for org in 1 2; do
                [ -f "${d}org${org}/package_id" ] || continue
                printf '  chaincode %-12s %s at %s (org%s server)\n' "$(basename "$d")" \
                    "$(cat "${d}org${org}/package_id")" "$(cat "${d}org${org}/address")" "$org"
            done
        done
    fi
    exit "$rc"
}

# ------------------------------------------------------------------ startNode

# startOneNode (sub-command startNode): one node of this network again, after it died or was
# killed; its ledger, config and ports are the ones `up` / deployCCAAS recorded, so it rejoins
# where it was. Orderers and peers are started by startNode, as `up` starts them.
startOneNode() {
    [ -n "$NODE_NAME" ] ||
        fatalln "usage: ./network.sh startNode <orderer|orderer2|orderer3|peer0.org1|peer0.org2|cc-<name>[-org1|-org2]>" "$EXIT_USAGE"
    [ -f "$NETWORK_ENV" ] || fatalln "no network in ${WORK} (run ./network.sh up first, or set NETWORK_WORK_DIR)" "$EXIT_FAIL"
    resolvePython
    exportSettings
    PATH="${FABRIC_BIN_DIR}:$PATH"
    local pidfile="${WORK}/pids/${NODE_NAME}.pid" logfile="${WORK}/logs/${NODE_NAME}.log" url="" t0
    t0=$(now)
    if [ -f "$pidfile" ] && netctl alive "$pidfile"; then
        fatalln "${NODE_NAME} is already running (pid $(cat "$pidfile"))" "$EXIT_FAIL"
    fi
    case "$NODE_NAME" in
        orderer|orderer2|orderer3|peer0.org1|peer0.org2)
            local known=false node
            for node in "${NODES[@]}"; do [ "$node" = "$NODE_NAME" ] && known=true; done
            [ "$known" = true ] || fatalln "${NODE_NAME} is not a node of this network (ORDERER_COUNT=${ORDERER_COUNT})" "$EXIT_USAGE"
            case "$NODE_NAME" in
                peer0.org1) url="http://127.0.0.1:${PEER0_ORG1_OPS_PORT}/healthz" ;;
                peer0.org2) url="http://127.0.0.1:${PEER0_ORG2_OPS_PORT}/healthz" ;;
                *) url="http://127.0.0.1:$(ordererPort "$NODE_NAME" _OPS)/healthz" ;;
            esac
            startNode "$NODE_NAME" || fatalln "could not start ${NODE_NAME} (log ${logfile})"
            netctl wait-health --timeout "$HEALTH_TIMEOUT" --pidfiles "$pidfile" "${NODE_NAME}=${url}" ||
                fatalln "${NODE_NAME} did not become healthy (log ${logfile})" "$EXIT_TIMEOUT"
            ;;
        cc-*)
            # cc-<name> (one server) or cc-<name>-org1/-org2 (one per organisation), with the command
            # and folder deployCCAAS recorded in chaincode/<name>/server.env (as `start` uses them)
            local cc_name="${NODE_NAME#cc-}" slot_dir
            if [[ "$NODE_NAME" =~ ^cc-(.+)-(org[12])$ ]] && [ -d "${WORK}/chaincode/${BASH_REMATCH[1]}/${BASH_REMATCH[2]}" ]; then
                cc_name="${BASH_REMATCH[1]}"
                slot_dir="${WORK}/chaincode/${cc_name}/${BASH_REMATCH[2]}"
            else
                slot_dir="${WORK}/chaincode/${cc_name}"
            fi
            [ -f "${WORK}/chaincode/${cc_name}/server.env" ] ||
                fatalln "no chaincode/${cc_name}/server.env for ${NODE_NAME} (not deployed, or deployed before network.sh recorded it)" "$EXIT_FAIL"
            local CC_START CC_DIR CC_CHANNEL CC_PER_ORG package_id address
            # shellcheck disable=SC1091
            . "${WORK}/chaincode/${cc_name}/server.env"
            [ "$CC_START" != "NA" ] || fatalln "${cc_name} was deployed with -ccstart NA: start its server yourself" "$EXIT_FAIL"
            package_id="$(cat "${slot_dir}/package_id")" && address="$(cat "${slot_dir}/address")" ||
                fatalln "${slot_dir} has no package_id or address" "$EXIT_FAIL"
            netctl check-ports "${address##*:}" || exit "$EXIT_PREREQ"
            netctl start --name "$NODE_NAME" --pid "$pidfile" --log "$logfile" --cwd "$CC_DIR" --settle 1 \
                --env "CHAINCODE_ID=${package_id}" --env "CHAINCODE_SERVER_ADDRESS=${address}" \
                --env "CORE_CHAINCODE_ID_NAME=${package_id}" \
                -- /bin/sh -c "$CC_START" || fatalln "could not start ${NODE_NAME} (log ${logfile})"
            ;;
        *) fatalln "unknown node '${NODE_NAME}'" "$EXIT_USAGE" ;;
    esac
    successln "${NODE_NAME} started again in $(elapsed "$t0")s (pid $(cat "$pidfile"))"
}

# ------------------------------------------------------------------ down

# stopProcesses: every process of this network by its pid file (SIGTERM, SIGKILL after
# STOP_GRACE): chaincode servers first, then peers, then the orderers.
stopProcesses() {
    phase_begin "stop processes (SIGTERM, SIGKILL after ${STOP_GRACE}s)"
    local pidfiles=() f
    for f in "${WORK}"/pids/cc-*.pid; do [ -e "$f" ] && pidfiles+=("$f"); done
    if [ "${#pidfiles[@]}" -gt 0 ]; then
        netctl stop --grace "$STOP_GRACE" "${pidfiles[@]}" || fatalln "could not stop the chaincode servers"
    fi
    pidfiles=()
    for f in "${WORK}"/pids/peer*.pid; do [ -e "$f" ] && pidfiles+=("$f"); done
    if [ "${#pidfiles[@]}" -gt 0 ]; then
        netctl stop --grace "$STOP_GRACE" "${pidfiles[@]}" || fatalln "could not stop the peers"
    fi
    pidfiles=()
    for f in "${WORK}"/pids/*.pid; do [ -e "$f" ] && pidfiles+=("$f"); done
    if [ "${#pidfiles[@]}" -gt 0 ]; then
        netctl stop --grace "$STOP_GRACE" "${pidfiles[@]}" || fatalln "could not stop the orderers"
    fi
    phase_end
}

networkDown() {
    local t0; t0=$(now)
    if [ ! -d "$WORK" ]; then
        successln "no network in ${WORK}; nothing to do"
        return 0
    fi
    resolvePython
    stopProcesses
    phase_begin "remove ${WORK}"
    removeWorkDir
    phase_end
    successln "Network down in $(elapsed "$t0")s"
}

# ------------------------------------------------------------------ stop / start

# stop: every process, keeping the work folder (crypto, ledgers, chaincode packages) for `start`.
networkStop() {
    local t0; t0=$(now)
    if [ ! -f "$NETWORK_ENV" ]; then
        successln "no network in ${WORK}; nothing to stop"
        return 0
    fi
    resolvePython
    exportSettings
    stopProcesses
    successln "Network stopped in $(elapsed "$t0")s; ledgers kept in ${WORK} (./network.sh start runs it again)"
}

# startChaincodeServers: the server(s) of every chaincode deployed with a -ccstart command,
# as deployCCAAS started them (recorded in chaincode/<name>/server.env); the names served are
# left in CC_SERVED for the readiness queries.
startChaincodeServers() {
    local d name slot sdir pidfile logfile address
    CC_SERVED=()
    for d in "${WORK}"/chaincode/*/; do
        [ -d "$d" ] || continue
        d="${d%/}"
        name="$(basename "$d")"
        if [ ! -f "${d}/server.env" ]; then
            warnln "    ${name}: no server.env (deployed before network.sh recorded it); not started, redeploy it"
            continue
        fi
        local CC_START CC_DIR CC_CHANNEL CC_PER_ORG
        # shellcheck disable=SC1091
        . "${d}/server.env"
        if [ "$CC_START" = "NA" ]; then
            println "    ${name}: -ccstart NA at deploy; start its server yourself"
            continue
        fi
        local slots=(all)
        [ "$CC_PER_ORG" = true ] && slots=(org1 org2)
        for slot in "${slots[@]}"; do
            if [ "$slot" = all ]; then
                sdir="$d"; pidfile="${WORK}/pids/cc-${name}.pid"; logfile="${WORK}/logs/cc-${name}.log"
            else
                sdir="${d}/${slot}"; pidfile="${WORK}/pids/cc-${name}-${slot}.pid"; logfile="${WORK}/logs/cc-${name}-${slot}.log"
            fi
            address="$(cat "${sdir}/address")" || fatalln "${sdir}/address missing"
            netctl check-ports "${address##*:}" || exit "$EXIT_PREREQ"
            netctl start --name "$(basename "$pidfile" .pid)" --pid "$pidfile" --log "$logfile" --cwd "$CC_DIR" \
                --settle 1 --env "CHAINCODE_ID=$(cat "${sdir}/package_id")" --env "CHAINCODE_SERVER_ADDRESS=${address}" \
                --env "CORE_CHAINCODE_ID_NAME=$(cat "${sdir}/package_id")" \
                -- /bin/sh -c "$CC_START" || fatalln "the chaincode server $(basename "$pidfile" .pid) did not start (log ${logfile})"
        done
        CC_SERVED+=("${name}:${CC_CHANNEL}")
    done
}

# start: run a stopped network again from its work folder: the same crypto, configs, ports
# and ledgers (channels, blocks, world state, Raft logs), then the chaincode servers.
networkStart() {
    local t0; t0=$(now)
    [ -f "$NETWORK_ENV" ] || fatalln "no network in ${WORK} to start (./network.sh up creates one)" "$EXIT_FAIL"
    PATH="${FABRIC_BIN_DIR}:$PATH"
    checkBinaries peer orderer osnadmin
    [ -f "${FABRIC_CFG_DIR}/core.yaml" ] || fatalln "Fabric config missing: ${FABRIC_CFG_DIR}/core.yaml" "$EXIT_PREREQ"
    resolvePython
    exportSettings
    export FABRIC_CFG_PATH="$FABRIC_CFG_DIR"
    # shellcheck source=scripts/envVar.sh
    . "${NETWORK_DIR}/scripts/envVar.sh" || exit "$EXIT_FAIL"
    if anyNodeAlive; then
        fatalln "processes of the network in ${WORK} are running (./network.sh status); ./network.sh stop first" "$EXIT_FAIL"
    fi
    local ports=() name
    for name in "${ORDERERS[@]}"; do
        ports+=("$(ordererPort "$name")" "$(ordererPort "$name" _ADMIN)" "$(ordererPort "$name" _OPS)")
    done
    # The channel configuration names these ports: the network can only run on them again.
    netctl check-ports "${ports[@]}" \
        "$PEER0_ORG1_PORT" "$PEER0_ORG1_CC_PORT" "$PEER0_ORG1_OPS_PORT" \
        "$PEER0_ORG2_PORT" "$PEER0_ORG2_CC_PORT" "$PEER0_ORG2_OPS_PORT" || exit "$EXIT_PREREQ"
    trap abortUp EXIT
    trap 'exit 130' INT TERM

    phase_begin "start ${#ORDERERS[@]} orderer(s) and the peers from ${WORK}"
    for name in "${NODES[@]}"; do
        startNode "$name" || fatalln "could not start ${name}"
    done
    phase_end

    waitNodesHealthy

    local block org
    for block in "${WORK}"/channel-artifacts/*.block; do
        [ -e "$block" ] || continue
        CHANNEL_NAME="$(basename "$block" .block)"
        phase_begin "channel '${CHANNEL_NAME}': Raft leader, peers' ledgers"
        for name in "${ORDERERS[@]}"; do
            retry_until "$CHANNEL_TIMEOUT" "${name} serving channel '${CHANNEL_NAME}' (Raft leader elected)" \
                ordererServesChannel "$name" || exit "$EXIT_TIMEOUT"
        done
        for org in 1 2; do
            retry_until "$CHANNEL_TIMEOUT" "peer0.org${org} height" peerHeightAtLeast "$org" 1 || exit "$EXIT_TIMEOUT"
            println "    peer0.org${org}: ${LAST_OUTPUT}"
        done
        phase_end
    done

    phase_begin "chaincode servers"
    startChaincodeServers
    phase_end

    local served
    if [ "${#CC_SERVED[@]}" -gt 0 ] && [ "$CC_QUERY_CONSTRUCTOR" != "NA" ]; then
        phase_begin "wait until the chaincodes answer on both peers"
        for served in "${CC_SERVED[@]}"; do
            CC_NAME="${served%%:*}"
            CHANNEL_NAME="${served#*:}"
            for org in 1 2; do
                retry_until "$CC_READY_TIMEOUT" "${CC_NAME}: query ${CC_QUERY_CONSTRUCTOR} on peer0.org${org}" \
                    ccQuery "$org" || exit "$EXIT_TIMEOUT"
            done
            println "    ${CC_NAME}: answered on both peers"
        done
        phase_end
    fi
    trap - EXIT INT TERM
    successln "Network started again in $(elapsed "$t0")s from ${WORK}"
}

# ------------------------------------------------------------------ dispatch

case "$MODE" in
    up)
        networkUp
        if [ "$UP_THEN_CHANNEL" = true ]; then
            createChannel
        fi
        ;;
    createChannel) createChannel ;;
    deployCCAAS) deployCCAAS ;;
    status) networkStatus ;;
    startNode) startOneNode ;;
    down) networkDown ;;
    stop) networkStop ;;
    start) networkStart ;;
    *)
        errorln "unknown sub-command '${MODE}'"
        echo "Run ./network.sh -h for help." >&2
        exit "$EXIT_USAGE"
        ;;
esac
exit "$EXIT_OK"
