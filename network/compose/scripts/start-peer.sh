#!/bin/sh
# Entrypoint of the peer containers: the image's own core.yaml with vm.endpoint emptied, then `peer node start`.
#
# Chaincode runs as a service (the `chaincode` container, built by the image's ccaas_builder), so the peer needs
# no Docker socket. With vm.endpoint set, a peer registers a Docker health checker and its /healthz fails without
# one; an empty CORE_VM_ENDPOINT does not help (Fabric ignores empty environment overrides), hence this edit.
# Every other setting comes from CORE_* variables (network/compose/peer.env and docker-compose.yaml).
set -eu
src=""
for dir in "${FABRIC_CFG_PATH:-}" /etc/hyperledger/fabric /var/hyperledger/fabric/config; do
    if [ -n "$dir" ] && [ -f "${dir}/core.yaml" ]; then src="${dir}/core.yaml"; break; fi
done
[ -n "$src" ] || { echo "start-peer.sh: no core.yaml in the image (FABRIC_CFG_PATH=${FABRIC_CFG_PATH:-})" >&2; exit 1; }
cfg="${VPP_PEER_CONFIG_DIR:-/tmp/vpp-peer-config}"
mkdir -p "$cfg"
# Only the `endpoint:` key inside the top-level `vm:` section (the next top-level key ends the range).
sed '/^vm:/,/^[A-Za-z]/ s|^\([[:space:]]*endpoint:\).*|\1 ""|' "$src" >"${cfg}/core.yaml"
sed -n '/^vm:/,/^[A-Za-z]/p' "${cfg}/core.yaml" | grep -q '^[[:space:]]*endpoint: ""$' || { echo "start-peer.sh: could not empty vm.endpoint in ${src}" >&2; exit 1; }
export FABRIC_CFG_PATH="$cfg"
exec peer node start
