"""One peer connection: the registration handshake, then many transactions in flight at once.

Each TRANSACTION/INIT message starts its own task with its own stub. A stub call registers a future under
(channel id, transaction id) before its request is written, and the read loop resolves it with the peer's
RESPONSE or ERROR. Writes to the stream go through one lock, so messages never interleave.

A Fabric 3.1 peer may announce write batching in its READY message (``ChaincodeAdditionalParams``); stubs
then keep a transaction's writes and send them in WRITE_BATCH_STATE messages before COMPLETED.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from fabric_protos.peer import chaincode_pb2, proposal_response_pb2
from fabric_protos.peer import chaincode_shim_pb2 as shim
from google.protobuf.message import DecodeError

from .errors import PeerError, StreamClosedError
from .stub import ChaincodeStub, Invoke

log = logging.getLogger("fabric_ccaas.handler")
MT = shim.ChaincodeMessage

CREATED, ESTABLISHED, READY, CLOSED = "created", "established", "ready", "closed"


class Chaincode:
    """What the runtime serves: ``invoke`` for TRANSACTION messages, ``init`` for INIT messages.

    :class:`fabric_ccaas.contract.ContractChaincode` implements this for contract classes; any object with
    these two coroutine methods works.
    """

    async def init(self, stub: ChaincodeStub) -> proposal_response_pb2.Response:  # pragma: no cover - interface
        raise NotImplementedError

    async def invoke(self, stub: ChaincodeStub) -> proposal_response_pb2.Response:  # pragma: no cover
        raise NotImplementedError


class StreamHandler:
    """Drives one ``Connect`` stream. ``send`` writes one message to the peer."""

    def __init__(self, chaincode: Chaincode, send: Callable[[shim.ChaincodeMessage], Awaitable[None]]):
        self._chaincode = chaincode
        self._send_raw = send
        self._write_lock = asyncio.Lock()
        self._pending: dict[tuple[str, str], asyncio.Future] = {}
        self._in_flight: dict[tuple[str, str], asyncio.Task] = {}
        self.state = CREATED
        self.draining = False  # shutting down: finish what is in flight, refuse new transactions
        self.write_batch_size = 0  # > 0 when the peer accepts WRITE_BATCH_STATE: the most writes per message

    # -- writing ---------------------------------------------------------------------------------------
    async def send(self, message: shim.ChaincodeMessage) -> None:
        async with self._write_lock:
            await self._send_raw(message)

    async def register(self, chaincode_id: str) -> None:
        payload = chaincode_pb2.ChaincodeID(name=chaincode_id).SerializeToString()
        await self.send(MT(type=MT.REGISTER, payload=payload))

    # -- the Transport used by stubs ---------------------------------------------------------------------
    async def request(self, message: shim.ChaincodeMessage) -> shim.ChaincodeMessage:
        if self.state == CLOSED:
            raise StreamClosedError("the peer connection is closed")
        key = (message.channel_id, message.txid)
        future = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            await self.send(message)
            return await future
        finally:
            self._pending.pop(key, None)

    # -- reading ---------------------------------------------------------------------------------------
    async def handle(self, message: shim.ChaincodeMessage) -> None:
        """Dispatch one message from the peer. Never raises for a bad message: it answers ERROR instead."""
        kind = message.type
        if kind == MT.KEEPALIVE:
            await self.send(message)  # the shims echo keepalives
        elif kind in (MT.RESPONSE, MT.ERROR) and self.state == READY:
            future = self._pending.get((message.channel_id, message.txid))
            if future is not None and not future.done():
                future.set_result(message)
            else:
                log.warning("answer %s for a transaction with no request waiting: %s", MT.Type.Name(kind),
                            message.txid)
        elif kind in (MT.TRANSACTION, MT.INIT) and self.state == READY:
            key = (message.channel_id, message.txid)
            if self.draining:
                await self._reply_error(message, "the chaincode server is shutting down")
                return
            if key in self._in_flight:
                await self._reply_error(message, "a transaction with this id is already in flight")
                return
            task = asyncio.create_task(self._run_transaction(message, kind == MT.INIT))
            self._in_flight[key] = task
            task.add_done_callback(lambda _t, k=key: self._in_flight.pop(k, None))
        elif kind == MT.REGISTERED and self.state == CREATED:
            self.state = ESTABLISHED
        elif kind == MT.READY and self.state == ESTABLISHED:
            self.state = READY
            self.write_batch_size = _write_batch_size(message.payload)
            log.info("peer connection ready%s", f" (writes batched, up to {self.write_batch_size} per message)"
                     if self.write_batch_size else "")
        else:
            await self._reply_error(
                message, f"chaincode cannot handle message ({MT.Type.Name(kind)}) while in state: {self.state}"
            )

    async def _reply_error(self, message: shim.ChaincodeMessage, text: str) -> None:
        log.warning("%s [txid %s]", text, message.txid)
        await self.send(MT(type=MT.ERROR, payload=text.encode(), txid=message.txid, channel_id=message.channel_id))

    async def _run_transaction(self, message: shim.ChaincodeMessage, is_init: bool) -> None:
        try:
            chaincode_input = chaincode_pb2.ChaincodeInput.FromString(message.payload)
        except DecodeError as exc:
            await self._reply_error(message, f"failed to unmarshal input: {exc}")
            return
        stub = ChaincodeStub(self, message.channel_id, message.txid, chaincode_input,
                             message.proposal if message.HasField("proposal") else None)
        entry: Invoke = self._chaincode.init if is_init else self._chaincode.invoke
        try:
            response = await entry(stub)
            if response.status < 400:  # an error response's writes are discarded by the peer: do not send them
                try:
                    await stub.flush_writes()
                except PeerError as exc:
                    await self._reply_error(message, f"the peer refused the transaction's writes: {exc}")
                    return
            completed = MT(
                type=MT.COMPLETED,
                payload=response.SerializeToString(),
                txid=message.txid,
                channel_id=message.channel_id,
            )
            if stub.event is not None:
                completed.chaincode_event.CopyFrom(stub.event)
            await self.send(completed)
        except StreamClosedError:
            log.debug("transaction %s abandoned: the peer connection closed", message.txid)
        except Exception as exc:  # a chaincode bug must not take the connection down
            log.exception("transaction %s failed", message.txid)
            if self.state != CLOSED:
                await self._reply_error(message, f"chaincode failed: {type(exc).__name__}: {exc}")

    @property
    def in_flight(self) -> list[asyncio.Task]:
        return list(self._in_flight.values())

    def close(self) -> None:
        """The stream ended: fail every stub call still waiting, so their transactions finish."""
        self.state = CLOSED
        for future in self._pending.values():
            if not future.done():
                future.set_exception(StreamClosedError("the peer connection closed"))
        for task in list(self._in_flight.values()):
            task.cancel()


MIN_WRITE_BATCH = 100  # the Go shim's floor for a peer's announced write batch size


def _write_batch_size(payload: bytes) -> int:
    """The batch size a READY payload announces, 0 for none. Like the Go shim, at least 100 when batching is on
    (a peer announcing a smaller size gets batches of 100)."""
    if not payload:
        return 0
    try:
        params = chaincode_pb2.ChaincodeAdditionalParams.FromString(payload)
    except DecodeError:
        log.warning("ignoring an unreadable READY payload (%d bytes): writes are not batched", len(payload))
        return 0
    return max(params.max_size_write_batch, MIN_WRITE_BATCH) if params.use_write_batch else 0


def error_response(message: str, status: int = 500) -> proposal_response_pb2.Response:
    return proposal_response_pb2.Response(status=status, message=message)


def success_response(payload: bytes = b"") -> proposal_response_pb2.Response:
    return proposal_response_pb2.Response(status=200, payload=payload)
