"""The peer's side of the chaincode protocol, answered in-process: transaction simulation.

:class:`Simulator` is the ``Transport`` of every :class:`fabric_ccaas.stub.ChaincodeStub` it creates. As on
Fabric, a simulation reads committed state only (it never sees its own writes) and records a read/write set:
each key read with its version, each public range query with the (key, version) pairs the peer handed out and
whether it handed out the last one, and every put, delete and metadata write.

What Fabric does not record, neither does this: rich (Mango) query results, history queries and private-data
range queries are not in the read set, so they are not protected against phantoms.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

from fabric_ccaas.errors import PeerError
from fabric_ccaas.handler import Chaincode
from fabric_ccaas.keys import COMPOSITE_KEY_NAMESPACE
from fabric_ccaas.mango import matches, selector_of
from fabric_ccaas.stub import KV, ChaincodeStub
from fabric_protos.ledger.queryresult import kv_query_result_pb2
from fabric_protos.peer import chaincode_event_pb2, chaincode_pb2, proposal_pb2, proposal_response_pb2
from fabric_protos.peer import chaincode_shim_pb2 as shim
from google.protobuf.timestamp_pb2 import Timestamp

from .rwset import RangeRead, RWSet, Version, Write
from .store import Store

MT = shim.ChaincodeMessage
#: Results per QueryResponse batch (Fabric's peer sends at most 100 per message).
QUERY_BATCH_SIZE = 100


class SimulationError(ValueError):
    """A request Fabric's transaction simulator refuses; answered to the chaincode as an ERROR message."""


def visible_range(rows: list[tuple[str, bytes, Version]], start: str) -> list[tuple[str, bytes, Version]]:
    """A simple-key range never returns composite keys (they start with U+0000), as on Fabric."""
    if start.startswith(COMPOSITE_KEY_NAMESPACE):
        return rows
    return [row for row in rows if not row[0].startswith(COMPOSITE_KEY_NAMESPACE)]


@dataclass
class _Flags:
    """Transaction-wide facts (shared by a caller and the chaincodes it calls: one simulator on Fabric)."""

    paginated: bool = False
    wrote: bool = False
    # only public keys and ranges were read (no rich, history or paginated query, no private data, no other
    # chaincode): the read set then names everything the answer depends on (see .evaluations)
    state_reads_only: bool = True


@dataclass
class _Iterator:
    items: list[bytes]
    versions: list[tuple[str, Version]] | None = None  # parallel to items when recorded in the read set
    record: RangeRead | None = None
    page_ended: bool = False  # a page stopped before the end of its range: the read set is not exhausted


@dataclass
class _Context:
    namespace: str
    flags: _Flags
    proposal: proposal_pb2.SignedProposal | None = None
    rwset: RWSet = field(default_factory=RWSet)
    iterators: dict[str, _Iterator] = field(default_factory=dict)


@dataclass(frozen=True)
class Simulation:
    """The outcome of simulating one proposal."""

    response: proposal_response_pb2.Response
    event: chaincode_event_pb2.ChaincodeEvent | None
    rwset: RWSet
    repeatable: bool = False  # the same arguments and creator give the same answer until the read set changes


class Simulator:
    """Runs chaincodes against the committed state of a :class:`Store`, recording read/write sets."""

    def __init__(self, store: Store, chaincodes: Mapping[str, Chaincode], batch_size: int = QUERY_BATCH_SIZE):
        self.store = store
        self.chaincodes = chaincodes
        self.batch_size = batch_size
        self._running: dict[tuple[str, str], list[_Context]] = {}
        self._iterator_ids = itertools.count(1)

    async def simulate(self, chaincode: str, tx_id: str, args: list[bytes],
                       proposal: proposal_pb2.SignedProposal) -> Simulation:
        key = (self.store.channel, tx_id)
        if key in self._running:
            raise SimulationError(f"transaction {tx_id} is already being simulated")
        if chaincode not in self.chaincodes:
            raise SimulationError(f"chaincode {chaincode} is not installed")
        context = _Context(chaincode, _Flags(), proposal)
        response, stub = await self._run(context, tx_id, args, proposal)
        return Simulation(response, stub.event, context.rwset,
                          context.flags.state_reads_only and not stub.proposal_context_read)

    async def _run(self, context: _Context, tx_id: str, args: list[bytes], proposal):
        stack = self._running.setdefault((self.store.channel, tx_id), [])
        stack.append(context)
        try:
            stub = ChaincodeStub(self, self.store.channel, tx_id, chaincode_pb2.ChaincodeInput(args=args), proposal)
            response = await self.chaincodes[context.namespace].invoke(stub)
        finally:
            stack.pop()
            if not stack:
                del self._running[(self.store.channel, tx_id)]
        return response, stub

    # -- the Transport protocol -------------------------------------------------------------------------------
    async def request(self, message: shim.ChaincodeMessage) -> shim.ChaincodeMessage:
        stack = self._running.get((message.channel_id, message.txid))
        if not stack:
            return _error(message, f"no transaction context for {message.txid}")
        if message.type == MT.INVOKE_CHAINCODE:
            stack[-1].flags.state_reads_only = False
            return await self._invoke_chaincode(stack[-1], message)
        try:
            payload = self._dispatch(stack[-1], message)
        except (SimulationError, ValueError, KeyError) as exc:
            return _error(message, str(exc))
        return MT(type=MT.RESPONSE, payload=payload, txid=message.txid, channel_id=message.channel_id)

    async def _invoke_chaincode(self, caller: _Context, message: shim.ChaincodeMessage) -> shim.ChaincodeMessage:
        spec = chaincode_pb2.ChaincodeSpec.FromString(message.payload)
        name, _, channel = spec.chaincode_id.name.partition("/")
        name = name.split(":")[0]
        if channel and channel != self.store.channel:
            return _error(message, f"chaincode {spec.chaincode_id.name}: channel {channel} not found")
        if name not in self.chaincodes:
            return _error(message, f"chaincode {spec.chaincode_id.name} not found")
        callee = _Context(name, caller.flags, caller.proposal)  # Fabric hands the callee the same proposal
        response, _ = await self._run(callee, message.txid, list(spec.input.args), caller.proposal)
        if response.status < 400:  # a failed callee leaves nothing behind (as the reference InMemoryPeer)
            caller.rwset.merge(callee.rwset)
        completed = MT(type=MT.COMPLETED, payload=response.SerializeToString(), txid=message.txid,
                       channel_id=message.channel_id)
        return MT(type=MT.RESPONSE, payload=completed.SerializeToString(), txid=message.txid,
                  channel_id=message.channel_id)

    # -- the stub's in-process calls (fabric_ccaas.stub.LocalStateTransport): GET_STATE and PUT_STATE of public
    #    state without encoding messages; the same read/write set entries as the messages below
    def _context(self, channel_id: str, tx_id: str, request: str) -> _Context:
        stack = self._running.get((channel_id, tx_id))
        if not stack:
            raise PeerError(request, f"no transaction context for {tx_id}")
        return stack[-1]

    def get_state_local(self, channel_id: str, tx_id: str, key: str) -> bytes:
        ctx = self._context(channel_id, tx_id, "GET_STATE")
        state_key = (ctx.namespace, "", key)
        entry = self.store.get(state_key)
        ctx.rwset.record_read(state_key, entry.version if entry else None)
        return entry.value if entry else b""

    def put_state_local(self, channel_id: str, tx_id: str, key: str, value: bytes) -> None:
        ctx = self._context(channel_id, tx_id, "PUT_STATE")
        try:
            self._check_write(ctx)
        except SimulationError as exc:
            raise PeerError("PUT_STATE", str(exc)) from None
        ctx.rwset.writes[(ctx.namespace, "", key)] = Write(value or None)  # empty value: a delete, as below

    def range_local(self, channel_id: str, tx_id: str, start: str, end: str) -> tuple[list[KV], bool, _LocalRange]:
        """GET_STATE_BY_RANGE of public state, not paginated: the first batch now, recorded as the message's."""
        ctx = self._context(channel_id, tx_id, "GET_STATE_BY_RANGE")
        record = RangeRead(ctx.namespace, "", start, end)
        ctx.rwset.ranges.append(record)
        source = _LocalRange(ctx.namespace, visible_range(self.store.range(ctx.namespace, "", start, end), start),
                             record, self.batch_size)
        return *source.next_batch(), source

    def _dispatch(self, ctx: _Context, message: shim.ChaincodeMessage) -> bytes:
        kind, body = message.type, message.payload
        if kind in (MT.GET_STATE, MT.GET_PRIVATE_DATA_HASH, MT.GET_STATE_METADATA):
            req = (shim.GetStateMetadata if kind == MT.GET_STATE_METADATA else shim.GetState).FromString(body)
            state_key = (ctx.namespace, req.collection, req.key)
            if req.collection:
                ctx.flags.state_reads_only = False
            entry = self.store.get(state_key)
            ctx.rwset.record_read(state_key, entry.version if entry else None)
            if kind == MT.GET_STATE:
                return entry.value if entry else b""
            if kind == MT.GET_PRIVATE_DATA_HASH:
                return entry.value_hash if entry else b""
            metadata = entry.metadata if entry else {}
            return shim.StateMetadataResult(entries=[shim.StateMetadata(metakey=k, value=v)
                                                     for k, v in sorted(metadata.items())]).SerializeToString()
        if kind == MT.PUT_STATE:
            req = shim.PutState.FromString(body)
            self._check_write(ctx)
            # an empty value is a delete, as in Fabric's read/write set
            ctx.rwset.writes[(ctx.namespace, req.collection, req.key)] = Write(req.value or None)
            return b""
        if kind in (MT.DEL_STATE, MT.PURGE_PRIVATE_DATA):
            req = shim.DelState.FromString(body)
            if kind == MT.PURGE_PRIVATE_DATA and not req.collection:
                raise SimulationError("purge is only for private data: a collection is required")
            self._check_write(ctx)
            ctx.rwset.writes[(ctx.namespace, req.collection, req.key)] = Write(None, kind == MT.PURGE_PRIVATE_DATA)
            return b""
        if kind == MT.PUT_STATE_METADATA:
            req = shim.PutStateMetadata.FromString(body)
            self._check_write(ctx)
            entries = ctx.rwset.metadata_writes.setdefault((ctx.namespace, req.collection, req.key), {})
            entries[req.metadata.metakey] = req.metadata.value
            return b""
        if kind == MT.GET_STATE_BY_RANGE:
            req = shim.GetStateByRange.FromString(body)
            if req.collection or req.metadata:
                ctx.flags.state_reads_only = False
            rows = None
            if req.metadata:  # a page: read from its bookmark, one row past its size (not the rest of the range)
                meta = shim.QueryMetadata.FromString(req.metadata)
                if meta.pageSize > 0:
                    first = max(req.startKey, meta.bookmark)
                    page = self.store.range(ctx.namespace, req.collection, first, req.endKey,
                                            limit=meta.pageSize + 1)
                    if len(visible_range(page, req.startKey)) == len(page):
                        rows = page
            if rows is None:
                rows = visible_range(self.store.range(ctx.namespace, req.collection, req.startKey, req.endKey),
                                     req.startKey)
            return self._results(ctx, req.collection, req.metadata, rows, (req.startKey, req.endKey))
        if kind == MT.GET_QUERY_RESULT:
            ctx.flags.state_reads_only = False
            req = shim.GetQueryResult.FromString(body)
            selector = selector_of(req.query)
            rows = [row for row in self.store.all_in(ctx.namespace, req.collection) if matches(row[1], selector)]
            return self._results(ctx, req.collection, req.metadata, rows, None)
        if kind == MT.QUERY_STATE_NEXT:
            return self._next_batch(ctx, shim.QueryStateNext.FromString(body).id)
        if kind == MT.QUERY_STATE_CLOSE:
            req = shim.QueryStateClose.FromString(body)
            ctx.iterators.pop(req.id, None)
            return shim.QueryResponse(id=req.id).SerializeToString()
        if kind == MT.GET_HISTORY_FOR_KEY:
            ctx.flags.state_reads_only = False
            req = shim.GetHistoryForKey.FromString(body)
            items = [kv_query_result_pb2.KeyModification(
                tx_id=h.tx_id, value=h.value, timestamp=Timestamp(seconds=h.seconds, nanos=h.nanos),
                is_delete=h.is_delete).SerializeToString() for h in self.store.history(ctx.namespace, req.key)]
            return self._open_iterator(ctx, _Iterator(items))
        raise SimulationError(f"unsupported request {MT.Type.Name(kind)}")

    @staticmethod
    def _check_write(ctx: _Context) -> None:
        if ctx.flags.paginated:
            raise SimulationError("txSimulator does not support a write after a paginated query")
        ctx.flags.wrote = True

    def _results(self, ctx: _Context, collection: str, metadata_bytes: bytes, rows: list[tuple[str, bytes, Version]],
                 bounds: tuple[str, str] | None) -> bytes:
        bookmark_out = ""
        start = bounds[0] if bounds else ""
        if metadata_bytes:
            if ctx.flags.wrote:
                raise SimulationError("txSimulator does not support paginated queries after a write")
            ctx.flags.paginated = True
            meta = shim.QueryMetadata.FromString(metadata_bytes)
            if meta.bookmark:
                rows = [row for row in rows if row[0] >= meta.bookmark]
                start = max(start, meta.bookmark)
            if meta.pageSize > 0 and len(rows) > meta.pageSize:
                bookmark_out = rows[meta.pageSize][0]
                rows = rows[: meta.pageSize]
        iterator = _Iterator([kv_query_result_pb2.KV(namespace=ctx.namespace, key=k, value=v).SerializeToString()
                              for k, v, _ in rows])
        if bounds is not None and collection == "":  # Fabric has no phantom protection for private ranges
            # a page that stopped early was read up to its last key, not to the end of the range
            iterator.record = RangeRead(ctx.namespace, collection, start, bounds[1])
            iterator.versions = [(k, version) for k, _, version in rows]
            ctx.rwset.ranges.append(iterator.record)
        response = shim.QueryResponse.FromString(self._open_iterator(ctx, iterator, page_ended=bool(bookmark_out)))
        if metadata_bytes:
            response.metadata = shim.QueryResponseMetadata(
                fetched_records_count=len(rows), bookmark=bookmark_out).SerializeToString()
        return response.SerializeToString()

    def _open_iterator(self, ctx: _Context, iterator: _Iterator, page_ended: bool = False) -> bytes:
        iterator_id = f"it{next(self._iterator_ids)}"
        ctx.iterators[iterator_id] = iterator
        iterator.page_ended = page_ended
        return self._next_batch(ctx, iterator_id)

    def _next_batch(self, ctx: _Context, iterator_id: str) -> bytes:
        iterator = ctx.iterators.get(iterator_id)
        if iterator is None:
            raise SimulationError(f"query iterator not found: {iterator_id}")
        batch, rest = iterator.items[: self.batch_size], iterator.items[self.batch_size:]
        if iterator.record is not None and iterator.versions is not None:
            iterator.record.results.extend(iterator.versions[: len(batch)])
            iterator.versions = iterator.versions[len(batch):]
            if not rest and not iterator.page_ended:
                iterator.record.exhausted = True
        if rest:
            iterator.items = rest
        else:
            ctx.iterators.pop(iterator_id)
        return shim.QueryResponse(results=[shim.QueryResultBytes(resultBytes=b) for b in batch],
                                  has_more=bool(rest), id=iterator_id).SerializeToString()


class _LocalRange:
    """A range's rows handed out ``size`` at a time; each batch enters the read set when handed out (as
    ``_next_batch`` does for QUERY_STATE_NEXT), the range is exhausted once the last batch is out."""

    __slots__ = ("namespace", "position", "record", "rows", "size")

    def __init__(self, namespace: str, rows: list[tuple[str, bytes, Version]], record: RangeRead, size: int):
        self.namespace, self.rows, self.record, self.size, self.position = namespace, rows, record, size, 0

    def next_batch(self) -> tuple[list[KV], bool]:
        batch = self.rows[self.position:self.position + self.size]
        self.position += len(batch)
        self.record.results.extend([(k, version) for k, _, version in batch])
        more = self.position < len(self.rows)
        if not more:
            self.record.exhausted = True
        namespace = self.namespace
        return [KV(namespace, k, v) for k, v, _ in batch], more

    def close(self) -> None:
        """Nothing to release: the rows are this object's (a closed range stays as read so far)."""


def _error(message: shim.ChaincodeMessage, text: str) -> shim.ChaincodeMessage:
    return MT(type=MT.ERROR, payload=text.encode(), txid=message.txid, channel_id=message.channel_id)
