"""Key-level endorsement policies: "every one of these organisations' peers must endorse changes to this key".

The bytes are a ``common.SignaturePolicyEnvelope``, as the Go shim's ``statebased`` package builds them
(principals with role PEER, an N-out-of-N rule, organisations sorted).
"""

from __future__ import annotations

from fabric_protos.common import policies_pb2
from fabric_protos.msp import msp_principal_pb2


def key_endorsement_policy(msp_ids: list[str]) -> bytes:
    orgs = sorted(set(msp_ids))
    if not orgs:
        raise ValueError("a key endorsement policy needs at least one organisation")
    identities = [
        msp_principal_pb2.MSPPrincipal(
            principal_classification=msp_principal_pb2.MSPPrincipal.ROLE,
            principal=msp_principal_pb2.MSPRole(msp_identifier=org, role=msp_principal_pb2.MSPRole.PEER)
            .SerializeToString(),
        )
        for org in orgs
    ]
    rule = policies_pb2.SignaturePolicy(n_out_of=policies_pb2.SignaturePolicy.NOutOf(
        n=len(orgs), rules=[policies_pb2.SignaturePolicy(signed_by=i) for i in range(len(orgs))]))
    return policies_pb2.SignaturePolicyEnvelope(version=0, rule=rule, identities=identities).SerializeToString()


def organisations_of(policy: bytes) -> list[str]:
    """The MSP IDs named by a policy built with :func:`key_endorsement_policy`."""
    if not policy:
        return []
    envelope = policies_pb2.SignaturePolicyEnvelope.FromString(policy)
    return [msp_principal_pb2.MSPRole.FromString(p.principal).msp_identifier for p in envelope.identities]
