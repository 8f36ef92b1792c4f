"""The embedded ledger: Fabric's endorse → order → validate → commit pipeline in one process, on SQLite.

::

    ledger = EmbeddedLedger.open("vpp.db")
    ledger.install("vpp", vpp_contract.contract.chaincode)
    committed = await ledger.submit("vpp", "RegisterSite", ["s1", "Org1MSP:alice", "Utrecht"], creator)
    payload = await ledger.evaluate("vpp", "GetSite", ["s1"], creator)
    ledger.close()

Chaincodes run unchanged through :class:`fabric_ccaas.stub.ChaincodeStub`; this process answers the stub's
messages as a peer would (:mod:`.simulator`), orders endorsed transactions into blocks by count or timeout,
validates them as Fabric's committer does (:mod:`.validator`) and commits each block in one SQLite
transaction (:mod:`.store`).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from fabric_ccaas.handler import Chaincode
from fabric_ccaas.testing import signed_proposal
from fabric_protos.peer.transaction_pb2 import TxValidationCode
from google.protobuf.timestamp_pb2 import Timestamp

from .errors import CommitError, EndorsementError, LedgerClosedError
from .evaluations import EvaluationCache
from .rwset import unb64
from .simulator import SimulationError, Simulator
from .store import Store
from .validator import VALID, BlockPlan, EndorsedTransaction, plan_block

Clock = Callable[[], int]  # nanoseconds since the Unix epoch


@dataclass(frozen=True)
class Committed:
    """A transaction that committed VALID."""

    result: bytes
    tx_id: str
    block_number: int
    validation_code: int = VALID

    @property
    def validation_code_name(self) -> str:
        return TxValidationCode.Name(self.validation_code)


@dataclass(frozen=True)
class ChaincodeEventRecord:
    """A chaincode event of a valid transaction, with where it was committed."""

    block_number: int
    tx_id: str
    chaincode: str
    event_name: str
    payload: bytes


@dataclass
class _Waiting:
    tx: EndorsedTransaction
    future: asyncio.Future = field(repr=False)


def _timestamp(value: int | Timestamp | None, clock: Clock) -> Timestamp:
    if isinstance(value, Timestamp):
        return value
    if isinstance(value, int):
        return Timestamp(seconds=value)
    ns = clock()
    return Timestamp(seconds=ns // 1_000_000_000, nanos=ns % 1_000_000_000)


class EmbeddedLedger:
    """One channel's ledger in one SQLite file. Use from one event loop."""

    def __init__(self, store: Store, block_size: int, block_timeout: float, clock: Clock):
        if block_size < 1 or block_timeout <= 0:
            raise ValueError("block_size must be ≥ 1 and block_timeout > 0")
        self._store = store
        self.block_size = block_size
        self.block_timeout = block_timeout
        self._clock = clock
        self._chaincodes: dict[str, Chaincode] = {}
        self._simulator = Simulator(store, self._chaincodes)
        self._pending: list[_Waiting] = []
        self._first_pending_at = 0.0
        self._wakeup: asyncio.Event | None = None
        self._orderer: asyncio.Task | None = None
        self._block_committed: asyncio.Event | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedded-commit")
        self._committing: asyncio.Future | None = None
        self._closed = False
        self.evaluations = EvaluationCache()

    @classmethod
    def open(cls, path: str | Path, channel: str = "vppchannel", block_size: int = 50, block_timeout: float = 0.1,
             clock: Clock = time.time_ns) -> EmbeddedLedger:
        """Open (or create) the ledger stored at ``path``."""
        return cls(Store(path, channel), block_size, block_timeout, clock)

    async def __aenter__(self) -> EmbeddedLedger:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    # -- information ------------------------------------------------------------------------------------------
    @property
    def channel(self) -> str:
        return self._store.channel

    @property
    def height(self) -> int:
        """Number of blocks, the genesis block included (so the next block's number)."""
        return self._store.height

    @property
    def store(self) -> Store:
        return self._store

    def state_hash(self) -> str:
        """SHA-256 of the live world state (see :class:`.rwset.WorldStateHasher`)."""
        return self._store.state_hash()

    def install(self, name: str, chaincode: Chaincode) -> None:
        self._chaincodes[name] = chaincode
        self.evaluations.clear()  # answers of the code this replaces

    # -- evaluate and submit ----------------------------------------------------------------------------------
    async def evaluate(self, chaincode: str, function: str, args: Sequence[str | bytes] = (), creator: bytes = b"",
                       transient: dict[str, bytes] | None = None, *, timestamp: int | Timestamp | None = None,
                       tx_id: str | None = None, nonce: bytes | None = None) -> bytes:
        """Run a transaction against committed state and return its result; nothing is ordered.

        A plain evaluation (no transient data, timestamp, tx id or nonce given) is answered from
        :class:`.evaluations.EvaluationCache` while no block has changed what the same evaluation read."""
        if transient or timestamp is not None or tx_id is not None or nonce is not None:
            endorsed = await self.endorse(chaincode, function, args, creator, transient, timestamp=timestamp,
                                          tx_id=tx_id, nonce=nonce)
            return endorsed.response.payload
        self._check_open()
        key = (chaincode, tuple(a.encode() if isinstance(a, str) else bytes(a) for a in (function, *args)), creator)
        cached = self.evaluations.get(key)
        if cached is not None:
            return cached
        generation = self.evaluations.generation
        endorsed = await self.endorse(chaincode, function, args, creator)
        if endorsed.repeatable:
            self.evaluations.put(key, endorsed.response.payload, endorsed.rwset, generation)
        return endorsed.response.payload

    async def endorse(self, chaincode: str, function: str, args: Sequence[str | bytes] = (), creator: bytes = b"",
                      transient: dict[str, bytes] | None = None, *, timestamp: int | Timestamp | None = None,
                      tx_id: str | None = None, nonce: bytes | None = None) -> EndorsedTransaction:
        """Simulate a proposal; raises :class:`EndorsementError` when the chaincode answers status ≥ 400.

        ``nonce`` fixes the tx id the Fabric way (hex SHA-256(nonce ‖ creator)), as a Fabric client given the same
        nonce would; ``tx_id`` gives it directly (replays, retries). With neither, a random 24-byte nonce."""
        self._check_open()
        raw_args = [a.encode() if isinstance(a, str) else bytes(a) for a in (function, *args)]
        if nonce is None:
            nonce = os.urandom(24)
        elif tx_id is not None and tx_id != hashlib.sha256(nonce + creator).hexdigest():
            raise ValueError("tx_id is not SHA-256(nonce ‖ creator)")
        tx_id = tx_id or hashlib.sha256(nonce + creator).hexdigest()  # Fabric's tx id: SHA-256(nonce ‖ creator)
        if self._store.tx_committed(tx_id):
            raise EndorsementError(f"duplicate transaction found [{tx_id}]", tx_id)
        stamp = _timestamp(timestamp, self._clock)
        proposal = signed_proposal(self.channel, tx_id, chaincode, raw_args, creator, transient, stamp, nonce)
        try:
            simulation = await self._simulator.simulate(chaincode, tx_id, raw_args, proposal)
        except SimulationError as exc:
            raise EndorsementError(str(exc), tx_id) from exc
        if simulation.response.status >= 400:
            raise EndorsementError(simulation.response.message, tx_id, simulation.response.status)
        return EndorsedTransaction(tx_id, chaincode, tuple(raw_args), creator, stamp.seconds, stamp.nanos,
                                   simulation.response, simulation.event, simulation.rwset, simulation.repeatable)

    async def submit(self, chaincode: str, function: str, args: Sequence[str | bytes] = (), creator: bytes = b"",
                     transient: dict[str, bytes] | None = None, *, timestamp: int | Timestamp | None = None,
                     tx_id: str | None = None, nonce: bytes | None = None) -> Committed:
        """Endorse, order and wait for the commit; raises :class:`CommitError` when the block marks it invalid."""
        endorsed = await self.endorse(chaincode, function, args, creator, transient, timestamp=timestamp, tx_id=tx_id,
                                      nonce=nonce)
        return await self.submit_endorsed(endorsed)

    async def submit_endorsed(self, tx: EndorsedTransaction) -> Committed:
        """Send an endorsed transaction to the orderer and wait for its block to commit."""
        self._check_open()
        loop = asyncio.get_running_loop()
        waiting = _Waiting(tx, loop.create_future())
        if not self._pending:
            self._first_pending_at = time.monotonic()  # the batch timer starts with a batch's first transaction
        self._pending.append(waiting)
        self._start_orderer()
        assert self._wakeup is not None
        self._wakeup.set()
        return await waiting.future

    # -- the orderer ------------------------------------------------------------------------------------------
    def _start_orderer(self) -> None:
        if self._orderer is None or self._orderer.done():
            self._wakeup = asyncio.Event()
            self._orderer = asyncio.get_running_loop().create_task(self._order(), name="embedded-orderer")

    async def _order(self) -> None:
        assert self._wakeup is not None
        while True:
            if not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            remaining = self._first_pending_at + self.block_timeout - time.monotonic()
            if len(self._pending) >= self.block_size or remaining <= 0:
                await self._cut_and_commit()
                continue
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                pass

    def _take_batch(self) -> list[_Waiting]:
        batch, self._pending = self._pending[: self.block_size], self._pending[self.block_size:]
        if self._pending:
            self._first_pending_at = time.monotonic()
        return batch

    def _plan(self, batch: list[_Waiting]) -> BlockPlan | None:
        """Validate the next block against committed state (the previous block's commit has finished)."""
        try:
            return plan_block(self._store, self._store.height, [w.tx for w in batch])
        except Exception as exc:  # storage failure: nobody's transaction committed
            self._settle(batch, None, exc)
            return None

    def _commit(self, plan: BlockPlan) -> None:
        self._store.commit_block(plan.number, plan.data, plan.tx_index, plan.updates, plan.history)

    async def _cut_and_commit(self) -> None:
        """Take up to ``block_size`` pending transactions, validate them here and commit the block on the
        writer thread, so the event loop keeps endorsing while SQLite writes and fsyncs (it releases the GIL).
        The submitters are answered by the commit's completion, even if this task is cancelled meanwhile."""
        batch = self._take_batch()
        plan = self._plan(batch)
        if plan is None:
            return
        loop = asyncio.get_running_loop()
        commit = loop.run_in_executor(self._writer, self._commit, plan)
        commit.add_done_callback(lambda done: self._settle(batch, plan, None if done.cancelled()
                                                           else done.exception()))
        self._committing = commit
        await asyncio.shield(commit)

    def _cut_now(self) -> None:
        """The same, synchronously on this thread (closing)."""
        batch = self._take_batch()
        plan = self._plan(batch)
        if plan is None:
            return
        try:
            self._commit(plan)
        except Exception as exc:
            self._settle(batch, plan, exc)
            return
        self._settle(batch, plan, None)

    def _settle(self, batch: list[_Waiting], plan: BlockPlan | None, error: BaseException | None) -> None:
        if plan is not None:  # the block is visible to readers (or, after an error, may be): answers that read it go
            self.evaluations.invalidate(plan.updates)
        if error is not None or plan is None:
            for waiting in batch:
                if not waiting.future.done():
                    waiting.future.set_exception(error or RuntimeError("block not committed"))
            return
        for waiting, code in zip(batch, plan.codes, strict=True):
            if waiting.future.done():  # the submitter gave up waiting; the block stands
                continue
            if code == VALID:
                waiting.future.set_result(Committed(waiting.tx.response.payload, waiting.tx.tx_id, plan.number))
            else:
                waiting.future.set_exception(CommitError(waiting.tx.tx_id, code, plan.number))
        self._notify_block()

    def _notify_block(self) -> None:
        if self._block_committed is not None:
            self._block_committed.set()
            self._block_committed = None

    # -- events -----------------------------------------------------------------------------------------------
    async def events(self, chaincode: str, start_block: int = 0) -> AsyncIterator[ChaincodeEventRecord]:
        """Chaincode events of valid transactions from ``start_block`` on, then new ones as blocks commit."""
        number = start_block
        while not self._closed:
            block = self._store.block(number)
            if block is None:
                if self._block_committed is None:
                    self._block_committed = asyncio.Event()
                await self._block_committed.wait()
                continue
            for tx in block.content["transactions"]:
                event = tx["event"]
                if tx["validation_code"] == VALID and tx["chaincode"] == chaincode and event is not None:
                    yield ChaincodeEventRecord(number, tx["tx_id"], chaincode, event["name"], unb64(event["payload"]))
            number += 1

    # -- closing ----------------------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise LedgerClosedError("the embedded ledger is closed")

    def close(self) -> None:
        """Commit what is already ordered, stop the orderer and close the database."""
        if self._closed:
            return
        with self._store.commit_lock:  # a block being written on the writer thread finishes first
            pass
        while self._pending:
            self._cut_now()
        self._closed = True
        if self._orderer is not None:
            self._orderer.cancel()
        self._notify_block()  # wakes event iterators, which then see the ledger closed
        self._store.close()
        self._writer.shutdown(wait=True)
