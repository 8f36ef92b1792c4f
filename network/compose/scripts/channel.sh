#!/bin/sh
# The `channel` job of docker-compose.yaml (image hyperledger/fabric-tools): the channel genesis block
# (configtxgen, network/compose/configtx.yaml), each of the three orderers joined with osnadmin until it is an
# active Raft consenter, then both peers joined. What network.sh createChannel does natively.
# Safe to run again: an orderer or peer that already has the channel is left alone.
set -eu

CHANNEL="${CHANNEL_NAME:-vppchannel}"
ORGS=/organizations
ARTIFACTS=/artifacts
BLOCK="${ARTIFACTS}/${CHANNEL}.block"
ORDERER_CA="${ORGS}/ordererOrganizations/example.com/tlsca/tlsca.example.com-cert.pem"
ADMIN_TLS="${ORGS}/ordererOrganizations/example.com/users/Admin@example.com/tls"
TIMEOUT="${CHANNEL_TIMEOUT:-120}"

# retry DESCRIPTION CMD...: until CMD succeeds or TIMEOUT seconds pass.
retry() {
    desc="$1"
    shift
    start=$(date +%s)
    until out="$("$@" 2>&1)"; do
        if [ $(($(date +%s) - start)) -ge "$TIMEOUT" ]; then
            echo "channel: ${desc}: gave up after ${TIMEOUT}s; last output:" >&2
            echo "$out" >&2
            return 1
        fi
        sleep 1
    done
}

mkdir -p "$ARTIFACTS"
if [ ! -f "$BLOCK" ]; then
    configtxgen -configPath /vpp/compose -profile VppChannelUsingRaft -outputBlock "${BLOCK}.tmp" -channelID "$CHANNEL"
    mv "${BLOCK}.tmp" "$BLOCK"
fi

osn() { # HOST:ADMIN_PORT osnadmin-channel-args...
    target="$1"
    shift
    osnadmin channel "$@" -o "$target" --ca-file "$ORDERER_CA" \
        --client-cert "${ADMIN_TLS}/client.crt" --client-key "${ADMIN_TLS}/client.key"
}
is_consenter() { # HOST:ADMIN_PORT
    listing="$(osn "$1" list --channelID "$CHANNEL")" || return 1
    echo "$listing" | grep -q '"status": "active"' && echo "$listing" | grep -q '"consensusRelation": "consenter"'
}

ORDERER_ADMINS="orderer.example.com:7053 orderer2.example.com:7057 orderer3.example.com:7067"
for admin in $ORDERER_ADMINS; do
    if osn "$admin" list --channelID "$CHANNEL" 2>/dev/null | grep -q "\"name\": \"${CHANNEL}\""; then
        echo "channel: ${admin%%:*} already has ${CHANNEL}"
    else
        osn "$admin" join --channelID "$CHANNEL" --config-block "$BLOCK"
    fi
done
for admin in $ORDERER_ADMINS; do
    retry "${admin%%:*}: ${CHANNEL} active with consensus relation consenter" is_consenter "$admin"
    echo "channel: ${admin%%:*} is an active consenter of ${CHANNEL}"
done

peer_env() { # ORG PORT
    export CORE_PEER_TLS_ENABLED=true
    export CORE_PEER_LOCALMSPID="Org${1}MSP"
    export CORE_PEER_ADDRESS="peer0.org${1}.example.com:${2}"
    export CORE_PEER_TLS_ROOTCERT_FILE="${ORGS}/peerOrganizations/org${1}.example.com/tlsca/tlsca.org${1}.example.com-cert.pem"
    export CORE_PEER_MSPCONFIGPATH="${ORGS}/peerOrganizations/org${1}.example.com/users/Admin@org${1}.example.com/msp"
}
# A peer that joined in an earlier, interrupted attempt answers "already exists": that is success.
join_peer() {
    out="$(peer channel join -b "$BLOCK" 2>&1)" && return 0
    echo "$out" | grep -q "already exists" && return 0
    echo "$out"
    return 1
}
for org_port in 1:7051 2:7061; do
    peer_env "${org_port%%:*}" "${org_port##*:}"
    if peer channel getinfo -c "$CHANNEL" >/dev/null 2>&1; then
        echo "channel: peer0.org${org_port%%:*} already joined ${CHANNEL}"
        continue
    fi
    # The first join can come before the Raft leader is elected: retried.
    retry "peer0.org${org_port%%:*} joins ${CHANNEL}" join_peer
    retry "peer0.org${org_port%%:*} has ${CHANNEL}" peer channel getinfo -c "$CHANNEL"
    echo "channel: peer0.org${org_port%%:*} joined ${CHANNEL}"
done
touch "${ARTIFACTS}/${CHANNEL}.joined"
