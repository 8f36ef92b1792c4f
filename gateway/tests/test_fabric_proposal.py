from __future__ import annotations

import hashlib

import pytest
from fabric_protos.common import common_pb2
from fabric_protos.peer import (
    chaincode_pb2,
    proposal_pb2,
    proposal_response_pb2,
    transaction_pb2,
)
from vpp_gateway.fabric.proposal import (
    build_proposal,
    new_transaction_context,
    qualified_transaction_name,
    result_from_envelope,
)

CREATOR = b"\x0a\x07Org1MSP\x12\x04cert"


def decode(proposal_bytes):
    proposal = proposal_pb2.Proposal.FromString(proposal_bytes)
    header = common_pb2.Header.FromString(proposal.header)
    channel_header = common_pb2.ChannelHeader.FromString(header.channel_header)
    signature_header = common_pb2.SignatureHeader.FromString(header.signature_header)
    payload = proposal_pb2.ChaincodeProposalPayload.FromString(proposal.payload)
    spec = chaincode_pb2.ChaincodeInvocationSpec.FromString(payload.input).chaincode_spec
    return proposal, channel_header, signature_header, payload, spec


def test_proposal_has_the_layout_fabric_expects():
    nonce = bytes(range(24))
    context = new_transaction_context(CREATOR, nonce)

    proposal_bytes, tx_id = build_proposal(
        channel_id="vpp",
        chaincode_name="vpp-cc",
        transaction_name=qualified_transaction_name("Mint", "TokenContract"),
        args=["meter-1", b"\xff"],
        transient={"key": "v"},
        creator=CREATOR,
        context=context,
        timestamp_ns=1_700_000_000_123_456_789,
    )

    proposal, channel_header, signature_header, payload, spec = decode(proposal_bytes)
    assert tx_id == hashlib.sha256(nonce + CREATOR).hexdigest() == channel_header.tx_id
    assert channel_header.type == common_pb2.ENDORSER_TRANSACTION
    assert channel_header.channel_id == "vpp"
    assert channel_header.epoch == 0
    assert (channel_header.timestamp.seconds, channel_header.timestamp.nanos) == (1_700_000_000, 123_456_789)
    extension = proposal_pb2.ChaincodeHeaderExtension.FromString(channel_header.extension)
    assert extension.chaincode_id.name == "vpp-cc"
    assert (signature_header.creator, signature_header.nonce) == (CREATOR, nonce)
    assert spec.type == chaincode_pb2.ChaincodeSpec.NODE
    assert spec.chaincode_id.name == "vpp-cc"
    assert list(spec.input.args) == [b"TokenContract:Mint", b"meter-1", b"\xff"]
    assert dict(payload.TransientMap) == {"key": b"v"}
    assert proposal.extension == b""


def test_fresh_contexts_have_random_24_byte_nonces():
    contexts = [new_transaction_context(CREATOR) for _ in range(50)]
    assert all(len(c.nonce) == 24 for c in contexts)
    assert len({c.transaction_id for c in contexts}) == 50


def test_naming_and_argument_checks():
    assert qualified_transaction_name("Mint", None) == "Mint"
    assert qualified_transaction_name("Mint", "") == "Mint"
    assert qualified_transaction_name("Mint", "Token") == "Token:Mint"
    with pytest.raises(ValueError):
        qualified_transaction_name("", "Token")
    with pytest.raises(TypeError, match="str or bytes"):
        build_proposal(channel_id="c", chaincode_name="cc", transaction_name="T", args=[5], creator=CREATOR)
    with pytest.raises(ValueError):
        build_proposal(channel_id="", chaincode_name="cc", transaction_name="T", creator=CREATOR)


def test_result_is_read_from_the_prepared_envelope():
    action = proposal_pb2.ChaincodeAction(response=proposal_response_pb2.Response(status=200, payload=b"42"))
    response_payload = proposal_response_pb2.ProposalResponsePayload(extension=action.SerializeToString())
    action_payload = transaction_pb2.ChaincodeActionPayload(
        action=transaction_pb2.ChaincodeEndorsedAction(proposal_response_payload=response_payload.SerializeToString())
    )
    transaction = transaction_pb2.Transaction(
        actions=[transaction_pb2.TransactionAction(payload=action_payload.SerializeToString())]
    )
    payload = common_pb2.Payload(data=transaction.SerializeToString()).SerializeToString()

    assert result_from_envelope(payload) == b"42"
    with pytest.raises(ValueError):
        result_from_envelope(common_pb2.Payload(data=b"").SerializeToString())
