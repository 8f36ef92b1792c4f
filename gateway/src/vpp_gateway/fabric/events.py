"""Chaincode events from the Gateway's ChaincodeEvents stream, and checkpoints to resume it.

A listener records the last event it *processed* in a checkpointer; reconnecting with
that checkpoint asks the peer to start at the checkpoint's block and skip every event up
to and including the checkpoint's transaction, so nothing processed is delivered again
and nothing unprocessed is lost (at-least-once only if the process dies between handling
an event and checkpointing it, so handlers should be idempotent).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import tempfile
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import grpc
import grpc.aio
from fabric_protos.gateway import gateway_pb2
from fabric_protos.orderer import ab_pb2

from .errors import ChaincodeEventsError

__all__ = [
    "ChaincodeEvent",
    "ChaincodeEventStream",
    "Checkpoint",
    "Checkpointer",
    "FileCheckpointer",
    "InMemoryCheckpointer",
    "build_chaincode_events_request",
    "listen_chaincode_events",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChaincodeEvent:
    block_number: int
    transaction_id: str
    chaincode_name: str
    event_name: str
    payload: bytes


@runtime_checkable
class Checkpoint(Protocol):
    """Where to resume: the block to start from and the last transaction already processed."""

    @property
    def block_number(self) -> int | None: ...

    @property
    def transaction_id(self) -> str | None: ...


@runtime_checkable
class Checkpointer(Checkpoint, Protocol):
    def checkpoint_block(self, block_number: int) -> None: ...

    def checkpoint_transaction(self, block_number: int, transaction_id: str | None) -> None: ...

    def checkpoint_event(self, event: ChaincodeEvent) -> None: ...


class InMemoryCheckpointer:
    """Checkpoint kept in memory: resumes a stream within one process."""

    __slots__ = ("_block_number", "_transaction_id")

    def __init__(self, block_number: int | None = None, transaction_id: str | None = None) -> None:
        self._block_number = block_number
        self._transaction_id = transaction_id

    @property
    def block_number(self) -> int | None:
        return self._block_number

    @property
    def transaction_id(self) -> str | None:
        return self._transaction_id

    def checkpoint_block(self, block_number: int) -> None:
        """Block ``block_number`` is fully processed: resume at the next one."""
        self.checkpoint_transaction(block_number + 1, None)

    def checkpoint_transaction(self, block_number: int, transaction_id: str | None) -> None:
        self._block_number = block_number
        self._transaction_id = transaction_id or None

    def checkpoint_event(self, event: ChaincodeEvent) -> None:
        self.checkpoint_transaction(event.block_number, event.transaction_id)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(block_number={self._block_number}, transaction_id={self._transaction_id!r})"


class FileCheckpointer(InMemoryCheckpointer):
    """Checkpoint persisted as a small JSON file, replaced atomically on every update.

    Writes go to the page cache (microseconds); pass ``fsync=True`` to also survive a power
    loss, at the cost of a disk flush per checkpoint on the calling thread.
    """

    __slots__ = ("_fsync", "_path")

    def __init__(self, path: str | Path, *, fsync: bool = False) -> None:
        self._path = Path(path)
        self._fsync = fsync
        block_number: int | None = None
        transaction_id: str | None = None
        if self._path.exists():
            state = json.loads(self._path.read_text() or "{}")
            block_number = state.get("blockNumber")
            transaction_id = state.get("transactionId")
        super().__init__(block_number, transaction_id)

    @property
    def path(self) -> Path:
        return self._path

    def checkpoint_transaction(self, block_number: int, transaction_id: str | None) -> None:
        super().checkpoint_transaction(block_number, transaction_id)
        state = {"blockNumber": self._block_number, "transactionId": self._transaction_id}
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self._path.name, suffix=".tmp", dir=self._path.parent)
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(state, handle, separators=(",", ":"), sort_keys=True)
                if self._fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(tmp, self._path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def build_chaincode_events_request(
    *,
    channel_id: str,
    chaincode_name: str,
    creator: bytes,
    start_block: int | None = None,
    after_transaction_id: str | None = None,
    checkpoint: Checkpoint | None = None,
) -> gateway_pb2.ChaincodeEventsRequest:
    """The unsigned request. A non-empty checkpoint overrides start_block/after_transaction_id;
    with neither, the stream starts at the next block to be committed."""
    if checkpoint is not None and (checkpoint.block_number is not None or checkpoint.transaction_id):
        start_block = checkpoint.block_number
        after_transaction_id = checkpoint.transaction_id
    if start_block is not None:
        position = ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=start_block))
    else:
        position = ab_pb2.SeekPosition(next_commit=ab_pb2.SeekNextCommit())
    return gateway_pb2.ChaincodeEventsRequest(
        channel_id=channel_id,
        chaincode_id=chaincode_name,
        identity=creator,
        start_position=position,
        after_transaction_id=after_transaction_id or "",
    )


class ChaincodeEventStream:
    """Async iterator over chaincode events; the gRPC stream opens on the first ``__anext__``.

    Use ``async with`` (or call :meth:`close`) to cancel the server stream when done.
    """

    def __init__(
        self,
        method: grpc.aio.UnaryStreamMultiCallable,
        signed_request: gateway_pb2.SignedChaincodeEventsRequest,
        timeout: float | None = None,
    ) -> None:
        self._method = method
        self._signed_request = signed_request
        self._timeout = timeout
        self._call: grpc.aio.UnaryStreamCall | None = None
        self._pending: deque[ChaincodeEvent] = deque()
        self._closed = False

    @property
    def signed_request(self) -> gateway_pb2.SignedChaincodeEventsRequest:
        return self._signed_request

    def __aiter__(self) -> ChaincodeEventStream:
        return self

    async def __anext__(self) -> ChaincodeEvent:
        while not self._pending:
            if self._closed:
                raise StopAsyncIteration
            if self._call is None:
                self._call = self._method(self._signed_request, timeout=self._timeout)
            try:
                response = await self._call.read()
            except asyncio.CancelledError:
                if self._closed:  # close() was called from another task
                    raise StopAsyncIteration from None
                raise
            except grpc.aio.AioRpcError as error:
                self._closed = True
                raise ChaincodeEventsError.from_rpc_error(error) from error
            if response is grpc.aio.EOF:
                self._closed = True
                raise StopAsyncIteration
            block_number = response.block_number
            self._pending.extend(
                ChaincodeEvent(block_number, event.tx_id, event.chaincode_id, event.event_name, event.payload)
                for event in response.events
            )
        return self._pending.popleft()

    def close(self) -> None:
        self._closed = True
        self._pending.clear()
        if self._call is not None:
            self._call.cancel()

    async def __aenter__(self) -> ChaincodeEventStream:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self.close()


# Stream failures worth reconnecting after: the peer went away, restarted or timed us out,
# or its ledger iterator was interrupted (Aborted).
_RECONNECT_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
    }
)


async def listen_chaincode_events(
    network: Any,
    chaincode_name: str,
    handler: Callable[[ChaincodeEvent], Awaitable[None]],
    *,
    checkpointer: Checkpointer | None = None,
    start_block: int | None = None,
    initial_backoff: float = 0.5,
    max_backoff: float = 30.0,
    max_reconnects: int | None = None,
) -> None:
    """Feed every chaincode event to ``handler``, checkpointing after each one, and
    reconnect (resuming from the checkpoint) when the stream breaks or ends.

    Runs until cancelled, until ``handler`` raises (propagated, the failing event is not
    checkpointed), on a non-transient stream error (``ChaincodeEventsError``), or after
    ``max_reconnects`` consecutive reconnects without receiving an event.
    """
    if checkpointer is None:
        checkpointer = InMemoryCheckpointer()
    backoff = initial_backoff
    failures = 0
    while True:
        stream = network.chaincode_events(chaincode_name, start_block=start_block, checkpoint=checkpointer)
        try:
            async for event in stream:
                await handler(event)
                checkpointer.checkpoint_event(event)
                backoff = initial_backoff
                failures = 0
            reason = "stream ended"
        except ChaincodeEventsError as error:
            if error.code not in _RECONNECT_CODES:
                raise
            reason = str(error)
        finally:
            stream.close()
        failures += 1
        if max_reconnects is not None and failures > max_reconnects:
            raise ChaincodeEventsError(f"chaincode events: giving up after {max_reconnects} reconnects ({reason})")
        log_level = logging.WARNING if failures == 1 else logging.DEBUG
        log.log(log_level, "chaincode events for %s: %s; reconnecting from %r", chaincode_name, reason, checkpointer)
        await asyncio.sleep(backoff * (0.8 + 0.4 * random.random()))
        backoff = min(backoff * 2, max_backoff)
