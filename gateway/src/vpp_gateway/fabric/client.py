"""Gateway → Network → Contract over the Fabric Gateway gRPC service (Fabric 2.4+ peers).

One long-lived ``grpc.aio`` channel and one set of method callables per :class:`Gateway`;
every call carries the deadline of its phase. ``evaluate`` runs on one peer and never
reaches the orderer; ``submit`` is endorse → sign envelope → submit → commit status.
The steps are also available one by one, as in the official clients::

    proposal = contract.new_proposal("Mint", ["m1", "2024-01-01T00:00Z", "1500"])
    transaction = await proposal.endorse()        # EndorseError
    commit = await transaction.submit()           # SubmitError
    status = await commit.status()                # CommitStatusError
    status.successful, status.block_number, transaction.result

All objects must be created and used on the event loop that runs the channel.

The ``timeout`` arguments (seconds, default from :class:`Timeouts`) are gRPC deadlines: they
travel to the peer, which stops working on the request when they pass. ``asyncio.timeout``
around a call would only cancel it on our side, hence ``timeout`` parameters on coroutines.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2
from fabric_protos.peer import proposal_pb2, transaction_pb2
from google.protobuf import timestamp_pb2

from .errors import (
    CommitError,
    CommitStatusError,
    EndorseError,
    EvaluateError,
    GatewayError,
    SubmitError,
)
from .events import ChaincodeEventStream, Checkpoint, build_chaincode_events_request
from .identity import SigningIdentity
from .proposal import (
    Arg,
    build_proposal,
    chaincode_header_extension,
    new_transaction_context,
    qualified_transaction_name,
    result_from_envelope,
)

__all__ = [
    "DEFAULT_CHANNEL_OPTIONS",
    "Commit",
    "CommittedTransaction",
    "Contract",
    "Gateway",
    "Network",
    "Proposal",
    "Status",
    "Timeouts",
    "Transaction",
    "create_channel",
]

_SERVICE = "/gateway.Gateway/"
_VALID = transaction_pb2.TxValidationCode.Value("VALID")


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Deadline per phase, in seconds (``None``: no deadline). Defaults follow the official
    clients' samples: evaluate 5 s, endorse 15 s, submit 5 s, commit status 1 min."""

    evaluate: float | None = 5.0
    endorse: float | None = 15.0
    submit: float | None = 5.0
    commit_status: float | None = 60.0
    chaincode_events: float | None = None


DEFAULT_TIMEOUTS = Timeouts()

# Fabric peers accept 100 MiB messages; keepalive every 2 min stays above the peer's
# enforced minimum (peer.keepalive.minInterval, 60 s) so it never answers "too_many_pings".
DEFAULT_CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.max_receive_message_length", 100 * 1024 * 1024),
    ("grpc.max_send_message_length", 100 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 120_000),
    ("grpc.keepalive_timeout_ms", 20_000),
)


def create_channel(
    endpoint: str,
    *,
    tls_root_certificates: bytes | None = None,
    ssl_target_name_override: str | None = None,
    tls_client_certificate: bytes | None = None,
    tls_client_key: bytes | None = None,
    insecure: bool = False,
    options: Iterable[tuple[str, Any]] = (),
) -> grpc.aio.Channel:
    """An aio channel to a peer's Gateway endpoint (``host:port``).

    TLS is verified against ``tls_root_certificates`` (the peer's TLS CA, PEM); the client
    certificate/key pair is only needed when the peer requires mutual TLS. Plaintext must
    be asked for with ``insecure=True`` (tests). Call it from a coroutine running on the
    loop that will use the channel.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        # grpc.aio binds the channel to the loop it is created on; one made outside a loop
        # fails later with "attached to a different loop".
        raise RuntimeError("create the channel (Gateway.connect) inside the event loop that will use it") from None
    merged = dict(DEFAULT_CHANNEL_OPTIONS)
    merged.update(options)
    if ssl_target_name_override:
        merged["grpc.ssl_target_name_override"] = ssl_target_name_override
    channel_options = list(merged.items())
    if tls_root_certificates is None:
        if not insecure:
            raise ValueError("tls_root_certificates is required (or insecure=True for a plaintext channel)")
        return grpc.aio.insecure_channel(endpoint, options=channel_options)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=tls_root_certificates,
        private_key=tls_client_key,
        certificate_chain=tls_client_certificate,
    )
    return grpc.aio.secure_channel(endpoint, credentials, options=channel_options)


class _GatewayStub:
    """The five Gateway methods as callables, created once per channel."""

    __slots__ = ("chaincode_events", "commit_status", "endorse", "evaluate", "submit")

    def __init__(self, channel: grpc.aio.Channel) -> None:
        def unary(name: str, request: Any, response: Any) -> grpc.aio.UnaryUnaryMultiCallable:
            return channel.unary_unary(
                _SERVICE + name,
                request_serializer=request.SerializeToString,
                response_deserializer=response.FromString,
            )

        self.evaluate = unary("Evaluate", gateway_pb2.EvaluateRequest, gateway_pb2.EvaluateResponse)
        self.endorse = unary("Endorse", gateway_pb2.EndorseRequest, gateway_pb2.EndorseResponse)
        self.submit = unary("Submit", gateway_pb2.SubmitRequest, gateway_pb2.SubmitResponse)
        self.commit_status = unary(
            "CommitStatus", gateway_pb2.SignedCommitStatusRequest, gateway_pb2.CommitStatusResponse
        )
        self.chaincode_events = channel.unary_stream(
            _SERVICE + "ChaincodeEvents",
            request_serializer=gateway_pb2.SignedChaincodeEventsRequest.SerializeToString,
            response_deserializer=gateway_pb2.ChaincodeEventsResponse.FromString,
        )


async def _call(
    method: grpc.aio.UnaryUnaryMultiCallable,
    request: Any,
    deadline_seconds: float | None,
    error_type: type[GatewayError],
    transaction_id: str | None,
) -> Any:
    try:
        return await method(request, timeout=deadline_seconds)
    except grpc.aio.AioRpcError as error:
        raise error_type.from_rpc_error(error, transaction_id) from error


class Gateway:
    """A connection to one Gateway peer on behalf of one client identity."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        signing_identity: SigningIdentity,
        *,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        owns_channel: bool = False,
    ) -> None:
        self._channel = channel
        self._owns_channel = owns_channel
        self.signing_identity = signing_identity
        self.timeouts = timeouts
        self._stub = _GatewayStub(channel)
        self._networks: dict[str, Network] = {}

    @classmethod
    def connect(
        cls,
        endpoint: str,
        signing_identity: SigningIdentity,
        *,
        tls_root_certificates: bytes | None = None,
        ssl_target_name_override: str | None = None,
        tls_client_certificate: bytes | None = None,
        tls_client_key: bytes | None = None,
        insecure: bool = False,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        channel_options: Iterable[tuple[str, Any]] = (),
    ) -> Gateway:
        """Open a channel (see :func:`create_channel`) that :meth:`close` will close."""
        channel = create_channel(
            endpoint,
            tls_root_certificates=tls_root_certificates,
            ssl_target_name_override=ssl_target_name_override,
            tls_client_certificate=tls_client_certificate,
            tls_client_key=tls_client_key,
            insecure=insecure,
            options=channel_options,
        )
        return cls(channel, signing_identity, timeouts=timeouts, owns_channel=True)

    @property
    def channel(self) -> grpc.aio.Channel:
        return self._channel

    async def wait_for_ready(self) -> None:
        """Wait until the channel is connected (optional: calls connect on demand).
        Bound it with ``asyncio.timeout``."""
        await self._channel.channel_ready()

    def get_network(self, channel_name: str) -> Network:
        network = self._networks.get(channel_name)
        if network is None:
            network = self._networks[channel_name] = Network(self, channel_name)
        return network

    async def close(self) -> None:
        """Close the channel if this Gateway opened it (``connect``); a channel passed in
        belongs to the caller."""
        if self._owns_channel:
            await self._channel.close()

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()


class Network:
    """A Fabric channel, seen through the Gateway."""

    def __init__(self, gateway: Gateway, name: str) -> None:
        if not name:
            raise ValueError("a channel name is required")
        self._gateway = gateway
        self.name = name
        self._contracts: dict[tuple[str, str | None], Contract] = {}

    @property
    def gateway(self) -> Gateway:
        return self._gateway

    def get_contract(self, chaincode_name: str, contract_name: str | None = None) -> Contract:
        key = (chaincode_name, contract_name or None)
        contract = self._contracts.get(key)
        if contract is None:
            contract = self._contracts[key] = Contract(self, chaincode_name, contract_name)
        return contract

    async def commit_status(self, transaction_id: str, *, timeout: float | None = None) -> Status:  # noqa: ASYNC109
        """Wait until this Gateway's peer has ``transaction_id`` in a block and return its status; for a
        transaction submitted through another organisation's peer, this is how to know this peer has it too."""
        holder = Transaction(self._gateway, self.name, transaction_id, common_pb2.Envelope())
        return await Commit(self._gateway, holder).status(timeout=timeout)

    def chaincode_events(
        self,
        chaincode_name: str,
        start_block: int | None = None,
        after_transaction_id: str | None = None,
        *,
        checkpoint: Checkpoint | None = None,
        timeout: float | None = None,
    ) -> ChaincodeEventStream:
        """Events emitted by ``chaincode_name`` in valid transactions.

        Starts at the next committed block, or at ``start_block``; ``after_transaction_id``
        skips events up to and including that transaction. A non-empty ``checkpoint``
        replaces both. ``async with`` the stream, or ``close()`` it, to end the stream.
        """
        gateway = self._gateway
        request = build_chaincode_events_request(
            channel_id=self.name,
            chaincode_name=chaincode_name,
            creator=gateway.signing_identity.creator,
            start_block=start_block,
            after_transaction_id=after_transaction_id,
            checkpoint=checkpoint,
        )
        request_bytes = request.SerializeToString()
        signed = gateway_pb2.SignedChaincodeEventsRequest(
            request=request_bytes,
            signature=gateway.signing_identity.sign_message(request_bytes),
        )
        return ChaincodeEventStream(
            gateway._stub.chaincode_events,
            signed,
            timeout if timeout is not None else gateway.timeouts.chaincode_events,
        )


class Contract:
    """A chaincode (optionally one named contract inside it) on a channel."""

    def __init__(self, network: Network, chaincode_name: str, contract_name: str | None = None) -> None:
        if not chaincode_name:
            raise ValueError("a chaincode name is required")
        self._network = network
        self._gateway = network.gateway
        self.chaincode_name = chaincode_name
        self.contract_name = contract_name or None
        self._header_extension = chaincode_header_extension(chaincode_name)

    @property
    def network(self) -> Network:
        return self._network

    def new_proposal(
        self,
        transaction_name: str,
        args: Sequence[Arg] = (),
        *,
        transient: Mapping[str, Arg] | None = None,
        endorsing_orgs: Sequence[str] | None = None,
        nonce: bytes | None = None,
        timestamp: timestamp_pb2.Timestamp | int | None = None,
    ) -> Proposal:
        """Build and sign a proposal with a fresh transaction ID.

        ``nonce`` fixes the transaction ID (hex SHA-256(nonce ‖ creator), as the peer recomputes it) and
        ``timestamp`` the ChannelHeader timestamp the chaincode sees (a protobuf ``Timestamp`` or nanoseconds
        since the epoch); both default to fresh values. Fixing them makes a proposal reproducible (replays,
        differential runs against the embedded ledger); a nonce must never be reused for a new transaction.
        """
        signing_identity = self._gateway.signing_identity
        if isinstance(timestamp, timestamp_pb2.Timestamp):
            timestamp = timestamp.seconds * 1_000_000_000 + timestamp.nanos
        proposal_bytes, transaction_id = build_proposal(
            channel_id=self._network.name,
            chaincode_name=self.chaincode_name,
            transaction_name=qualified_transaction_name(transaction_name, self.contract_name),
            args=args,
            transient=transient,
            creator=signing_identity.creator,
            context=None if nonce is None else new_transaction_context(signing_identity.creator, nonce),
            header_extension=self._header_extension,
            timestamp_ns=timestamp,
        )
        signed = proposal_pb2.SignedProposal(
            proposal_bytes=proposal_bytes,
            signature=signing_identity.sign_message(proposal_bytes),
        )
        return Proposal(self._gateway, self._network.name, transaction_id, signed, tuple(endorsing_orgs or ()))

    async def evaluate(
        self,
        transaction_name: str,
        args: Sequence[Arg] = (),
        transient: Mapping[str, Arg] | None = None,
        endorsing_orgs: Sequence[str] | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - see module docstring
    ) -> bytes:
        """Run a transaction function on one peer and return its result; never ordered.
        ``endorsing_orgs`` restricts which organisations' peers may run it."""
        proposal = self.new_proposal(transaction_name, args, transient=transient, endorsing_orgs=endorsing_orgs)
        return await proposal.evaluate(timeout=timeout)

    async def submit(
        self,
        transaction_name: str,
        args: Sequence[Arg] = (),
        transient: Mapping[str, Arg] | None = None,
        endorsing_orgs: Sequence[str] | None = None,
        *,
        nonce: bytes | None = None,
        timestamp: timestamp_pb2.Timestamp | int | None = None,
    ) -> bytes:
        """Endorse, order and wait for commit; returns the transaction function's result.
        Raises :class:`CommitError` if the transaction commits as invalid. ``nonce`` and ``timestamp``:
        see :meth:`new_proposal`."""
        committed = await self.submit_detailed(
            transaction_name, args, transient, endorsing_orgs, nonce=nonce, timestamp=timestamp
        )
        return committed.result

    async def submit_detailed(
        self,
        transaction_name: str,
        args: Sequence[Arg] = (),
        transient: Mapping[str, Arg] | None = None,
        endorsing_orgs: Sequence[str] | None = None,
        *,
        nonce: bytes | None = None,
        timestamp: timestamp_pb2.Timestamp | int | None = None,
    ) -> CommittedTransaction:
        """As :meth:`submit`, also returning the transaction ID and block number."""
        proposal = self.new_proposal(
            transaction_name, args, transient=transient, endorsing_orgs=endorsing_orgs, nonce=nonce, timestamp=timestamp
        )
        return await proposal.submit()


class Proposal:
    """A signed transaction proposal, ready to evaluate or endorse.

    Endorsing or evaluating it again reuses the same transaction ID (the retry for a
    timeout or an unavailable peer); a new ID needs a new proposal.
    """

    __slots__ = ("_gateway", "channel_id", "endorsing_orgs", "signed_proposal", "transaction_id")

    def __init__(
        self,
        gateway: Gateway,
        channel_id: str,
        transaction_id: str,
        signed_proposal: proposal_pb2.SignedProposal,
        endorsing_orgs: tuple[str, ...] = (),
    ) -> None:
        self._gateway = gateway
        self.channel_id = channel_id
        self.transaction_id = transaction_id
        self.signed_proposal = signed_proposal
        self.endorsing_orgs = endorsing_orgs

    async def evaluate(self, *, timeout: float | None = None) -> bytes:  # noqa: ASYNC109 - see module docstring
        request = gateway_pb2.EvaluateRequest(
            transaction_id=self.transaction_id,
            channel_id=self.channel_id,
            proposed_transaction=self.signed_proposal,
            target_organizations=self.endorsing_orgs,
        )
        gateway = self._gateway
        response = await _call(
            gateway._stub.evaluate,
            request,
            timeout if timeout is not None else gateway.timeouts.evaluate,
            EvaluateError,
            self.transaction_id,
        )
        return response.result.payload

    async def endorse(self, *, timeout: float | None = None) -> Transaction:  # noqa: ASYNC109 - see module docstring
        request = gateway_pb2.EndorseRequest(
            transaction_id=self.transaction_id,
            channel_id=self.channel_id,
            proposed_transaction=self.signed_proposal,
            endorsing_organizations=self.endorsing_orgs,
        )
        gateway = self._gateway
        response = await _call(
            gateway._stub.endorse,
            request,
            timeout if timeout is not None else gateway.timeouts.endorse,
            EndorseError,
            self.transaction_id,
        )
        envelope = response.prepared_transaction
        envelope.signature = gateway.signing_identity.sign_message(envelope.payload)
        return Transaction(gateway, self.channel_id, self.transaction_id, envelope)

    async def submit(self) -> CommittedTransaction:
        """Endorse → submit → commit status, each with its default deadline."""
        transaction = await self.endorse()
        commit = await transaction.submit()
        status = await commit.status()
        status.raise_for_status()
        return CommittedTransaction(transaction.result, status.transaction_id, status.block_number)


class Transaction:
    """An endorsed transaction whose envelope the client has signed; ready to submit.
    Submitting it again sends the same transaction (same ID) to the orderer."""

    __slots__ = ("_gateway", "_result", "channel_id", "envelope", "transaction_id")

    def __init__(self, gateway: Gateway, channel_id: str, transaction_id: str, envelope: common_pb2.Envelope) -> None:
        self._gateway = gateway
        self.channel_id = channel_id
        self.transaction_id = transaction_id
        self.envelope = envelope
        self._result: bytes | None = None

    @property
    def result(self) -> bytes:
        """The transaction function's return value, as endorsed."""
        if self._result is None:
            self._result = result_from_envelope(self.envelope.payload)
        return self._result

    async def submit(self, *, timeout: float | None = None) -> Commit:  # noqa: ASYNC109 - see module docstring
        request = gateway_pb2.SubmitRequest(
            transaction_id=self.transaction_id,
            channel_id=self.channel_id,
            prepared_transaction=self.envelope,
        )
        gateway = self._gateway
        await _call(
            gateway._stub.submit,
            request,
            timeout if timeout is not None else gateway.timeouts.submit,
            SubmitError,
            self.transaction_id,
        )
        return Commit(gateway, self)


class Commit:
    """A transaction accepted by the orderer; ask for its commit status."""

    __slots__ = ("_gateway", "_signed_request", "transaction")

    def __init__(self, gateway: Gateway, transaction: Transaction) -> None:
        self._gateway = gateway
        self.transaction = transaction
        self._signed_request: gateway_pb2.SignedCommitStatusRequest | None = None

    @property
    def transaction_id(self) -> str:
        return self.transaction.transaction_id

    @property
    def result(self) -> bytes:
        return self.transaction.result

    def _request(self) -> gateway_pb2.SignedCommitStatusRequest:
        if self._signed_request is None:
            signing_identity = self._gateway.signing_identity
            request_bytes = gateway_pb2.CommitStatusRequest(
                transaction_id=self.transaction.transaction_id,
                channel_id=self.transaction.channel_id,
                identity=signing_identity.creator,
            ).SerializeToString()
            self._signed_request = gateway_pb2.SignedCommitStatusRequest(
                request=request_bytes, signature=signing_identity.sign_message(request_bytes)
            )
        return self._signed_request

    async def status(self, *, timeout: float | None = None) -> Status:  # noqa: ASYNC109 - see module docstring
        """Wait until the transaction is in a block; returns its validation code and block."""
        gateway = self._gateway
        response = await _call(
            gateway._stub.commit_status,
            self._request(),
            timeout if timeout is not None else gateway.timeouts.commit_status,
            CommitStatusError,
            self.transaction_id,
        )
        return Status(self.transaction_id, response.result, response.block_number)


@dataclass(frozen=True, slots=True)
class Status:
    transaction_id: str
    code: int
    block_number: int

    @property
    def successful(self) -> bool:
        return self.code == _VALID

    @property
    def code_name(self) -> str:
        try:
            return transaction_pb2.TxValidationCode.Name(self.code)
        except ValueError:
            return f"UNKNOWN_{self.code}"

    def raise_for_status(self) -> None:
        if self.code != _VALID:
            raise CommitError(self.transaction_id, self.code, self.block_number)


@dataclass(frozen=True, slots=True)
class CommittedTransaction:
    result: bytes
    transaction_id: str
    block_number: int
