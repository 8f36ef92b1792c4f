"""Fabric transaction protobufs: the chaincode proposal a client signs, and the result
inside the transaction envelope the Gateway returns from Endorse.

Pure functions over bytes; nothing here talks to the network.

Proposal layout (what a peer unpacks in ``protoutil.UnpackProposal``)::

    SignedProposal{ proposal_bytes = Proposal{
        header  = Header{ channel_header   = ChannelHeader{ENDORSER_TRANSACTION, channel_id, tx_id,
                                                           timestamp, epoch 0,
                                                           extension = ChaincodeHeaderExtension{chaincode_id}},
                          signature_header = SignatureHeader{creator, nonce} },
        payload = ChaincodeProposalPayload{ input = ChaincodeInvocationSpec{ChaincodeSpec{
                                                type NODE, chaincode_id, input = ChaincodeInput{args}}},
                                            TransientMap } },
      signature = sign(sha256(proposal_bytes)) }

The transaction ID is hex(sha256(nonce + creator)); the peer recomputes and checks it.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from fabric_protos.common import common_pb2
from fabric_protos.peer import chaincode_pb2, proposal_pb2, proposal_response_pb2, transaction_pb2
from google.protobuf import timestamp_pb2

__all__ = [
    "NONCE_LENGTH",
    "Arg",
    "TransactionContext",
    "build_proposal",
    "chaincode_header_extension",
    "encode_args",
    "new_transaction_context",
    "qualified_transaction_name",
    "result_from_envelope",
]

Arg = str | bytes
NONCE_LENGTH = 24

# The official Node client sends NODE (the Go client leaves it UNDEFINED); peers ignore
# the type when invoking an installed chaincode. We follow the Node client.
_CHAINCODE_TYPE = chaincode_pb2.ChaincodeSpec.NODE
_ENDORSER_TRANSACTION = common_pb2.ENDORSER_TRANSACTION


@dataclass(frozen=True, slots=True)
class TransactionContext:
    """A fresh nonce, the transaction ID derived from it, and the serialised SignatureHeader."""

    nonce: bytes
    transaction_id: str
    signature_header: bytes


def new_transaction_context(creator: bytes, nonce: bytes | None = None) -> TransactionContext:
    if nonce is None:
        nonce = os.urandom(NONCE_LENGTH)
    transaction_id = hashlib.sha256(nonce + creator).hexdigest()
    signature_header = common_pb2.SignatureHeader(creator=creator, nonce=nonce).SerializeToString()
    return TransactionContext(nonce, transaction_id, signature_header)


def qualified_transaction_name(transaction_name: str, contract_name: str | None) -> str:
    """``ContractName:TransactionName`` when the chaincode holds several contracts."""
    if not transaction_name:
        raise ValueError("a transaction name is required")
    return f"{contract_name}:{transaction_name}" if contract_name else transaction_name


def chaincode_header_extension(chaincode_name: str) -> bytes:
    """Serialised ChaincodeHeaderExtension; constant per chaincode, so callers cache it."""
    return proposal_pb2.ChaincodeHeaderExtension(
        chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode_name)
    ).SerializeToString()


def _as_bytes(value: Arg) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"chaincode arguments must be str or bytes, not {type(value).__name__}")


def encode_args(transaction_name: str, args: Iterable[Arg]) -> list[bytes]:
    return [transaction_name.encode(), *map(_as_bytes, args)]


def build_proposal(
    *,
    channel_id: str,
    chaincode_name: str,
    transaction_name: str,
    args: Iterable[Arg] = (),
    transient: Mapping[str, Arg] | None = None,
    creator: bytes,
    context: TransactionContext | None = None,
    header_extension: bytes | None = None,
    timestamp_ns: int | None = None,
) -> tuple[bytes, str]:
    """Serialise an unsigned chaincode Proposal; returns ``(proposal_bytes, transaction_id)``.

    ``transaction_name`` is already qualified (see :func:`qualified_transaction_name`).
    """
    if not channel_id:
        raise ValueError("a channel name is required")
    if not chaincode_name:
        raise ValueError("a chaincode name is required")
    if context is None:
        context = new_transaction_context(creator)
    if header_extension is None:
        header_extension = chaincode_header_extension(chaincode_name)
    if timestamp_ns is None:
        timestamp_ns = time.time_ns()

    seconds, nanos = divmod(timestamp_ns, 1_000_000_000)
    channel_header = common_pb2.ChannelHeader(
        type=_ENDORSER_TRANSACTION,
        channel_id=channel_id,
        tx_id=context.transaction_id,
        timestamp=timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos),
        epoch=0,
        extension=header_extension,
    )
    header = common_pb2.Header(
        channel_header=channel_header.SerializeToString(),
        signature_header=context.signature_header,
    )
    invocation = chaincode_pb2.ChaincodeInvocationSpec(
        chaincode_spec=chaincode_pb2.ChaincodeSpec(
            type=_CHAINCODE_TYPE,
            chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode_name),
            input=chaincode_pb2.ChaincodeInput(args=encode_args(transaction_name, args)),
        )
    )
    payload = proposal_pb2.ChaincodeProposalPayload(input=invocation.SerializeToString())
    if transient:
        for key, value in transient.items():
            payload.TransientMap[key] = _as_bytes(value)
    proposal = proposal_pb2.Proposal(
        header=header.SerializeToString(),
        payload=payload.SerializeToString(),
    )
    return proposal.SerializeToString(), context.transaction_id


def result_from_envelope(envelope_payload: bytes) -> bytes:
    """The chaincode's return value inside a prepared transaction envelope's payload.

    Payload.data → Transaction.actions[i].payload → ChaincodeActionPayload.action
    .proposal_response_payload → ProposalResponsePayload.extension → ChaincodeAction.response.payload
    """
    payload = common_pb2.Payload.FromString(envelope_payload)
    transaction = transaction_pb2.Transaction.FromString(payload.data)
    for action in transaction.actions:
        action_payload = transaction_pb2.ChaincodeActionPayload.FromString(action.payload)
        response_payload = proposal_response_pb2.ProposalResponsePayload.FromString(
            action_payload.action.proposal_response_payload
        )
        chaincode_action = proposal_pb2.ChaincodeAction.FromString(response_payload.extension)
        if chaincode_action.HasField("response"):
            return chaincode_action.response.payload
    raise ValueError("the prepared transaction holds no chaincode response")
