#!/bin/sh
# The `chaincode-deploy` job of docker-compose.yaml (image hyperledger/fabric-tools): the energy contract as a
# chaincode-as-a-service, the fabric-samples way (test-network deployCCAAS) — what network.sh deployCCAAS does
# natively:
#
#   1. package: metadata.json {"type":"ccaas","label":"vpp_1.0"} and code.tar.gz holding connection.json
#      {"address":"chaincode:9999"} plus the contract's META-INF (CouchDB indexes, installed by the peers);
#   2. install on peer0.org1 and peer0.org2 (the image's ccaas_builder builds it);
#   3. approveformyorg for Org1MSP and Org2MSP, commit with both peers' endorsement;
#   4. write the package id to /artifacts/<name>.package_id: the `chaincode` container starts with it as
#      CHAINCODE_ID (the peers dial chaincode:9999 on the first transaction).
#
# Safe to run again: the package is kept in /artifacts (a new one would get a new package id), installs and
# the committed definition are checked before being redone.
set -eu

CHANNEL="${CHANNEL_NAME:-vppchannel}"
CC_NAME="${CC_NAME:-vpp}"
CC_VERSION="${CC_VERSION:-1.0}"
CC_SEQUENCE="${CC_SEQUENCE:-1}"
CC_ADDRESS="${CC_ADDRESS:-chaincode:9999}"
ORGS=/organizations
ARTIFACTS=/artifacts
PKG="${ARTIFACTS}/${CC_NAME}.tar.gz"
ORDERER=orderer.example.com:7050
ORDERER_CA="${ORGS}/ordererOrganizations/example.com/tlsca/tlsca.example.com-cert.pem"
LABEL="${CC_NAME}_${CC_VERSION}"

peer_env() { # ORG
    case "$1" in 1) port=7051 ;; 2) port=7061 ;; esac
    export CORE_PEER_TLS_ENABLED=true
    export CORE_PEER_LOCALMSPID="Org${1}MSP"
    export CORE_PEER_ADDRESS="peer0.org${1}.example.com:${port}"
    export CORE_PEER_TLS_ROOTCERT_FILE="${ORGS}/peerOrganizations/org${1}.example.com/tlsca/tlsca.org${1}.example.com-cert.pem"
    export CORE_PEER_MSPCONFIGPATH="${ORGS}/peerOrganizations/org${1}.example.com/users/Admin@org${1}.example.com/msp"
}

if [ ! -f "$PKG" ]; then
    work="$(mktemp -d)"
    printf '{"address":"%s","dial_timeout":"10s","tls_required":false}\n' "$CC_ADDRESS" >"${work}/connection.json"
    printf '{"type":"ccaas","label":"%s"}\n' "$LABEL" >"${work}/metadata.json"
    if [ -d /vpp/contract/META-INF ]; then
        cp -r /vpp/contract/META-INF "${work}/META-INF"
        tar -C "$work" -czf "${work}/code.tar.gz" connection.json META-INF
    else
        tar -C "$work" -czf "${work}/code.tar.gz" connection.json
    fi
    tar -C "$work" -czf "${PKG}.tmp" metadata.json code.tar.gz
    mv "${PKG}.tmp" "$PKG"
    rm -rf "$work"
fi
PACKAGE_ID="$(peer lifecycle chaincode calculatepackageid "$PKG")"
echo "deploy-cc: ${CC_NAME} package ${PACKAGE_ID}, server ${CC_ADDRESS}"

for org in 1 2; do
    peer_env "$org"
    if peer lifecycle chaincode queryinstalled 2>/dev/null | grep -q "$PACKAGE_ID"; then
        echo "deploy-cc: already installed on peer0.org${org}"
    else
        peer lifecycle chaincode install "$PKG"
    fi
done

peer_env 1
committed="$(peer lifecycle chaincode querycommitted -C "$CHANNEL" -n "$CC_NAME" 2>/dev/null || true)"
if echo "$committed" | grep -q "Version: ${CC_VERSION}, Sequence: ${CC_SEQUENCE},"; then
    echo "deploy-cc: ${CC_NAME} ${CC_VERSION} sequence ${CC_SEQUENCE} already committed on ${CHANNEL}"
else
    for org in 1 2; do
        peer_env "$org"
        # Approved in an earlier, interrupted run: approving the same definition again is refused.
        if peer lifecycle chaincode queryapproved -C "$CHANNEL" -n "$CC_NAME" --sequence "$CC_SEQUENCE" 2>/dev/null |
            grep -q "$PACKAGE_ID"; then
            echo "deploy-cc: Org${org}MSP already approved ${CC_NAME} sequence ${CC_SEQUENCE}"
            continue
        fi
        peer lifecycle chaincode approveformyorg -o "$ORDERER" --tls --cafile "$ORDERER_CA" -C "$CHANNEL" \
            -n "$CC_NAME" --version "$CC_VERSION" --package-id "$PACKAGE_ID" --sequence "$CC_SEQUENCE" \
            --waitForEventTimeout 120s
    done
    peer_env 1
    peer lifecycle chaincode checkcommitreadiness -C "$CHANNEL" -n "$CC_NAME" --version "$CC_VERSION" \
        --sequence "$CC_SEQUENCE"
    peer lifecycle chaincode commit -o "$ORDERER" --tls --cafile "$ORDERER_CA" -C "$CHANNEL" -n "$CC_NAME" \
        --version "$CC_VERSION" --sequence "$CC_SEQUENCE" \
        --peerAddresses peer0.org1.example.com:7051 \
        --tlsRootCertFiles "${ORGS}/peerOrganizations/org1.example.com/tlsca/tlsca.org1.example.com-cert.pem" \
        --peerAddresses peer0.org2.example.com:7061 \
        --tlsRootCertFiles "${ORGS}/peerOrganizations/org2.example.com/tlsca/tlsca.org2.example.com-cert.pem" \
        --waitForEventTimeout 120s
fi
echo "$PACKAGE_ID" >"${ARTIFACTS}/${CC_NAME}.package_id.tmp"
mv "${ARTIFACTS}/${CC_NAME}.package_id.tmp" "${ARTIFACTS}/${CC_NAME}.package_id"
echo "deploy-cc: done; the chaincode container serves ${PACKAGE_ID}"
