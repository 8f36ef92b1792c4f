"""An in-process peer for testing chaincode: it answers the same ``ChaincodeMessage``s a Fabric peer does.

Semantics follow Fabric, not convenience: a transaction reads committed state only (it does not see its own
writes), its writes commit only if it returns a status below 400, range results come sorted by key in batches,
paginated queries return a bookmark that starts the next page, and history is newest first.

    peer = InMemoryPeer()
    peer.install("records", ContractChaincode(Records()))
    response = await peer.invoke("records", "CreateRecord", "r1", "42", identity=alice)
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fabric_protos.common import common_pb2
from fabric_protos.ledger.queryresult import kv_query_result_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import chaincode_event_pb2, chaincode_pb2, proposal_pb2, proposal_response_pb2
from fabric_protos.peer import chaincode_shim_pb2 as shim
from google.protobuf.timestamp_pb2 import Timestamp

from .errors import PeerError
from .handler import Chaincode
from .identity import ATTRIBUTE_EXTENSION_OID
from .keys import COMPOSITE_KEY_NAMESPACE
from .mango import OPERATORS as _OPERATORS  # noqa: F401  (kept importable from here)
from .mango import matches as _matches
from .stub import ChaincodeStub

MT = shim.ChaincodeMessage
PUBLIC = ""
_WRITES = (MT.PUT_STATE, MT.DEL_STATE, MT.PURGE_PRIVATE_DATA, MT.PUT_STATE_METADATA)


# -- identities -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TestIdentity:
    __test__ = False  # not a pytest test class
    msp_id: str
    certificate_pem: bytes
    private_key: ec.EllipticCurvePrivateKey

    @property
    def creator(self) -> bytes:
        return identities_pb2.SerializedIdentity(mspid=self.msp_id, id_bytes=self.certificate_pem).SerializeToString()


class TestCA:
    """A throwaway certificate authority issuing X.509 identities with Fabric CA's attribute extension."""

    __test__ = False  # not a pytest test class

    def __init__(self, msp_id: str = "Org1MSP", organization: str = "org1.example.com"):
        self.msp_id = msp_id
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, f"ca.{organization}"),
        ])
        now = datetime.now(UTC)
        self.certificate = (
            x509.CertificateBuilder().subject_name(self.name).issuer_name(self.name)
            .public_key(self._key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )

    def issue(self, common_name: str, attributes: dict[str, str] | None = None,
              organizational_unit: str = "client") -> TestIdentity:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, organizational_unit),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]))
            .issuer_name(self.name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=365))
        )
        if attributes:
            value = json.dumps({"attrs": attributes}).encode()
            builder = builder.add_extension(x509.UnrecognizedExtension(ATTRIBUTE_EXTENSION_OID, value), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return TestIdentity(self.msp_id, cert.public_bytes(serialization.Encoding.PEM), key)


def signed_proposal(channel_id: str, tx_id: str, chaincode: str, args: list[bytes], creator: bytes,
                    transient: dict[str, bytes] | None = None, timestamp: Timestamp | None = None,
                    nonce: bytes | None = None) -> proposal_pb2.SignedProposal:
    """A proposal shaped as a client SDK builds it (the signature is not checked by chaincode)."""
    if timestamp is None:
        timestamp = Timestamp()
        timestamp.GetCurrentTime()
    channel_header = common_pb2.ChannelHeader(
        type=common_pb2.ENDORSER_TRANSACTION, channel_id=channel_id, tx_id=tx_id, timestamp=timestamp,
        extension=proposal_pb2.ChaincodeHeaderExtension(
            chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode)).SerializeToString())
    header = common_pb2.Header(
        channel_header=channel_header.SerializeToString(),
        signature_header=common_pb2.SignatureHeader(creator=creator, nonce=nonce or os.urandom(24)).SerializeToString())
    payload = proposal_pb2.ChaincodeProposalPayload(
        input=chaincode_pb2.ChaincodeInvocationSpec(chaincode_spec=chaincode_pb2.ChaincodeSpec(
            chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode),
            input=chaincode_pb2.ChaincodeInput(args=args))).SerializeToString(),
        TransientMap=transient or {})
    proposal = proposal_pb2.Proposal(header=header.SerializeToString(), payload=payload.SerializeToString())
    return proposal_pb2.SignedProposal(proposal_bytes=proposal.SerializeToString(), signature=b"")


# -- the peer -------------------------------------------------------------------------------------------------

@dataclass
class _Version:
    tx_id: str
    value: bytes
    timestamp: Timestamp
    is_delete: bool


@dataclass
class _TxContext:
    namespace: str
    timestamp: Timestamp
    writes: dict[tuple[str, str], bytes | None] = field(default_factory=dict)
    metadata_writes: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)
    iterators: dict[str, list[bytes]] = field(default_factory=dict)
    paginated: bool = False
    written: bool = False
    callees: list[_TxContext] = field(default_factory=list)  # chaincodes this one called


@dataclass(frozen=True)
class Result:
    """The outcome of :meth:`InMemoryPeer.invoke`."""

    response: proposal_response_pb2.Response
    event: chaincode_event_pb2.ChaincodeEvent | None
    tx_id: str

    @property
    def ok(self) -> bool:
        return self.response.status < 400

    @property
    def json(self) -> Any:
        return json.loads(self.response.payload)


class InMemoryPeer:
    """World state, private data, metadata and history in dictionaries; several chaincodes by name."""

    def __init__(self, channel_id: str = "testchannel", batch_size: int = 100, write_batch_size: int = 0):
        self.channel_id = channel_id
        self.batch_size = batch_size
        # > 0: play a Fabric 3.1 peer with chaincode.runtimeParams.useWriteBatch (WRITE_BATCH_STATE accepted)
        self.write_batch_size = write_batch_size
        self.requests: dict[str, int] = {}  # stub requests answered, by message type name
        # (namespace, collection) -> key -> value; collection "" is public state
        self.state: dict[tuple[str, str], dict[str, bytes]] = {}
        self.metadata: dict[tuple[str, str, str], dict[str, bytes]] = {}
        self.history: dict[tuple[str, str], list[_Version]] = {}
        self.chaincodes: dict[str, Chaincode] = {}
        self.events: list[chaincode_event_pb2.ChaincodeEvent] = []
        self._tx: dict[tuple[str, str], _TxContext] = {}
        self._iterator_ids = itertools.count(1)
        self._tx_ids = itertools.count(1)

    def install(self, name: str, chaincode: Chaincode) -> None:
        self.chaincodes[name] = chaincode

    # -- running transactions -----------------------------------------------------------------------------
    async def invoke(self, chaincode: str, function: str, *args: str | bytes, identity: TestIdentity | None = None,
                     transient: dict[str, bytes] | None = None, timestamp: Timestamp | int | None = None,
                     tx_id: str | None = None, commit: bool = True) -> Result:
        """Simulate one transaction; its writes are committed when it succeeds and ``commit`` is true."""
        tx_id = tx_id or f"tx{next(self._tx_ids):08d}"
        if isinstance(timestamp, int):
            timestamp = Timestamp(seconds=timestamp)
        elif timestamp is None:
            timestamp = Timestamp(seconds=int(time.time()))
        raw_args = [a.encode() if isinstance(a, str) else a for a in (function, *args)]
        creator = identity.creator if identity else b""
        proposal = signed_proposal(self.channel_id, tx_id, chaincode, raw_args, creator, transient, timestamp)
        response, event = await self._execute(chaincode, tx_id, raw_args, proposal, timestamp, commit)
        return Result(response, event, tx_id)

    async def _execute(self, chaincode: str, tx_id: str, args: list[bytes], proposal, timestamp, commit: bool):
        context = _TxContext(chaincode, timestamp)
        response, stub = await self._run(context, tx_id, args, proposal)
        if commit and response.status < 400:
            self._commit(context, tx_id)
            if stub.event is not None:
                self.events.append(stub.event)
        return response, stub.event

    async def _run(self, context: _TxContext, tx_id: str, args: list[bytes], proposal):
        stack = self._tx.setdefault((self.channel_id, tx_id), [])
        stack.append(context)
        try:
            stub = ChaincodeStub(self, self.channel_id, tx_id, chaincode_pb2.ChaincodeInput(args=args), proposal)
            response = await self.chaincodes[context.namespace].invoke(stub)
            if response.status < 400:
                try:
                    await stub.flush_writes()
                except PeerError as exc:
                    response = proposal_response_pb2.Response(status=500, message=f"PEER_ERROR: {exc}")
        finally:
            stack.pop()
            if not stack:
                del self._tx[(self.channel_id, tx_id)]
        return response, stub

    def _commit(self, context: _TxContext, tx_id: str) -> None:
        for callee in context.callees:
            self._commit(callee, tx_id)
        for (collection, key), value in sorted(context.writes.items()):
            space = self.state.setdefault((context.namespace, collection), {})
            if value is None:
                space.pop(key, None)
            else:
                space[key] = value
            if collection == PUBLIC:
                self.history.setdefault((context.namespace, key), []).append(
                    _Version(tx_id, value or b"", context.timestamp, value is None))
        for (collection, key), value in context.writes.items():
            if value is None:  # metadata lives with the value: deleting the key deletes it
                self.metadata.pop((context.namespace, collection, key), None)
        for (collection, key), entries in context.metadata_writes.items():
            if key in self.state.get((context.namespace, collection), {}):  # as on Fabric: no value, no metadata
                self.metadata.setdefault((context.namespace, collection, key), {}).update(entries)

    # -- answering the stub (the Transport protocol) -------------------------------------------------------
    async def request(self, message: shim.ChaincodeMessage) -> shim.ChaincodeMessage:
        if message.type == MT.INVOKE_CHAINCODE:
            return await self._invoke_chaincode(message)
        return self.answer(message)

    async def _invoke_chaincode(self, message: shim.ChaincodeMessage) -> shim.ChaincodeMessage:
        stack = self._tx.get((message.channel_id, message.txid))
        spec = chaincode_pb2.ChaincodeSpec.FromString(message.payload)
        name = spec.chaincode_id.name.split("/")[0].split(":")[0]
        if not stack or name not in self.chaincodes:
            return self._error(message, f"chaincode {spec.chaincode_id.name} not found")
        caller = stack[-1]
        callee = _TxContext(name, caller.timestamp)
        response, _ = await self._run(callee, message.txid, list(spec.input.args), None)
        if response.status < 400:
            caller.callees.append(callee)
        completed = MT(type=MT.COMPLETED, payload=response.SerializeToString(), txid=message.txid,
                       channel_id=message.channel_id)
        return MT(type=MT.RESPONSE, payload=completed.SerializeToString(), txid=message.txid,
                  channel_id=message.channel_id)

    def answer(self, message: shim.ChaincodeMessage) -> shim.ChaincodeMessage:
        """The peer's RESPONSE or ERROR to one stub request of a running transaction."""
        stack = self._tx.get((message.channel_id, message.txid))
        if not stack:
            return self._error(message, f"no transaction context for {message.txid}")
        context = stack[-1]
        try:
            payload = self._dispatch(context, message)
        except (ValueError, KeyError) as exc:
            return self._error(message, str(exc))
        return MT(type=MT.RESPONSE, payload=payload, txid=message.txid, channel_id=message.channel_id)

    @staticmethod
    def _error(message: shim.ChaincodeMessage, text: str) -> shim.ChaincodeMessage:
        return MT(type=MT.ERROR, payload=text.encode(), txid=message.txid, channel_id=message.channel_id)

    def _dispatch(self, ctx: _TxContext, message: shim.ChaincodeMessage) -> bytes:
        kind, body = message.type, message.payload
        name = MT.Type.Name(kind)
        self.requests[name] = self.requests.get(name, 0) + 1
        if kind == MT.WRITE_BATCH_STATE and self.write_batch_size:
            records = shim.WriteBatchState.FromString(body).rec
            if len(records) > self.write_batch_size:
                raise ValueError(f"write batch of {len(records)} records exceeds {self.write_batch_size}")
            for record in records:  # in order, each as its own request would be (Fabric's HandleWriteBatch)
                self._dispatch_write(ctx, record)
            return b""
        if kind in _WRITES:
            self._dispatch_write(ctx, self._as_record(kind, body))
            return b""
        if kind == MT.GET_STATE:
            req = shim.GetState.FromString(body)
            return self._space(ctx, req.collection).get(req.key, b"")
        if kind == MT.GET_PRIVATE_DATA_HASH:
            req = shim.GetState.FromString(body)
            value = self._space(ctx, req.collection).get(req.key)
            return hashlib.sha256(value).digest() if value else b""
        if kind == MT.GET_STATE_METADATA:
            req = shim.GetStateMetadata.FromString(body)
            entries = self.metadata.get((ctx.namespace, req.collection, req.key), {})
            return shim.StateMetadataResult(entries=[shim.StateMetadata(metakey=k, value=v)
                                                     for k, v in sorted(entries.items())]).SerializeToString()
        if kind == MT.GET_STATE_BY_RANGE:
            req = shim.GetStateByRange.FromString(body)
            space = self._space(ctx, req.collection)
            keys = sorted(k for k in space if req.startKey <= k and (not req.endKey or k < req.endKey))
            if not req.startKey.startswith(COMPOSITE_KEY_NAMESPACE):
                keys = [k for k in keys if not k.startswith(COMPOSITE_KEY_NAMESPACE)]
            return self._results(ctx, req.metadata, keys, space)
        if kind == MT.GET_QUERY_RESULT:
            req = shim.GetQueryResult.FromString(body)
            space = self._space(ctx, req.collection)
            selector = json.loads(req.query).get("selector", {})
            keys = [k for k in sorted(space) if _matches(space[k], selector)]
            return self._results(ctx, req.metadata, keys, space)
        if kind == MT.QUERY_STATE_NEXT:
            req = shim.QueryStateNext.FromString(body)
            return self._next_batch(ctx, req.id)
        if kind == MT.QUERY_STATE_CLOSE:
            req = shim.QueryStateClose.FromString(body)
            ctx.iterators.pop(req.id, None)
            return shim.QueryResponse(id=req.id).SerializeToString()
        if kind == MT.GET_HISTORY_FOR_KEY:
            req = shim.GetHistoryForKey.FromString(body)
            versions = reversed(self.history.get((ctx.namespace, req.key), []))
            items = [kv_query_result_pb2.KeyModification(tx_id=v.tx_id, value=v.value, timestamp=v.timestamp,
                                                         is_delete=v.is_delete).SerializeToString()
                     for v in versions]
            return self._open_iterator(ctx, items)
        raise ValueError(f"unsupported request {MT.Type.Name(kind)}")

    def _dispatch_write(self, ctx: _TxContext, record: shim.WriteRecord) -> None:
        self._check_write(ctx)
        if record.type == shim.WriteRecord.PUT_STATE:
            ctx.writes[(record.collection, record.key)] = record.value if record.value else None
        elif record.type in (shim.WriteRecord.DEL_STATE, shim.WriteRecord.PURGE_PRIVATE_DATA):
            ctx.writes[(record.collection, record.key)] = None
        elif record.type == shim.WriteRecord.PUT_STATE_METADATA:
            entries = ctx.metadata_writes.setdefault((record.collection, record.key), {})
            entries[record.metadata.metakey] = record.metadata.value
        else:
            raise ValueError("unknown operation type")

    @staticmethod
    def _as_record(kind: int, body: bytes) -> shim.WriteRecord:
        """A single write request as the WriteRecord a batch would carry."""
        if kind == MT.PUT_STATE:
            req = shim.PutState.FromString(body)
            return shim.WriteRecord(key=req.key, value=req.value, collection=req.collection,
                                    type=shim.WriteRecord.PUT_STATE)
        if kind == MT.PUT_STATE_METADATA:
            req = shim.PutStateMetadata.FromString(body)
            return shim.WriteRecord(key=req.key, collection=req.collection, metadata=req.metadata,
                                    type=shim.WriteRecord.PUT_STATE_METADATA)
        req = shim.DelState.FromString(body)
        return shim.WriteRecord(key=req.key, collection=req.collection, type=shim.WriteRecord.DEL_STATE)

    def _space(self, ctx: _TxContext, collection: str) -> dict[str, bytes]:
        return self.state.get((ctx.namespace, collection), {})

    @staticmethod
    def _check_write(ctx: _TxContext) -> None:
        if ctx.paginated:
            raise ValueError("txSimulator does not support a write after a paginated query")
        ctx.written = True

    def _results(self, ctx: _TxContext, metadata_bytes: bytes, keys: list[str], space: dict[str, bytes]) -> bytes:
        bookmark_out = ""
        if metadata_bytes:
            if ctx.written:  # Fabric's txSimulator.checkBeforePaginatedQueries
                raise ValueError("paginated queries are supported only in a read-only transaction")
            ctx.paginated = True
            meta = shim.QueryMetadata.FromString(metadata_bytes)
            if meta.bookmark:
                keys = [k for k in keys if k >= meta.bookmark]
            if meta.pageSize > 0 and len(keys) > meta.pageSize:
                bookmark_out = keys[meta.pageSize]
                keys = keys[: meta.pageSize]
        items = [kv_query_result_pb2.KV(namespace=ctx.namespace, key=k, value=space[k]).SerializeToString()
                 for k in keys]
        response = shim.QueryResponse.FromString(self._open_iterator(ctx, items))
        if metadata_bytes:
            response.metadata = shim.QueryResponseMetadata(
                fetched_records_count=len(keys), bookmark=bookmark_out).SerializeToString()
        return response.SerializeToString()

    def _open_iterator(self, ctx: _TxContext, items: list[bytes]) -> bytes:
        iterator_id = f"it{next(self._iterator_ids)}"
        ctx.iterators[iterator_id] = items
        return self._next_batch(ctx, iterator_id)

    def _next_batch(self, ctx: _TxContext, iterator_id: str) -> bytes:
        items = ctx.iterators.get(iterator_id)
        if items is None:
            raise ValueError(f"query iterator not found: {iterator_id}")
        batch, rest = items[: self.batch_size], items[self.batch_size:]
        if rest:
            ctx.iterators[iterator_id] = rest
        else:
            ctx.iterators.pop(iterator_id)
        return shim.QueryResponse(results=[shim.QueryResultBytes(resultBytes=b) for b in batch],
                                  has_more=bool(rest), id=iterator_id).SerializeToString()


class FakePeer:
    """Plays the peer's side of the ``Connect`` stream over real gRPC, answering from an :class:`InMemoryPeer`.

    It dials a running chaincode server, completes the registration handshake and then lets tests send any
    number of concurrent transactions (or raw messages) down the one stream.
    """

    def __init__(self, address: str, ledger: InMemoryPeer | None = None, namespace: str = "cc",
                 channel_credentials: Any = None, options: list | None = None):
        import grpc  # local import: only protocol tests need a channel

        self.ledger = ledger or InMemoryPeer()
        self.namespace = namespace
        self._channel = (grpc.aio.secure_channel(address, channel_credentials, options=options)
                         if channel_credentials else grpc.aio.insecure_channel(address, options=options))
        from fabric_protos.peer import chaincode_shim_pb2_grpc

        self._call = chaincode_shim_pb2_grpc.ChaincodeStub(self._channel).Connect()
        self._waiting: dict[str, Any] = {}
        self.registered_as: str | None = None
        self.unsolicited: list[shim.ChaincodeMessage] = []
        self._reader: Any = None
        self._write_lock: Any = None
        self.answer_override: Any = None  # tests may replace answers: fn(message) -> message | None

    async def __aenter__(self) -> FakePeer:
        import asyncio

        self._write_lock = asyncio.Lock()  # gRPC allows one write in flight per call
        first = await self._call.read()
        if first.type != MT.REGISTER:
            raise AssertionError(f"expected REGISTER, got {MT.Type.Name(first.type)}")
        self.registered_as = chaincode_pb2.ChaincodeID.FromString(first.payload).name
        await self._write(MT(type=MT.REGISTERED))
        ready = MT(type=MT.READY)
        if self.ledger.write_batch_size:  # as a Fabric 3.1 peer with useWriteBatch announces it
            ready.payload = chaincode_pb2.ChaincodeAdditionalParams(
                use_write_batch=True, max_size_write_batch=self.ledger.write_batch_size).SerializeToString()
        await self._write(ready)
        self._reader = asyncio.create_task(self._read_loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        async with self._write_lock:
            await self._call.done_writing()
        if self._reader:
            self._reader.cancel()
        await self._channel.close()

    async def _read_loop(self) -> None:
        import grpc

        try:
            while True:
                message = await self._call.read()
                if message is grpc.aio.EOF:
                    return
                if message.type in (MT.COMPLETED, MT.ERROR) and message.txid in self._waiting:
                    self._waiting.pop(message.txid).set_result(message)
                    continue
                if message.type in (MT.COMPLETED, MT.ERROR, MT.KEEPALIVE):
                    self.unsolicited.append(message)
                    continue
                reply = self.answer_override(message) if self.answer_override else None
                if reply is None:
                    reply = self.ledger.answer(message)
                await self._write(reply)
        except grpc.aio.AioRpcError:
            return

    async def _write(self, message: shim.ChaincodeMessage) -> None:
        async with self._write_lock:
            await self._call.write(message)

    async def send_raw(self, message: shim.ChaincodeMessage) -> None:
        await self._write(message)

    async def transact(self, function: str, *args: str | bytes, identity: TestIdentity | None = None,
                       transient: dict[str, bytes] | None = None, tx_id: str | None = None,
                       commit: bool = True) -> shim.ChaincodeMessage:
        """Send one TRANSACTION and wait for its COMPLETED (or ERROR) message; commit its writes on success."""
        import asyncio

        tx_id = tx_id or f"ftx{next(self.ledger._tx_ids):08d}"
        timestamp = Timestamp(seconds=int(time.time()))
        raw_args = [a.encode() if isinstance(a, str) else a for a in (function, *args)]
        creator = identity.creator if identity else b""
        proposal = signed_proposal(self.ledger.channel_id, tx_id, self.namespace, raw_args, creator, transient,
                                   timestamp)
        context = _TxContext(self.namespace, timestamp)
        key = (self.ledger.channel_id, tx_id)
        self.ledger._tx[key] = [context]
        future = asyncio.get_running_loop().create_future()
        self._waiting[tx_id] = future
        try:
            await self._write(MT(type=MT.TRANSACTION, txid=tx_id, channel_id=self.ledger.channel_id,
                                      payload=chaincode_pb2.ChaincodeInput(args=raw_args).SerializeToString(),
                                      proposal=proposal))
            reply = await future
        finally:
            self.ledger._tx.pop(key, None)
        if commit and reply.type == MT.COMPLETED:
            if proposal_response_pb2.Response.FromString(reply.payload).status < 400:
                self.ledger._commit(context, tx_id)
        return reply

    async def wait_for(self, tx_id: str) -> shim.ChaincodeMessage:
        import asyncio

        future = asyncio.get_running_loop().create_future()
        self._waiting[tx_id] = future
        return await future


def response_of(message: shim.ChaincodeMessage) -> proposal_response_pb2.Response:
    """The chaincode's Response inside a COMPLETED message."""
    if message.type != MT.COMPLETED:
        raise AssertionError(f"expected COMPLETED, got {MT.Type.Name(message.type)}: {message.payload!r}")
    return proposal_response_pb2.Response.FromString(message.payload)
