"""The chaincode stub: everything a transaction can ask of the peer.

Every call is one request/answer exchange of ``ChaincodeMessage``s with the peer (or with an in-process peer
such as :class:`fabric_ccaas.testing.InMemoryPeer`). A transaction's calls are serialised: Fabric allows one
outstanding request per transaction, so concurrent ``await``s inside one transaction queue up here instead of
breaking the protocol.

When the peer offers write batching (Fabric 3.1's ``chaincode.runtimeParams.useWriteBatch``, announced in its
READY message), writes are kept in the stub and sent as WRITE_BATCH_STATE messages when the transaction
returns: one message for up to the peer's ``maxSizeWriteBatch`` writes instead of one round trip per write.
Nothing a transaction can observe changes (it never sees its own writes), except where a refused write is
reported: a write the peer refuses fails the transaction when the batch is sent, not at the ``put_state``
call. Fabric 2.5 peers announce nothing, and every write is then its own PUT_STATE/DEL_STATE as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from fabric_protos.common import common_pb2
from fabric_protos.ledger.queryresult import kv_query_result_pb2
from fabric_protos.peer import chaincode_event_pb2, chaincode_pb2, proposal_pb2, proposal_response_pb2
from fabric_protos.peer import chaincode_shim_pb2 as shim
from google.protobuf.timestamp_pb2 import Timestamp

from .errors import ChaincodeError, PeerError, RuntimeCode
from .identity import ClientIdentity
from .keys import (
    EMPTY_KEY_SUBSTITUTE,
    MAX_UNICODE_RUNE,
    create_composite_key,
    split_composite_key,
    validate_collection,
    validate_key,
    validate_simple_keys,
)
from .proposal import ProposalView

MT = shim.ChaincodeMessage
VALIDATION_PARAMETER = "VALIDATION_PARAMETER"
_RECORD_TYPE = {kind: shim.WriteRecord.Type.Value(MT.Type.Name(kind))
                for kind in (MT.PUT_STATE, MT.DEL_STATE, MT.PURGE_PRIVATE_DATA, MT.PUT_STATE_METADATA)}


class Transport(Protocol):
    """Sends one stub request for a transaction and returns the peer's RESPONSE or ERROR message."""

    async def request(self, message: shim.ChaincodeMessage) -> shim.ChaincodeMessage: ...


class LocalStateTransport(Transport, Protocol):
    """A peer in the same process may also answer the two most frequent requests as plain calls, skipping the
    messages' encoding (the same effect on the read/write set; refusals raise :class:`PeerError` as an ERROR
    reply would). The stub uses them when its transport has them."""

    def get_state_local(self, channel_id: str, tx_id: str, key: str) -> bytes: ...

    def put_state_local(self, channel_id: str, tx_id: str, key: str, value: bytes) -> None: ...


class LocalRange(Protocol):
    """A public range query a peer in the same process serves as plain objects: the peer hands out results in
    batches and records each batch in the read set as it hands it out, exactly as for QUERY_STATE_NEXT."""

    def next_batch(self) -> tuple[list[KV], bool]: ...  # (results, whether more follow)

    def close(self) -> None: ...


class LocalRangeTransport(LocalStateTransport, Protocol):
    """Optionally, GET_STATE_BY_RANGE of public state without pagination, answered with its first batch."""

    def range_local(self, channel_id: str, tx_id: str, start: str, end: str) -> tuple[list[KV], bool, LocalRange]: ...


@dataclass(frozen=True, slots=True)
class KV:
    namespace: str
    key: str
    value: bytes


@dataclass(frozen=True, slots=True)
class KeyModification:
    tx_id: str
    value: bytes
    timestamp: Timestamp
    is_delete: bool


@dataclass(frozen=True, slots=True)
class QueryPage:
    """Pagination metadata of a paginated query: pass ``bookmark`` back to read the next page."""

    fetched_records_count: int
    bookmark: str


def _decode_kv(raw: bytes) -> KV:
    kv = kv_query_result_pb2.KV.FromString(raw)
    return KV(kv.namespace, kv.key, kv.value)


def _decode_key_modification(raw: bytes) -> KeyModification:
    km = kv_query_result_pb2.KeyModification.FromString(raw)
    return KeyModification(km.tx_id, km.value, km.timestamp, km.is_delete)


class QueryIterator:
    """Async iterator over a query's results, fetching further batches from the peer as it goes.

    Use ``async for`` directly (the iterator closes itself when exhausted) or ``async with`` to close it early.
    """

    def __init__(self, stub: ChaincodeStub, response: shim.QueryResponse, decode: Callable[[bytes], Any]):
        self._stub = stub
        self._decode = decode
        self._results = response.results
        self._index = 0
        self._has_more = response.has_more
        self._id = response.id
        self._closed = False

    def __aiter__(self) -> QueryIterator:
        return self

    async def __anext__(self) -> Any:
        while self._index >= len(self._results):
            if not self._has_more or self._closed:
                await self.close()
                raise StopAsyncIteration
            payload = await self._stub._call(MT.QUERY_STATE_NEXT, shim.QueryStateNext(id=self._id))
            response = shim.QueryResponse.FromString(payload)
            self._results, self._index, self._has_more = response.results, 0, response.has_more
        item = self._results[self._index]
        self._index += 1
        return self._decode(item.resultBytes)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._has_more:  # the peer already released an iterator it has no more results for
            await self._stub._call(MT.QUERY_STATE_CLOSE, shim.QueryStateClose(id=self._id))

    async def __aenter__(self) -> QueryIterator:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def collect(self) -> list[Any]:
        """All remaining results as a list (for bounded queries)."""
        return [item async for item in self]


class LocalQueryIterator(QueryIterator):
    """A :class:`QueryIterator` over a :class:`LocalRange`: the same batches, without messages."""

    def __init__(self, source: LocalRange, results: list[KV], has_more: bool):
        self._source = source
        self._results = results
        self._index = 0
        self._has_more = has_more
        self._closed = False

    async def __anext__(self) -> KV:
        while self._index >= len(self._results):
            if not self._has_more or self._closed:
                await self.close()
                raise StopAsyncIteration
            self._results, self._has_more = self._source.next_batch()
            self._index = 0
        item = self._results[self._index]
        self._index += 1
        return item

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._has_more:
            self._source.close()


class ChaincodeStub:
    """The API a transaction uses: state, queries, private data, events, identity and proposal fields."""

    __slots__ = (
        "_identity",
        "_input",
        "_local",
        "_lock",
        "_proposal",
        "_range_local",
        "_transport",
        "_tx_id",
        "_writes",
        "channel_id",
        "event",
        "proposal_context_read",
        "read_only",
    )

    def __init__(
        self,
        transport: Transport,
        channel_id: str,
        tx_id: str,
        chaincode_input: chaincode_pb2.ChaincodeInput,
        signed_proposal: proposal_pb2.SignedProposal | None = None,
        read_only: bool = False,
    ):
        self._transport = transport
        self.channel_id = channel_id
        self._tx_id = tx_id
        # set when the transaction reads what differs between two proposals with the same arguments and creator
        # (tx id, timestamp, the proposal itself, transient data): its answer is then not a function of state alone
        self.proposal_context_read = False
        self._input = chaincode_input
        self._proposal = ProposalView(signed_proposal)
        self._lock = asyncio.Lock()
        self.read_only = read_only
        self.event: chaincode_event_pb2.ChaincodeEvent | None = None
        self._identity: ClientIdentity | None = None
        self._local = transport if hasattr(transport, "put_state_local") else None
        self._range_local = getattr(transport, "range_local", None)
        # (collection, key, metakey or None for the value) -> WriteRecord, in the order last written
        self._writes: dict[tuple[str, str, str | None], shim.WriteRecord] | None = (
            {} if self._local is None and getattr(transport, "write_batch_size", 0) > 0 else None
        )

    # -- the exchange with the peer ------------------------------------------------------------------
    async def _call(self, kind: int, body: Any) -> bytes:
        message = MT(type=kind, payload=body.SerializeToString(), txid=self._tx_id, channel_id=self.channel_id)
        async with self._lock:
            reply = await self._transport.request(message)
        if reply.type == MT.RESPONSE:
            return reply.payload
        name = MT.Type.Name(kind)
        if reply.type == MT.ERROR:
            raise PeerError(name, reply.payload.decode("utf-8", "replace"))
        raise PeerError(name, f"unexpected reply {MT.Type.Name(reply.type)}")

    def _guard_write(self) -> None:
        if self.read_only:
            raise ChaincodeError(RuntimeCode.READ_ONLY, "an evaluate transaction cannot write to the ledger")

    # -- arguments and proposal ------------------------------------------------------------------------
    @property
    def args(self) -> list[bytes]:
        return list(self._input.args)

    def get_string_args(self) -> list[str]:
        return [arg.decode("utf-8") for arg in self._input.args]

    def get_function_and_parameters(self) -> tuple[str, list[str]]:
        args = self.get_string_args()
        return (args[0], args[1:]) if args else ("", [])

    @property
    def is_init(self) -> bool:
        return self._input.is_init

    def get_decorations(self) -> dict[str, bytes]:
        return dict(self._input.decorations)

    @property
    def tx_id(self) -> str:
        self.proposal_context_read = True
        return self._tx_id

    def get_signed_proposal(self) -> proposal_pb2.SignedProposal | None:
        self.proposal_context_read = True
        return self._proposal.signed_proposal

    def get_creator(self) -> bytes:
        return self._proposal.creator

    def get_transient(self) -> dict[str, bytes]:
        self.proposal_context_read = True
        return self._proposal.transient

    def get_binding(self) -> bytes:
        self.proposal_context_read = True
        return self._proposal.binding

    def get_tx_timestamp(self) -> Timestamp:
        self.proposal_context_read = True
        return self._proposal.channel_header.timestamp

    def get_channel_header(self) -> common_pb2.ChannelHeader:
        self.proposal_context_read = True
        return self._proposal.channel_header

    @property
    def client_identity(self) -> ClientIdentity:
        if self._identity is None:
            self._identity = ClientIdentity(self.get_creator())
        return self._identity

    # -- public state ------------------------------------------------------------------------------------
    async def get_state(self, key: str) -> bytes:
        """The committed value of ``key``; ``b""`` when the key does not exist."""
        validate_key(key)
        if self._local is not None and not self._lock.locked():  # a call in flight goes first, as with messages
            return self._local.get_state_local(self.channel_id, self._tx_id, key)
        return await self._call(MT.GET_STATE, shim.GetState(key=key))

    async def put_state(self, key: str, value: bytes) -> None:
        validate_key(key)
        self._guard_write()
        if self._local is not None and not self._lock.locked():
            self._local.put_state_local(self.channel_id, self._tx_id, key, value)
            return
        await self._write(MT.PUT_STATE, "", key, value)

    async def del_state(self, key: str) -> None:
        validate_key(key)
        self._guard_write()
        await self._write(MT.DEL_STATE, "", key)

    async def set_state_validation_parameter(self, key: str, endorsement_policy: bytes) -> None:
        await self._put_metadata("", key, VALIDATION_PARAMETER, endorsement_policy)

    async def get_state_validation_parameter(self, key: str) -> bytes:
        return (await self._get_metadata("", key)).get(VALIDATION_PARAMETER, b"")

    async def get_state_by_range(self, start_key: str, end_key: str) -> QueryIterator:
        iterator, _ = await self._range("", start_key, end_key, None)
        return iterator

    async def get_state_by_range_with_pagination(
        self, start_key: str, end_key: str, page_size: int, bookmark: str = ""
    ) -> tuple[QueryIterator, QueryPage]:
        return await self._range("", start_key, end_key, shim.QueryMetadata(pageSize=page_size, bookmark=bookmark))

    async def get_state_by_partial_composite_key(self, object_type: str, attributes: list[str]) -> QueryIterator:
        start = create_composite_key(object_type, attributes)
        iterator, _ = await self._range_raw("", start, start + MAX_UNICODE_RUNE, None)
        return iterator

    async def get_state_by_partial_composite_key_with_pagination(
        self, object_type: str, attributes: list[str], page_size: int, bookmark: str = ""
    ) -> tuple[QueryIterator, QueryPage]:
        start = create_composite_key(object_type, attributes)
        metadata = shim.QueryMetadata(pageSize=page_size, bookmark=bookmark)
        return await self._range_raw("", start, start + MAX_UNICODE_RUNE, metadata)

    async def get_query_result(self, query: str) -> QueryIterator:
        iterator, _ = await self._query("", query, None)
        return iterator

    async def get_query_result_with_pagination(
        self, query: str, page_size: int, bookmark: str = ""
    ) -> tuple[QueryIterator, QueryPage]:
        return await self._query("", query, shim.QueryMetadata(pageSize=page_size, bookmark=bookmark))

    async def get_history_for_key(self, key: str) -> QueryIterator:
        validate_key(key)
        payload = await self._call(MT.GET_HISTORY_FOR_KEY, shim.GetHistoryForKey(key=key))
        return QueryIterator(self, shim.QueryResponse.FromString(payload), _decode_key_modification)

    # -- composite keys ----------------------------------------------------------------------------------
    @staticmethod
    def create_composite_key(object_type: str, attributes: list[str]) -> str:
        return create_composite_key(object_type, attributes)

    @staticmethod
    def split_composite_key(key: str) -> tuple[str, list[str]]:
        return split_composite_key(key)

    # -- private data ------------------------------------------------------------------------------------
    async def get_private_data(self, collection: str, key: str) -> bytes:
        validate_collection(collection)
        validate_key(key)
        return await self._call(MT.GET_STATE, shim.GetState(key=key, collection=collection))

    async def get_private_data_hash(self, collection: str, key: str) -> bytes:
        validate_collection(collection)
        validate_key(key)
        return await self._call(MT.GET_PRIVATE_DATA_HASH, shim.GetState(key=key, collection=collection))

    async def put_private_data(self, collection: str, key: str, value: bytes) -> None:
        validate_collection(collection)
        validate_key(key)
        self._guard_write()
        await self._write(MT.PUT_STATE, collection, key, value)

    async def del_private_data(self, collection: str, key: str) -> None:
        validate_collection(collection)
        validate_key(key)
        self._guard_write()
        await self._write(MT.DEL_STATE, collection, key)

    async def purge_private_data(self, collection: str, key: str) -> None:
        validate_collection(collection)
        validate_key(key)
        self._guard_write()
        await self._write(MT.PURGE_PRIVATE_DATA, collection, key)

    async def set_private_data_validation_parameter(self, collection: str, key: str, policy: bytes) -> None:
        validate_collection(collection)
        await self._put_metadata(collection, key, VALIDATION_PARAMETER, policy)

    async def get_private_data_validation_parameter(self, collection: str, key: str) -> bytes:
        validate_collection(collection)
        return (await self._get_metadata(collection, key)).get(VALIDATION_PARAMETER, b"")

    async def get_private_data_by_range(self, collection: str, start_key: str, end_key: str) -> QueryIterator:
        validate_collection(collection)
        iterator, _ = await self._range(collection, start_key, end_key, None)
        return iterator

    async def get_private_data_by_partial_composite_key(
        self, collection: str, object_type: str, attributes: list[str]
    ) -> QueryIterator:
        validate_collection(collection)
        start = create_composite_key(object_type, attributes)
        iterator, _ = await self._range_raw(collection, start, start + MAX_UNICODE_RUNE, None)
        return iterator

    async def get_private_data_query_result(self, collection: str, query: str) -> QueryIterator:
        validate_collection(collection)
        iterator, _ = await self._query(collection, query, None)
        return iterator

    # -- events and other chaincodes ---------------------------------------------------------------------
    def set_event(self, name: str, payload: bytes) -> None:
        """Attach the transaction's event (one per transaction: the last one set is sent)."""
        if not name:
            raise ValueError("event name can not be empty string")
        self.event = chaincode_event_pb2.ChaincodeEvent(event_name=name, payload=payload)

    async def invoke_chaincode(
        self, chaincode_name: str, args: list[bytes | str], channel: str = ""
    ) -> proposal_response_pb2.Response:
        """Call another chaincode in this transaction; returns its response (status, message, payload)."""
        if channel:
            chaincode_name = f"{chaincode_name}/{channel}"
        spec = chaincode_pb2.ChaincodeSpec(
            chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode_name),
            input=chaincode_pb2.ChaincodeInput(args=[a.encode() if isinstance(a, str) else a for a in args]),
        )
        payload = await self._call(MT.INVOKE_CHAINCODE, spec)
        inner = MT.FromString(payload)
        if inner.type == MT.COMPLETED:
            return proposal_response_pb2.Response.FromString(inner.payload)
        return proposal_response_pb2.Response(status=500, message=inner.payload.decode("utf-8", "replace"))

    # -- writes, one by one or batched ---------------------------------------------------------------------
    async def _write(self, kind: int, collection: str, key: str, value: bytes = b"", metakey: str | None = None):
        """One write (PUT_STATE, DEL_STATE, PURGE_PRIVATE_DATA or PUT_STATE_METADATA): its own request, or kept
        for the transaction's write batch when the peer takes them."""
        metadata = shim.StateMetadata(metakey=metakey, value=value) if metakey is not None else None
        if self._writes is not None:
            slot = (collection, key, metakey)
            self._writes.pop(slot, None)  # a later write to the same slot replaces an earlier one and moves last
            self._writes[slot] = shim.WriteRecord(key=key, collection=collection, type=_RECORD_TYPE[kind],
                                                  value=value if metadata is None else b"", metadata=metadata)
            return
        if kind == MT.PUT_STATE:
            body = shim.PutState(key=key, value=value, collection=collection)
        elif metadata is not None:
            body = shim.PutStateMetadata(key=key, collection=collection, metadata=metadata)
        else:
            body = shim.DelState(key=key, collection=collection)
        await self._call(kind, body)

    async def flush_writes(self) -> None:
        """Send the kept writes as WRITE_BATCH_STATE messages of at most the peer's batch size each; a refusal
        raises :class:`PeerError`. The runtime calls this when a transaction returns a success."""
        if not self._writes:
            return
        records, self._writes = list(self._writes.values()), {}
        size = self._transport.write_batch_size
        for start in range(0, len(records), size):
            await self._call(MT.WRITE_BATCH_STATE, shim.WriteBatchState(rec=records[start:start + size]))

    # -- helpers -----------------------------------------------------------------------------------------
    async def _range(self, collection: str, start: str, end: str, metadata: shim.QueryMetadata | None):
        start = start or EMPTY_KEY_SUBSTITUTE
        validate_simple_keys(start, end)
        return await self._range_raw(collection, start, end, metadata)

    async def _range_raw(self, collection: str, start: str, end: str, metadata: shim.QueryMetadata | None):
        if self._range_local is not None and metadata is None and not collection and not self._lock.locked():
            results, has_more, source = self._range_local(self.channel_id, self._tx_id, start, end)
            return LocalQueryIterator(source, results, has_more), QueryPage(0, "")
        request = shim.GetStateByRange(startKey=start, endKey=end, collection=collection)
        if metadata is not None:
            request.metadata = metadata.SerializeToString()
        payload = await self._call(MT.GET_STATE_BY_RANGE, request)
        return self._iterator_and_page(payload, _decode_kv)

    async def _query(self, collection: str, query: str, metadata: shim.QueryMetadata | None):
        request = shim.GetQueryResult(query=query, collection=collection)
        if metadata is not None:
            request.metadata = metadata.SerializeToString()
        payload = await self._call(MT.GET_QUERY_RESULT, request)
        return self._iterator_and_page(payload, _decode_kv)

    def _iterator_and_page(self, payload: bytes, decode: Callable[[bytes], Any]) -> tuple[QueryIterator, QueryPage]:
        response = shim.QueryResponse.FromString(payload)
        page = shim.QueryResponseMetadata.FromString(response.metadata)
        return QueryIterator(self, response, decode), QueryPage(page.fetched_records_count, page.bookmark)

    async def _put_metadata(self, collection: str, key: str, metakey: str, value: bytes) -> None:
        validate_key(key)
        self._guard_write()
        await self._write(MT.PUT_STATE_METADATA, collection, key, value, metakey)

    async def _get_metadata(self, collection: str, key: str) -> dict[str, bytes]:
        validate_key(key)
        payload = await self._call(MT.GET_STATE_METADATA, shim.GetStateMetadata(key=key, collection=collection))
        return {entry.metakey: entry.value for entry in shim.StateMetadataResult.FromString(payload).entries}


#: The signature of a chaincode's entry points: given a stub, produce a peer Response.
Invoke = Callable[[ChaincodeStub], Awaitable[proposal_response_pb2.Response]]
