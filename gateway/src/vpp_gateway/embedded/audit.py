"""Offline audit of an embedded ledger file: the hash chain, then the world state rebuilt from the blocks.

1. Every block follows the one before: consecutive numbers, ``previous_hash`` equal to the previous block's
   hash, ``data_hash`` = SHA-256(data), ``hash`` = SHA-256(number ‖ previous hash ‖ data hash).
2. The valid transactions' write sets are replayed, in block order, into a fresh in-memory state (private
   values are known to blocks only by their SHA-256).
3. The rebuilt state is compared row by row with the stored state (value or value hash, version, metadata), and
   the two world-state hashes are compared.

The first problem found is reported with the block it concerns.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .rwset import (
    StateKey,
    WorldStateHasher,
    block_hash,
    metadata_writes_of,
    sha256,
    writes_of,
)
from .store import GENESIS_PREVIOUS_HASH, StateUpdate, apply_writes, decode_metadata
from .validator import VALID


@dataclass(frozen=True)
class AuditReport:
    ok: bool
    height: int
    transactions: int
    valid_transactions: int
    state_entries: int
    state_hash: str          # of the stored state
    rebuilt_state_hash: str  # of the state replayed from the blocks
    problem: str = ""
    bad_block: int | None = None

    def summary(self) -> str:
        head = (f"height {self.height}, {self.transactions} transactions ({self.valid_transactions} valid), "
                f"{self.state_entries} state entries, world-state hash {self.state_hash}")
        if self.ok:
            return f"OK: {head}"
        where = f"block {self.bad_block}: " if self.bad_block is not None else ""
        return f"FAILED: {where}{self.problem}\n  ({head}; rebuilt from blocks: {self.rebuilt_state_hash})"


class _AuditProblemError(Exception):
    def __init__(self, block: int | None, text: str):
        super().__init__(text)
        self.block = block
        self.text = text


def _sort_key(key: StateKey) -> tuple[bytes, bytes, bytes]:
    return key[0].encode(), key[1].encode(), key[2].encode()


def audit(path: str | Path) -> AuditReport:
    """Audit the ledger file at ``path`` (opened read-only)."""
    if not Path(path).exists():
        raise FileNotFoundError(path)
    db = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
    try:
        return _audit(db)
    finally:
        db.close()


def _audit(db: sqlite3.Connection) -> AuditReport:
    rebuilt: dict[StateKey, StateUpdate] = {}
    height = transactions = valid = 0
    stored = _stored_state(db)
    stored_hash = _hash_of({k: (v[0], v[1]) for k, v in stored.items()})
    try:
        previous_hash = GENESIS_PREVIOUS_HASH
        for number, prev, data_hash, digest, data in db.execute(
                "SELECT number, previous_hash, data_hash, hash, data FROM blocks ORDER BY number"):
            if number != height:
                raise _AuditProblemError(height, f"block {height} is missing (next stored block is {number})")
            if prev != previous_hash:
                raise _AuditProblemError(number, "previous_hash does not match the hash of the block before")
            if sha256(data) != data_hash:
                raise _AuditProblemError(number, "data_hash does not match the block's data (the block was altered)")
            if block_hash(number, prev, data_hash) != digest:
                raise _AuditProblemError(number, "hash does not match SHA-256(number ‖ previous_hash ‖ data_hash)")
            content = json.loads(data)
            if content.get("number") != number:
                raise _AuditProblemError(number, f"the block's data says it is block {content.get('number')}")
            for tx_number, tx in enumerate(content["transactions"]):
                transactions += 1
                if tx["validation_code"] != VALID:
                    continue
                valid += 1
                _replay(rebuilt, tx["rwset"], (number, tx_number))
            previous_hash = digest
            height += 1
        live = {k: u for k, u in rebuilt.items() if not u.deleted}
        _compare(live, stored)
    except _AuditProblemError as problem:
        return AuditReport(False, height, transactions, valid, len(stored), stored_hash, "", problem.text,
                           problem.block)
    rebuilt_hash = _hash_of({k: (u.value, u.value_hash) for k, u in live.items()})
    if rebuilt_hash != stored_hash:  # unreachable when the rows compare equal; kept as the definitive check
        return AuditReport(False, height, transactions, valid, len(stored), stored_hash, rebuilt_hash,
                           "world-state hash differs from the state rebuilt from the blocks")
    return AuditReport(True, height, transactions, valid, len(stored), stored_hash, rebuilt_hash)


def _replay(rebuilt: dict[StateKey, StateUpdate], rwset: dict, version: tuple[int, int]) -> None:
    writes = {w.key: w for w in writes_of(rwset)}
    metadata = metadata_writes_of(rwset)
    for key in sorted(set(writes) | set(metadata)):
        apply_writes(rebuilt, rebuilt.get(key), key, writes.get(key), metadata.get(key), version)


def _stored_state(db: sqlite3.Connection) -> dict[StateKey, tuple[bytes, bytes, tuple[int, int], dict[str, bytes]]]:
    rows = db.execute("SELECT namespace, collection, key, value, value_hash, block, tx_number, metadata FROM state")
    return {(ns, coll, key.decode()): (value, value_hash, (block, txn), decode_metadata(metadata))
            for ns, coll, key, value, value_hash, block, txn, metadata in rows}


def _hash_of(entries: dict[StateKey, tuple[bytes | None, bytes | None]]) -> str:
    hasher = WorldStateHasher()
    for key in sorted(entries, key=_sort_key):
        value, value_hash = entries[key]
        if key[1] == "":
            hasher.add(*key, value or b"")
        else:
            hasher.add_hashed(*key, value_hash or b"")
    return hasher.hexdigest()


def _compare(live: dict[StateKey, StateUpdate],
             stored: dict[StateKey, tuple[bytes, bytes, tuple[int, int], dict[str, bytes]]]) -> None:
    for key in sorted(set(live) | set(stored), key=_sort_key):
        expected, actual = live.get(key), stored.get(key)
        if expected is None:
            assert actual is not None
            raise _AuditProblemError(actual[2][0], f"state row {key!r} exists but no valid transaction wrote it "
                                         f"(the row claims version {actual[2]})")
        block = expected.version[0]
        if actual is None:
            raise _AuditProblemError(block, f"state row {key!r} written by tx {expected.version[1]} is missing")
        value, value_hash, version, metadata = actual
        if key[1] == "" and value != expected.value:
            raise _AuditProblemError(
                block, f"state row {key!r}: stored value differs from the value tx {expected.version[1]} wrote")
        if value_hash != expected.value_hash or sha256(value) != value_hash:
            raise _AuditProblemError(
                block, f"state row {key!r}: value hash differs from the hash tx {expected.version[1]} wrote")
        if version != expected.version:
            raise _AuditProblemError(
                block, f"state row {key!r}: stored version {version} but the blocks give {expected.version}")
        if metadata != expected.metadata:
            raise _AuditProblemError(block, f"state row {key!r}: metadata differs from the blocks")
