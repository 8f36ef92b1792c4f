"""A fake Fabric Gateway peer for the client tests.

It implements gateway.Gateway on a grpc.aio server bound to 127.0.0.1 and checks what a
real peer checks, independently of the client code (only the protobufs and
``cryptography``): every signature against the certificate in the creator, low S, the
transaction ID = hex(sha256(nonce + creator)), the proposal headers, and that Submit gets
back the exact envelope Endorse prepared, signed. A violation is recorded and answered
with PERMISSION_DENIED / INVALID_ARGUMENT, and the fixture fails the test on teardown.

Behaviour is scripted per method with :class:`Fail` and :class:`Delay` entries; the
"chaincode" echoes its input, so results depend on what the client actually sent.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

import grpc
import grpc.aio
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import (
    chaincode_event_pb2,
    chaincode_pb2,
    proposal_pb2,
    proposal_response_pb2,
    transaction_pb2,
)
from google.protobuf import any_pb2
from vpp_gateway.fabric import Timeouts

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
VALID = transaction_pb2.TxValidationCode.Value("VALID")
MSP_ID = "Org1MSP"
CHANNEL = "vpp"


@dataclass(frozen=True)
class Credentials:
    key: ec.EllipticCurvePrivateKey
    key_pem: bytes
    cert_pem: bytes


def make_credentials(common_name: str, *, dns_names: tuple[str, ...] = ()) -> Credentials:
    """A throwaway P-256 key and a self-signed certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, common_name), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "org1")]
    )
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=bool(dns_names), path_length=None), critical=True)
    )
    if dns_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False
        )
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return Credentials(key, key_pem, cert.public_bytes(serialization.Encoding.PEM))


FAST = Timeouts(evaluate=2.0, endorse=2.0, submit=2.0, commit_status=2.0)


async def start_server(
    servicer: FakeGateway, credentials: grpc.ServerCredentials | None = None
) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    gateway_pb2_grpc.add_GatewayServicer_to_server(servicer, server)
    if credentials is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    return server, port


@dataclass
class Fail:
    code: grpc.StatusCode
    message: str
    # (address, msp_id, message) per peer, sent as gateway.ErrorDetail in grpc-status-details-bin
    details: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class Delay:
    seconds: float


@dataclass
class ParsedProposal:
    transaction_id: str
    channel_id: str
    chaincode_name: str
    args: list[bytes]
    transient: dict[str, bytes]
    chaincode_type: int
    header: common_pb2.Header
    payload: proposal_pb2.ChaincodeProposalPayload
    nonce: bytes
    creator: bytes


class ViolationError(Exception):
    pass


def encode_status_details(code: grpc.StatusCode, message: str, details: list[tuple[str, str, str]]) -> bytes:
    """google.rpc.Status{code, message, details: [Any(gateway.ErrorDetail)]}, hand-encoded
    from the public proto definition so the test does not reuse the client's decoder."""

    def field_bytes(number: int, data: bytes) -> bytes:
        return _varint(number << 3 | 2) + _varint(len(data)) + data

    out = _varint(1 << 3 | 0) + _varint(code.value[0]) + field_bytes(2, message.encode())
    for address, msp_id, text in details:
        detail = gateway_pb2.ErrorDetail(address=address, msp_id=msp_id, message=text)
        packed = any_pb2.Any()
        packed.Pack(detail)
        out += field_bytes(3, packed.SerializeToString())
    return out


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class FakeGateway(gateway_pb2_grpc.GatewayServicer):
    def __init__(self, trusted_certificate_pem: bytes, msp_id: str, channel_id: str = "vpp") -> None:
        self.trusted = trusted_certificate_pem
        self.msp_id = msp_id
        self.channel_id = channel_id
        self.script: dict[str, deque] = defaultdict(deque)
        self.commit_codes: deque[int] = deque()
        self.calls: dict[str, list[str]] = defaultdict(list)  # method -> transaction ids, in order
        self.proposals: dict[str, ParsedProposal] = {}
        self.organizations: dict[str, list[str]] = {}  # tx id -> target/endorsing organizations
        self.prepared: dict[str, bytes] = {}  # tx id -> envelope payload returned by Endorse
        self.submitted: dict[str, int] = {}  # tx id -> block number
        self.violations: list[str] = []
        self.next_block = 10
        # Chaincode events: block number -> [(tx_id, chaincode, event name, payload)]
        self.blocks: dict[int, list[tuple[str, str, str, bytes]]] = {}
        self.events_requests: list[gateway_pb2.ChaincodeEventsRequest] = []
        self.events_request_received = asyncio.Event()
        self.events_fail_after: deque[int] = deque()  # abort a stream after N responses
        self._new_block = asyncio.Event()

    # -- scripting -----------------------------------------------------------------------

    def on(self, method: str, *actions: Fail | Delay) -> None:
        self.script[method].extend(actions)

    async def _scripted(self, method: str, context: grpc.aio.ServicerContext) -> None:
        queue = self.script[method]
        if not queue:
            return
        action = queue.popleft()
        if isinstance(action, Delay):
            await asyncio.sleep(action.seconds)
        else:
            await context.abort(
                action.code,
                action.message,
                trailing_metadata=(
                    ("grpc-status-details-bin", encode_status_details(action.code, action.message, action.details)),
                ),
            )

    def add_block(self, number: int, events: list[tuple[str, str, str, bytes]]) -> None:
        self.blocks[number] = events
        self._new_block.set()

    # -- verification --------------------------------------------------------------------

    async def _reject(self, context: grpc.aio.ServicerContext, problem: str) -> None:
        self.violations.append(problem)
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, problem)

    def _verify(self, creator: bytes, message: bytes, signature: bytes) -> None:
        identity = identities_pb2.SerializedIdentity.FromString(creator)
        if identity.mspid != self.msp_id:
            raise ViolationError(f"unexpected MSP ID {identity.mspid!r}")
        if identity.id_bytes != self.trusted:
            raise ViolationError("creator certificate is not the client's certificate")
        certificate = x509.load_pem_x509_certificate(identity.id_bytes)
        _, s = decode_dss_signature(signature)
        if s > P256_ORDER // 2:
            raise ViolationError("signature has a high S value")
        try:
            certificate.public_key().verify(signature, message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise ViolationError("signature does not verify") from None

    def _parse_proposal(
        self, transaction_id: str, channel_id: str, signed: proposal_pb2.SignedProposal
    ) -> ParsedProposal:
        proposal = proposal_pb2.Proposal.FromString(signed.proposal_bytes)
        header = common_pb2.Header.FromString(proposal.header)
        channel_header = common_pb2.ChannelHeader.FromString(header.channel_header)
        signature_header = common_pb2.SignatureHeader.FromString(header.signature_header)
        self._verify(signature_header.creator, signed.proposal_bytes, signed.signature)
        if channel_header.type != common_pb2.ENDORSER_TRANSACTION:
            raise ViolationError(f"channel header type {channel_header.type}")
        if len(signature_header.nonce) != 24:
            raise ViolationError(f"nonce length {len(signature_header.nonce)}")
        expected_id = hashlib.sha256(signature_header.nonce + signature_header.creator).hexdigest()
        if channel_header.tx_id != expected_id:
            raise ViolationError("tx id is not sha256(nonce + creator)")
        if transaction_id != channel_header.tx_id:
            raise ViolationError("request transaction_id differs from the channel header")
        if channel_id != channel_header.channel_id or channel_id != self.channel_id:
            raise ViolationError(f"channel {channel_id!r} / header {channel_header.channel_id!r}")
        if channel_header.epoch != 0:
            raise ViolationError("epoch must be 0")
        if abs(channel_header.timestamp.seconds - time.time()) > 60:
            raise ViolationError("timestamp is not now")
        payload = proposal_pb2.ChaincodeProposalPayload.FromString(proposal.payload)
        spec = chaincode_pb2.ChaincodeInvocationSpec.FromString(payload.input).chaincode_spec
        extension = proposal_pb2.ChaincodeHeaderExtension.FromString(channel_header.extension)
        if extension.chaincode_id.name != spec.chaincode_id.name or not spec.chaincode_id.name:
            raise ViolationError("header extension chaincode differs from the invocation spec")
        return ParsedProposal(
            transaction_id=transaction_id,
            channel_id=channel_id,
            chaincode_name=spec.chaincode_id.name,
            args=list(spec.input.args),
            transient=dict(payload.TransientMap),
            chaincode_type=spec.type,
            header=header,
            payload=payload,
            nonce=signature_header.nonce,
            creator=signature_header.creator,
        )

    @staticmethod
    def chaincode_result(parsed: ParsedProposal) -> bytes:
        """The echo chaincode: "<fn>(<arg>,<arg>)" plus the transient keys."""
        fn, *args = parsed.args
        result = fn + b"(" + b",".join(args) + b")"
        if parsed.transient:
            result += b"+" + b",".join(sorted(k.encode() for k in parsed.transient))
        return result

    # -- service -------------------------------------------------------------------------

    async def Evaluate(self, request, context):
        self.calls["Evaluate"].append(request.transaction_id)
        try:
            parsed = self._parse_proposal(request.transaction_id, request.channel_id, request.proposed_transaction)
        except ViolationError as problem:
            await self._reject(context, str(problem))
        self.proposals[parsed.transaction_id] = parsed
        self.organizations[parsed.transaction_id] = list(request.target_organizations)
        await self._scripted("Evaluate", context)
        return gateway_pb2.EvaluateResponse(
            result=proposal_response_pb2.Response(status=200, payload=self.chaincode_result(parsed))
        )

    async def Endorse(self, request, context):
        self.calls["Endorse"].append(request.transaction_id)
        try:
            parsed = self._parse_proposal(request.transaction_id, request.channel_id, request.proposed_transaction)
        except ViolationError as problem:
            await self._reject(context, str(problem))
        self.proposals[parsed.transaction_id] = parsed
        self.organizations[parsed.transaction_id] = list(request.endorsing_organizations)
        await self._scripted("Endorse", context)

        action = proposal_pb2.ChaincodeAction(
            response=proposal_response_pb2.Response(status=200, payload=self.chaincode_result(parsed))
        )
        response_payload = proposal_response_pb2.ProposalResponsePayload(
            proposal_hash=hashlib.sha256(request.proposed_transaction.proposal_bytes).digest(),
            extension=action.SerializeToString(),
        )
        without_transient = proposal_pb2.ChaincodeProposalPayload(input=parsed.payload.input)
        action_payload = transaction_pb2.ChaincodeActionPayload(
            chaincode_proposal_payload=without_transient.SerializeToString(),
            action=transaction_pb2.ChaincodeEndorsedAction(
                proposal_response_payload=response_payload.SerializeToString()
            ),
        )
        transaction = transaction_pb2.Transaction(
            actions=[
                transaction_pb2.TransactionAction(
                    header=parsed.header.signature_header, payload=action_payload.SerializeToString()
                )
            ]
        )
        payload = common_pb2.Payload(header=parsed.header, data=transaction.SerializeToString()).SerializeToString()
        self.prepared[parsed.transaction_id] = payload
        return gateway_pb2.EndorseResponse(prepared_transaction=common_pb2.Envelope(payload=payload))

    async def Submit(self, request, context):
        self.calls["Submit"].append(request.transaction_id)
        envelope = request.prepared_transaction
        expected = self.prepared.get(request.transaction_id)
        if expected is None or envelope.payload != expected:
            await self._reject(context, "submitted envelope is not the one endorsed")
        if request.channel_id != self.channel_id:
            await self._reject(context, f"submit channel {request.channel_id!r}")
        try:
            self._verify(self.proposals[request.transaction_id].creator, envelope.payload, envelope.signature)
        except ViolationError as problem:
            await self._reject(context, f"envelope: {problem}")
        await self._scripted("Submit", context)
        if request.transaction_id not in self.submitted:
            self.submitted[request.transaction_id] = self.next_block
            self.next_block += 1
        return gateway_pb2.SubmitResponse()

    async def CommitStatus(self, request, context):
        status_request = gateway_pb2.CommitStatusRequest.FromString(request.request)
        self.calls["CommitStatus"].append(status_request.transaction_id)
        try:
            self._verify(status_request.identity, request.request, request.signature)
        except ViolationError as problem:
            await self._reject(context, f"commit status: {problem}")
        if status_request.channel_id != self.channel_id:
            await self._reject(context, f"commit status channel {status_request.channel_id!r}")
        await self._scripted("CommitStatus", context)
        block = self.submitted.get(status_request.transaction_id)
        if block is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "transaction was never submitted")
        code = self.commit_codes.popleft() if self.commit_codes else VALID
        return gateway_pb2.CommitStatusResponse(result=code, block_number=block)

    async def ChaincodeEvents(self, request, context):
        events_request = gateway_pb2.ChaincodeEventsRequest.FromString(request.request)
        self.events_requests.append(events_request)
        self.events_request_received.set()
        try:
            self._verify(events_request.identity, request.request, request.signature)
        except ViolationError as problem:
            await self._reject(context, f"chaincode events: {problem}")
        await self._scripted("ChaincodeEvents", context)
        fail_after = self.events_fail_after.popleft() if self.events_fail_after else None

        # Start block and skipping, as the peer does (internal/pkg/gateway/chaincodeevents.go).
        after = events_request.after_transaction_id
        position = events_request.start_position
        start = None
        if after:
            start = next((n for n, evs in self.blocks.items() if any(e[0] == after for e in evs)), None)
        if start is None:
            next_commit = max(self.blocks, default=-1) + 1
            start = position.specified.number if position.HasField("specified") else next_commit
        passed = not after
        block_number = start
        sent = 0
        while True:
            while block_number not in self.blocks:
                if block_number < max(self.blocks, default=-1):
                    block_number += 1
                    continue
                self._new_block.clear()
                await self._new_block.wait()
            matching = []
            for tx_id, chaincode, name, payload in self.blocks[block_number]:
                if not passed:
                    passed = tx_id == after
                    continue
                if chaincode == events_request.chaincode_id:
                    matching.append(
                        chaincode_event_pb2.ChaincodeEvent(
                            chaincode_id=chaincode, tx_id=tx_id, event_name=name, payload=payload
                        )
                    )
            if matching:
                if fail_after is not None and sent >= fail_after:
                    await context.abort(grpc.StatusCode.UNAVAILABLE, "peer going away")
                yield gateway_pb2.ChaincodeEventsResponse(events=matching, block_number=block_number)
                sent += 1
            block_number += 1
