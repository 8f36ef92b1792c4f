#!/usr/bin/env bash
# Point the `peer` CLI at the native test network — the counterpart of fabric-samples'
# test-network/scripts/envVar.sh. Source it (bash), then pick an organisation:
#
#   . network/scripts/envVar.sh            # reads $NETWORK_WORK_DIR/network.env
#   setGlobals 1                          # Org1MSP admin on peer0.org1 (setGlobals 2 [User1])
#   parsePeerConnectionParameters 1 2     # PEER_CONN_PARMS=(--peerAddresses ... --tlsRootCertFiles ...)
#   peer chaincode invoke -o "$ORDERER_ADDRESS" --tls --cafile "$ORDERER_CA" \
#       -C vppchannel -n records "${PEER_CONN_PARMS[@]}" --waitForEvent \
#       -c '{"Args":["CreateRecord","r1","42"]}'
#   peer chaincode query -C vppchannel -n records -c '{"Args":["ReadRecord","r1"]}'
#
# The network must have been started with `network.sh up` on the same NETWORK_WORK_DIR
# (default network/work); the ports and paths it used are recorded in network.env.
#
# Exported after sourcing:
#   FABRIC_CFG_PATH           Fabric's config dir (core.yaml for the CLI)
#   PATH                      prefixed with the dir holding the peer binary the network uses
#   CORE_PEER_TLS_ENABLED     true
#   ORDERER_ADDRESS, ORDERER_CA, ORDERER_TLS_HOSTNAME     (the first Raft orderer, "orderer")
#   ORDERER_ADMIN_ADDRESS, ORDERER_ADMIN_TLS_SIGN_CERT, ORDERER_ADMIN_TLS_PRIVATE_KEY (osnadmin)
#   ORDERER_COUNT; ORDERER2_ADDRESS, ORDERER2_ADMIN_ADDRESS, ORDERER3_... when those orderers run
#   (the same CA, admin certificate and key work for every orderer)
#   PEER0_ORG1_ADDRESS, PEER0_ORG1_CA, PEER0_ORG2_ADDRESS, PEER0_ORG2_CA
#   PEER_CONN_ARGS            "--peerAddresses A1 --tlsRootCertFiles C1 --peerAddresses A2 ..." (both peers)
# and after setGlobals ORG [USER]:
#   CORE_PEER_LOCALMSPID, CORE_PEER_ADDRESS, CORE_PEER_TLS_ROOTCERT_FILE, CORE_PEER_MSPCONFIGPATH

_VPP_NETWORK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${NETWORK_WORK_DIR:=${_VPP_NETWORK_DIR}/work}"

# loadNetworkEnv: read the topology recorded by `network.sh up`.
loadNetworkEnv() {
    if [ ! -f "${NETWORK_WORK_DIR}/network.env" ]; then
        echo "envVar.sh: no network in ${NETWORK_WORK_DIR} (run network.sh up, or set NETWORK_WORK_DIR)" >&2
        return 1
    fi
    # shellcheck disable=SC1091
    . "${NETWORK_WORK_DIR}/network.env"
    local orgs="${NETWORK_WORK_DIR}/organizations"
    case ":${PATH}:" in
        *":${FABRIC_BIN_DIR}:"*) ;;
        *) export PATH="${FABRIC_BIN_DIR}:${PATH}" ;;
    esac
    export FABRIC_CFG_PATH="${FABRIC_CFG_DIR}"
    export CORE_PEER_TLS_ENABLED=true
    export ORDERER_ADDRESS="127.0.0.1:${ORDERER_PORT}"
    export ORDERER_TLS_HOSTNAME="orderer.example.com"
    export ORDERER_CA="${orgs}/ordererOrganizations/example.com/tlsca/tlsca.example.com-cert.pem"
    export ORDERER_ADMIN_ADDRESS="127.0.0.1:${ORDERER_ADMIN_PORT}"
    export ORDERER_ADMIN_TLS_SIGN_CERT="${orgs}/ordererOrganizations/example.com/users/Admin@example.com/tls/client.crt"
    export ORDERER_ADMIN_TLS_PRIVATE_KEY="${orgs}/ordererOrganizations/example.com/users/Admin@example.com/tls/client.key"
    # A network.env written before there were three orderers has no ORDERER_COUNT: it ran one.
    export ORDERER_COUNT="${ORDERER_COUNT:-1}"
    unset ORDERER2_ADDRESS ORDERER2_ADMIN_ADDRESS ORDERER3_ADDRESS ORDERER3_ADMIN_ADDRESS
    if [ "$ORDERER_COUNT" -ge 2 ]; then
        export ORDERER2_ADDRESS="127.0.0.1:${ORDERER2_PORT}" ORDERER2_ADMIN_ADDRESS="127.0.0.1:${ORDERER2_ADMIN_PORT}"
    fi
    if [ "$ORDERER_COUNT" -ge 3 ]; then
        export ORDERER3_ADDRESS="127.0.0.1:${ORDERER3_PORT}" ORDERER3_ADMIN_ADDRESS="127.0.0.1:${ORDERER3_ADMIN_PORT}"
    fi
    export PEER0_ORG1_ADDRESS="127.0.0.1:${PEER0_ORG1_PORT}"
    export PEER0_ORG1_CA="${orgs}/peerOrganizations/org1.example.com/tlsca/tlsca.org1.example.com-cert.pem"
    export PEER0_ORG2_ADDRESS="127.0.0.1:${PEER0_ORG2_PORT}"
    export PEER0_ORG2_CA="${orgs}/peerOrganizations/org2.example.com/tlsca/tlsca.org2.example.com-cert.pem"
    export PEER_CONN_ARGS="--peerAddresses ${PEER0_ORG1_ADDRESS} --tlsRootCertFiles ${PEER0_ORG1_CA} --peerAddresses ${PEER0_ORG2_ADDRESS} --tlsRootCertFiles ${PEER0_ORG2_CA}"
}

# setGlobals ORG [USER]: ORG is 1|2|org1|org2|Org1MSP|Org2MSP, USER is Admin (default) or User1.
setGlobals() {
    local org="${OVERRIDE_ORG:-$1}" user="${2:-Admin}"
    case "$org" in
        1|org1|Org1|Org1MSP) org=1 ;;
        2|org2|Org2|Org2MSP) org=2 ;;
        *) echo "setGlobals: unknown organisation '$org' (use 1 or 2)" >&2; return 2 ;;
    esac
    local ca_var="PEER0_ORG${org}_CA" addr_var="PEER0_ORG${org}_ADDRESS"
    export CORE_PEER_LOCALMSPID="Org${org}MSP"
    export CORE_PEER_ADDRESS="${!addr_var}"
    export CORE_PEER_TLS_ROOTCERT_FILE="${!ca_var}"
    export CORE_PEER_MSPCONFIGPATH="${NETWORK_WORK_DIR}/organizations/peerOrganizations/org${org}.example.com/users/${user}@org${org}.example.com/msp"
    if [ ! -d "$CORE_PEER_MSPCONFIGPATH" ]; then
        echo "setGlobals: no MSP for ${user} in org${org}: ${CORE_PEER_MSPCONFIGPATH}" >&2
        return 1
    fi
    if [ "${VERBOSE:-false}" = "true" ]; then env | grep '^CORE_PEER' >&2; fi
}

# parsePeerConnectionParameters ORG...: PEER_CONN_PARMS (array) with --peerAddresses and
# --tlsRootCertFiles for peer0 of each ORG, PEERS = "peer0.org1 peer0.org2".
parsePeerConnectionParameters() {
    PEER_CONN_PARMS=()
    PEERS=""
    local org ca_var addr_var
    for org in "$@"; do
        case "$org" in org1|Org1MSP) org=1 ;; org2|Org2MSP) org=2 ;; esac
        ca_var="PEER0_ORG${org}_CA"; addr_var="PEER0_ORG${org}_ADDRESS"
        PEERS="${PEERS:+$PEERS }peer0.org${org}"
        PEER_CONN_PARMS+=(--peerAddresses "${!addr_var}" --tlsRootCertFiles "${!ca_var}")
    done
}

loadNetworkEnv
