#!/bin/sh
# The `enroll` job of docker-compose.yaml (image hyperledger/fabric-ca): registers and enrolls every identity of
# the network with its organisation's Fabric CA and writes the MSP tree the nodes mount, in cryptogen's layout
# (the native network's), under /organizations:
#
#   ordererOrganizations/example.com/
#     msp/                                   OrdererMSP for the channel (cacerts, tlscacerts, config.yaml)
#     tlsca/tlsca.example.com-cert.pem       TLS root for clients of the orderers
#     orderers/orderer{,2,3}.example.com/{msp,tls}
#     users/Admin@example.com/{msp,tls}      osnadmin uses its TLS client certificate
#   peerOrganizations/org{1,2}.example.com/
#     msp/, tlsca/tlsca.org{1,2}.example.com-cert.pem, ca/ca.org{1,2}.example.com-cert.pem
#     peers/peer0.org{1,2}.example.com/{msp,tls}
#     users/{Admin,User1}@org{1,2}.example.com/msp
#     gateway-ca/{cert.pem,key.pem}          the REST gateway's CA for its users' identities (see below)
#
# Follows fabric-samples' test-network/organizations/fabric-ca/registerEnroll.sh. Differences: the enrollment
# secrets of nodes and users are random and used once (nothing to store), and the NodeOUs config names no
# certifying CA, so identities issued by the gateway's CA (a second root, below) get their roles too.
# Runs once: /organizations/.enrolled marks a complete tree; a half-done run is redone (an identity registered
# by it gets a new secret).
set -eu

ORGS=/organizations
DONE="${ORGS}/.enrolled"
if [ -f "$DONE" ]; then
    echo "enroll: ${ORGS} is complete (${DONE}); nothing to do"
    exit 0
fi

secret() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

# NodeOUs: the role of an identity is the OU its certificate carries (Fabric CA writes the identity type there).
write_node_ous() { # MSP_DIR
    cat >"$1/config.yaml" <<'EOF'
NodeOUs:
  Enable: true
  ClientOUIdentifier:
    OrganizationalUnitIdentifier: client
  PeerOUIdentifier:
    OrganizationalUnitIdentifier: peer
  AdminOUIdentifier:
    OrganizationalUnitIdentifier: admin
  OrdererOUIdentifier:
    OrganizationalUnitIdentifier: orderer
EOF
}

# ca_admin CA_NAME URL_HOST_PORT CA_CERT PASSWORD: enroll the CA's bootstrap administrator (the registrar).
ca_admin() {
    CA_NAME="$1" CA_HOSTPORT="$2" CA_CERT="$3"
    export FABRIC_CA_CLIENT_HOME="/tmp/registrar-${CA_NAME}"
    rm -rf "$FABRIC_CA_CLIENT_HOME"
    until fabric-ca-client getcainfo -u "https://${CA_HOSTPORT}" --caname "$CA_NAME" --tls.certfiles "$CA_CERT" \
        -H /tmp/cainfo-probe >/dev/null 2>&1; do
        echo "enroll: waiting for ${CA_NAME}"
        sleep 1
    done
    fabric-ca-client enroll -u "https://admin:${4}@${CA_HOSTPORT}" --caname "$CA_NAME" --tls.certfiles "$CA_CERT"
}

# register NAME TYPE SECRET [ATTRS]: register an identity, or give it a new secret if it exists already.
register() {
    if ! fabric-ca-client register --caname "$CA_NAME" --id.name "$1" --id.type "$2" --id.secret "$3" \
        ${4:+--id.attrs "$4"} --tls.certfiles "$CA_CERT" 2>/tmp/register.err; then
        if grep -q "already registered" /tmp/register.err; then
            fabric-ca-client identity modify "$1" --caname "$CA_NAME" --secret "$3" --tls.certfiles "$CA_CERT"
        else
            cat /tmp/register.err >&2
            return 1
        fi
    fi
}

# enroll NAME SECRET MSP_DIR [PROFILE HOSTS]: enroll into MSP_DIR; the CA certificate is renamed to ca.pem.
enroll() {
    rm -rf "$3"
    fabric-ca-client enroll -u "https://${1}:${2}@${CA_HOSTPORT}" --caname "$CA_NAME" --tls.certfiles "$CA_CERT" \
        -M "$3" ${4:+--enrollment.profile "$4"} ${5:+--csr.hosts "$5"}
    for f in "$3"/cacerts/*.pem "$3"/tlscacerts/*.pem; do
        [ -e "$f" ] && mv "$f" "$(dirname "$f")/ca.pem"
    done
    if [ -d "$3/keystore" ]; then
        for f in "$3"/keystore/*_sk; do mv "$f" "$3/keystore/priv_sk"; done
    fi
}

# node ORG_DIR KIND NAME HOSTS: a peer or orderer: its MSP and its TLS server certificate (cryptogen's file names).
node() {
    org_dir="$1" kind="$2" name="$3" hosts="$4"
    pw="$(secret)"
    register "$name" "$kind" "$pw"
    dir="${org_dir}/${kind}s/${name}"
    enroll "$name" "$pw" "${dir}/msp"
    write_node_ous "${dir}/msp"
    enroll "$name" "$pw" "${dir}/tls-enroll" tls "$hosts"
    mkdir -p "${dir}/tls"
    cp "${dir}/tls-enroll/tlscacerts/ca.pem" "${dir}/tls/ca.crt"
    cp "${dir}/tls-enroll/signcerts/cert.pem" "${dir}/tls/server.crt"
    cp "${dir}/tls-enroll/keystore/priv_sk" "${dir}/tls/server.key"
    rm -rf "${dir}/tls-enroll"
}

# user ORG_DIR DOMAIN USER TYPE ENROLLMENT_ID: Admin or User1 of an organisation (MSP, and a TLS client certificate).
user() {
    org_dir="$1" domain="$2" who="$3" type="$4" id="$5"
    pw="$(secret)"
    register "$id" "$type" "$pw"
    dir="${org_dir}/users/${who}@${domain}"
    enroll "$id" "$pw" "${dir}/msp"
    write_node_ous "${dir}/msp"
    enroll "$id" "$pw" "${dir}/tls-enroll" tls "$id"
    mkdir -p "${dir}/tls"
    cp "${dir}/tls-enroll/tlscacerts/ca.pem" "${dir}/tls/ca.crt"
    cp "${dir}/tls-enroll/signcerts/cert.pem" "${dir}/tls/client.crt"
    cp "${dir}/tls-enroll/keystore/priv_sk" "${dir}/tls/client.key"
    rm -rf "${dir}/tls-enroll"
}

# org_msp ORG_DIR DOMAIN: the organisation's MSP as the channel sees it, and the CA files clients need.
org_msp() {
    mkdir -p "$1/msp/cacerts" "$1/msp/tlscacerts" "$1/tlsca" "$1/ca"
    cp "$CA_CERT" "$1/msp/cacerts/ca.pem"
    cp "$CA_CERT" "$1/msp/tlscacerts/ca.pem"
    cp "$CA_CERT" "$1/tlsca/tlsca.$2-cert.pem"
    cp "$CA_CERT" "$1/ca/ca.$2-cert.pem"
    write_node_ous "$1/msp"
}

# The REST gateway issues an X.509 identity per user and API key (DESIGN.md section 7) from a CA of its own.
# On Fabric, the channel MSP must trust that CA: it is a second root in the organisation's msp/cacerts, made
# here with `fabric-ca-server init` (a self-signed CA certificate and key). Not an intermediate under the
# organisation's root: once an MSP lists an intermediate, Fabric refuses identities the root signs directly
# ("Parent certificate should be a leaf of the certification tree"), i.e. every peer, admin and user above.
gateway_ca() { # ORG_DIR DOMAIN
    rm -rf /tmp/gateway-ca
    fabric-ca-server init -H /tmp/gateway-ca -b "unused:$(secret)" --csr.cn "gateway-ca.$2" >/tmp/gateway-ca.log 2>&1 ||
        { cat /tmp/gateway-ca.log >&2; return 1; }
    mkdir -p "$1/gateway-ca"
    cp /tmp/gateway-ca/ca-cert.pem "$1/gateway-ca/cert.pem"
    cp /tmp/gateway-ca/msp/keystore/*_sk "$1/gateway-ca/key.pem"
    cp /tmp/gateway-ca/ca-cert.pem "$1/msp/cacerts/gateway-ca.pem"
    # The gateway container runs as 65534 (nobody); the key stays unreadable to everyone else.
    chown -R 65534:65534 "$1/gateway-ca"
    rm -rf /tmp/gateway-ca /tmp/gateway-ca.log
}

umask 022

# ---------------------------------------------------------------- orderer organisation
ca_admin ca-orderer ca-orderer:7059 /cas/orderer/ca-cert.pem "$CA_ORDERER_ADMIN_PASSWORD"
O="${ORGS}/ordererOrganizations/example.com"
org_msp "$O" example.com
for n in orderer orderer2 orderer3; do
    node "$O" orderer "${n}.example.com" "${n}.example.com,${n},localhost,127.0.0.1"
done
user "$O" example.com Admin admin ordereradmin

# ---------------------------------------------------------------- peer organisations
for org in 1 2; do
    case "$org" in
        1) ca_admin ca-org1 ca-org1:7060 /cas/org1/ca-cert.pem "$CA_ORG1_ADMIN_PASSWORD" ;;
        2) ca_admin ca-org2 ca-org2:7063 /cas/org2/ca-cert.pem "$CA_ORG2_ADMIN_PASSWORD" ;;
    esac
    D="org${org}.example.com"
    P="${ORGS}/peerOrganizations/${D}"
    org_msp "$P" "$D"
    node "$P" peer "peer0.${D}" "peer0.${D},peer0-org${org},localhost,127.0.0.1"
    user "$P" "$D" Admin admin "org${org}admin"
    user "$P" "$D" User1 client "org${org}user1"
    gateway_ca "$P" "$D"
done

# Private keys readable by the node containers' users only through the volume (the images run as root).
find "$ORGS" -name '*_sk' -o -name '*.key' -o -name key.pem | xargs chmod 600
date -u +%Y-%m-%dT%H:%M:%SZ >"$DONE"
echo "enroll: identities written to ${ORGS}"
