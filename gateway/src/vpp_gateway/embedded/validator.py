"""Validation and block assembly: Fabric's committer rules applied to one block of endorsed transactions.

In block order, each transaction is checked against committed state *plus the valid transactions before it in
the same block*:

* its tx id was already committed, or appears earlier in the block → ``DUPLICATE_TXID`` (9);
* a key it read no longer has the version it read → ``MVCC_READ_CONFLICT`` (11);
* a range query it ran, re-executed now, returns other (key, version) pairs (up to the last key it read
  when it stopped early) → ``PHANTOM_READ_CONFLICT`` (12);
* otherwise ``VALID`` (0), and its writes take version (block number, tx number).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from fabric_ccaas.keys import COMPOSITE_KEY_NAMESPACE
from fabric_protos.peer import chaincode_event_pb2, proposal_response_pb2
from fabric_protos.peer.transaction_pb2 import TxValidationCode

from .rwset import BlockWrite, RangeRead, RWSet, StateKey, Version, b64, canonical, sha256
from .store import StateUpdate, Store, apply_writes

VALID = TxValidationCode.VALID
MVCC_READ_CONFLICT = TxValidationCode.MVCC_READ_CONFLICT
PHANTOM_READ_CONFLICT = TxValidationCode.PHANTOM_READ_CONFLICT
DUPLICATE_TXID = TxValidationCode.DUPLICATE_TXID


@dataclass(frozen=True)
class EndorsedTransaction:
    """What a client sends to the orderer: the simulation's result with the proposal it came from."""

    tx_id: str
    chaincode: str
    args: tuple[bytes, ...]
    creator: bytes
    seconds: int
    nanos: int
    response: proposal_response_pb2.Response
    event: chaincode_event_pb2.ChaincodeEvent | None
    rwset: RWSet
    repeatable: bool = False  # an evaluation whose answer depends on its read set only (not in blocks)

    def to_json(self, code: int) -> dict:
        return {
            "tx_id": self.tx_id, "chaincode": self.chaincode, "args": [b64(a) for a in self.args],
            "creator": b64(self.creator), "timestamp": [self.seconds, self.nanos],
            "response": {"status": self.response.status, "message": self.response.message,
                         "payload": b64(self.response.payload)},
            "event": ({"name": self.event.event_name, "payload": b64(self.event.payload)}
                      if self.event is not None else None),
            "rwset": self.rwset.to_json(), "validation_code": code,
        }


@dataclass
class BlockPlan:
    """Everything one block commits: its canonical data, validation codes and state changes."""

    number: int
    data: bytes
    codes: list[int]
    tx_index: list[tuple[str, int, int]]
    updates: dict[StateKey, StateUpdate]
    history: list[tuple[str, str, int, int, str, bool, bytes, int, int]]


def _in_bounds(key: str, start: str, end: str, end_inclusive: bool) -> bool:
    if key < start:
        return False
    if not end:
        return True
    return key <= end if end_inclusive else key < end


def current_range(store: Store, updates: dict[StateKey, StateUpdate], read: RangeRead) -> list[tuple[str, Version]]:
    """Re-execute a recorded range query against committed state plus this block's earlier valid writes."""
    if read.exhausted or not read.results:
        end, inclusive = read.end, False
    else:  # stopped early: Fabric compares up to (and including) the last key read
        end, inclusive = read.results[-1][0], True
    simple = not read.start.startswith(COMPOSITE_KEY_NAMESPACE)  # a simple-key range skips composite keys
    rows = {k: v for k, v in store.range_versions(read.namespace, read.collection, read.start, end, inclusive)
            if not (simple and k.startswith(COMPOSITE_KEY_NAMESPACE))}
    for (ns, coll, key), update in updates.items():
        if ns != read.namespace or coll != read.collection or not _in_bounds(key, read.start, end, inclusive):
            continue
        if not (simple and key.startswith(COMPOSITE_KEY_NAMESPACE)):
            if update.deleted:
                rows.pop(key, None)
            else:
                rows[key] = update.version
    return sorted(rows.items())


def _current_version(store: Store, updates: dict[StateKey, StateUpdate], key: StateKey) -> Version | None:
    if key in updates:
        update = updates[key]
        return None if update.deleted else update.version
    return store.version(key)


def validation_code(store: Store, updates: dict[StateKey, StateUpdate], seen_tx_ids: set[str],
                    tx: EndorsedTransaction) -> int:
    if tx.tx_id in seen_tx_ids or store.tx_committed(tx.tx_id):
        return DUPLICATE_TXID
    for key, version in tx.rwset.reads.items():
        if _current_version(store, updates, key) != version:
            return MVCC_READ_CONFLICT
    for read in tx.rwset.ranges:
        if current_range(store, updates, read) != read.results:
            return PHANTOM_READ_CONFLICT
    return VALID


def plan_block(store: Store, number: int, transactions: list[EndorsedTransaction]) -> BlockPlan:
    updates: dict[StateKey, StateUpdate] = {}
    seen: set[str] = set()
    codes: list[int] = []
    history: list[tuple[str, str, int, int, str, bool, bytes, int, int]] = []
    for tx_number, tx in enumerate(transactions):
        code = validation_code(store, updates, seen, tx)
        codes.append(code)
        seen.add(tx.tx_id)
        if code != VALID:
            continue
        version = (number, tx_number)
        writes, metadata_writes = tx.rwset.writes, tx.rwset.metadata_writes
        for key in sorted(writes.keys() | metadata_writes.keys() if metadata_writes else writes):
            write = writes.get(key)
            value = write.value if write is not None else None
            metadata_write = metadata_writes.get(key) if metadata_writes else None
            current = updates.get(key)
            if value is not None and not metadata_write and (current is None or current.metadata is None):
                # a plain put keeps whatever metadata the key has: the commit's upsert leaves it in place, so the
                # stored row need not be read here (one SELECT per write saved)
                updates[key] = StateUpdate(value, sha256(value), version, None, False)
            else:
                block_write = None if write is None else BlockWrite(
                    key, value is None, value, sha256(value) if value is not None else None, write.purge)
                if current is None or current.metadata is None:  # the stored metadata matters now
                    stored = store.get(key)
                    if current is None:
                        current = stored
                    else:
                        current = replace(current, metadata=stored.metadata if stored is not None else {})
                apply_writes(updates, current, key, block_write, metadata_write, version)
            if write is not None and key[1] == "":  # Fabric keeps history for public keys only
                history.append((key[0], key[2], number, tx_number, tx.tx_id, value is None, value or b"",
                                tx.seconds, tx.nanos))
    data = canonical({"channel": store.channel, "number": number,
                      "transactions": [tx.to_json(code) for tx, code in zip(transactions, codes, strict=True)]})
    tx_index = [(tx.tx_id, i, code) for i, (tx, code) in enumerate(zip(transactions, codes, strict=True))
                if code != DUPLICATE_TXID]  # the first holder of a tx id keeps the index entry
    return BlockPlan(number, data, codes, tx_index, updates, history)
