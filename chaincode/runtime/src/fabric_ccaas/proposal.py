"""Lazy decoding of the signed proposal that arrives with every transaction.

Most transactions never look at the creator, timestamp or transient map, so nothing is decoded until asked.
"""

from __future__ import annotations

import hashlib
import struct
from functools import cached_property

from fabric_protos.common import common_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import proposal_pb2


class ProposalView:
    """Read-only view of a ``SignedProposal`` with the fields a chaincode may ask for."""

    __slots__ = ("__dict__", "signed_proposal")

    def __init__(self, signed_proposal: proposal_pb2.SignedProposal | None):
        self.signed_proposal = signed_proposal

    @cached_property
    def _proposal(self) -> proposal_pb2.Proposal:
        if self.signed_proposal is None or not self.signed_proposal.proposal_bytes:
            raise ValueError("the transaction carries no signed proposal")
        return proposal_pb2.Proposal.FromString(self.signed_proposal.proposal_bytes)

    @cached_property
    def _header(self) -> common_pb2.Header:
        return common_pb2.Header.FromString(self._proposal.header)

    @cached_property
    def channel_header(self) -> common_pb2.ChannelHeader:
        return common_pb2.ChannelHeader.FromString(self._header.channel_header)

    @cached_property
    def signature_header(self) -> common_pb2.SignatureHeader:
        return common_pb2.SignatureHeader.FromString(self._header.signature_header)

    @cached_property
    def creator(self) -> bytes:
        """The serialized identity (``msp.SerializedIdentity``) of the submitter."""
        return self.signature_header.creator

    @cached_property
    def serialized_identity(self) -> identities_pb2.SerializedIdentity:
        return identities_pb2.SerializedIdentity.FromString(self.creator)

    @cached_property
    def transient(self) -> dict[str, bytes]:
        payload = proposal_pb2.ChaincodeProposalPayload.FromString(self._proposal.payload)
        return dict(payload.TransientMap)

    @cached_property
    def binding(self) -> bytes:
        """SHA-256(nonce ‖ creator ‖ epoch as little-endian uint64), as Fabric's shims compute it."""
        return hashlib.sha256(
            self.signature_header.nonce + self.creator + struct.pack("<Q", self.channel_header.epoch)
        ).digest()
