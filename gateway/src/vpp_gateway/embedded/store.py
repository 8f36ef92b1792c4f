"""SQLite storage of the embedded ledger: blocks, the transaction index, world state and history.

One database file, WAL journal, ``synchronous=FULL``: a block is durable when :meth:`Store.commit_block`
returns (FULL fsyncs the WAL on every commit; NORMAL could lose the last blocks on power loss, which a ledger
that has already answered "committed" to a client must not do). A block commits in one SQLite transaction:
its row, its transactions, the state changes of its valid transactions and their history rows, or nothing.

Keys are stored as BLOBs of their UTF-8 bytes: composite keys contain U+0000, and BLOB comparison (memcmp)
orders them exactly as Fabric (and Python's ``str``) orders keys, by code point.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .rwset import (
    BlockWrite,
    StateKey,
    Version,
    WorldStateHasher,
    b64,
    block_hash,
    canonical,
    sha256,
    unb64,
)

SCHEMA_VERSION = 1
GENESIS_PREVIOUS_HASH = b"\x00" * 32

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_info (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    number        INTEGER PRIMARY KEY,
    previous_hash BLOB NOT NULL,
    data_hash     BLOB NOT NULL,
    hash          BLOB NOT NULL,
    data          BLOB NOT NULL            -- canonical JSON: {"channel", "number", "transactions": [...]}
);
CREATE TABLE IF NOT EXISTS transactions (
    tx_id           TEXT PRIMARY KEY,
    block           INTEGER NOT NULL,
    tx_number       INTEGER NOT NULL,
    validation_code INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS state (
    namespace  TEXT NOT NULL,
    collection TEXT NOT NULL,              -- "" for public state
    key        BLOB NOT NULL,              -- UTF-8 bytes
    value      BLOB NOT NULL,
    value_hash BLOB NOT NULL,              -- SHA-256(value): GET_PRIVATE_DATA_HASH and the world-state hash
    block      INTEGER NOT NULL,
    tx_number  INTEGER NOT NULL,
    metadata   BLOB,                       -- canonical JSON {metakey: base64} or NULL
    PRIMARY KEY (namespace, collection, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history (
    namespace TEXT NOT NULL,
    key       BLOB NOT NULL,
    block     INTEGER NOT NULL,
    tx_number INTEGER NOT NULL,
    tx_id     TEXT NOT NULL,
    is_delete INTEGER NOT NULL,
    value     BLOB NOT NULL,
    seconds   INTEGER NOT NULL,
    nanos     INTEGER NOT NULL,
    PRIMARY KEY (namespace, key, block, tx_number)
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class StateEntry:
    value: bytes
    value_hash: bytes
    version: Version
    metadata: dict[str, bytes]


@dataclass(frozen=True)
class HistoryEntry:
    tx_id: str
    value: bytes
    seconds: int
    nanos: int
    is_delete: bool


@dataclass(frozen=True)
class StoredBlock:
    number: int
    previous_hash: bytes
    data_hash: bytes
    hash: bytes
    data: bytes

    @property
    def content(self) -> dict[str, Any]:
        return json.loads(self.data)


def encode_metadata(entries: dict[str, bytes]) -> bytes | None:
    return canonical({k: b64(v) for k, v in sorted(entries.items())}) if entries else None


def decode_metadata(raw: bytes | None) -> dict[str, bytes]:
    return {k: unb64(v) for k, v in json.loads(raw).items()} if raw else {}


@dataclass(slots=True)
class StateUpdate:
    """The net effect of a block's valid transactions on one key."""

    value: bytes | None        # None: deleted (or a private value known only by hash, see value_hash)
    value_hash: bytes | None
    version: Version
    metadata: dict[str, bytes] | None  # None: keep the key's stored metadata (a plain put)
    deleted: bool


def _connect(path: str, check_same_thread: bool = True) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=check_same_thread)  # explicit BEGIN/COMMIT
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    # a block of full batches writes more than the default 1000-page (4 MB) checkpoint threshold, so every
    # commit also ran a checkpoint; checkpointing every 64 MB merges the pages that consecutive blocks rewrite.
    # Durability is unchanged (each COMMIT still fsyncs the WAL); only the WAL grows larger between checkpoints.
    db.execute("PRAGMA wal_autocheckpoint=16384")
    db.execute("PRAGMA cache_size=-65536")  # 64 MB page cache (default 2 MB)
    db.execute("PRAGMA foreign_keys=ON")
    return db


class Store:
    """All SQL of the embedded ledger.

    Two connections: ``db`` for every read (the event loop's thread), and a writer used only by
    :meth:`commit_block`, which may run on another thread while the loop keeps simulating. In WAL mode the
    reader sees each block once its COMMIT is done and never a block half written, which is what simulation
    against committed state needs. ``commit_lock`` serialises the writer."""

    def __init__(self, path: str | Path, channel: str):
        self.path = str(path)
        self.db = _connect(self.path)
        self.db.executescript(SCHEMA)
        self._writer = _connect(self.path, check_same_thread=False)
        self.commit_lock = threading.Lock()
        stored_channel = self._info("channel")
        if stored_channel is None:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("INSERT INTO ledger_info VALUES ('channel', ?), ('schema_version', ?)",
                            (channel, str(SCHEMA_VERSION)))
            self._insert_block(0, GENESIS_PREVIOUS_HASH, canonical({"channel": channel, "number": 0,
                                                                     "transactions": []}))
            self.db.execute("COMMIT")
        elif stored_channel != channel:
            raise ValueError(f"{self.path} holds channel {stored_channel!r}, not {channel!r}")
        self.channel = channel

    def close(self) -> None:
        with self.commit_lock:  # never close under a commit in flight
            self._writer.close()
            self.db.close()

    def _info(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM ledger_info WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    # -- blocks -------------------------------------------------------------------------------------------
    @property
    def height(self) -> int:
        return self.db.execute("SELECT COALESCE(MAX(number) + 1, 0) FROM blocks").fetchone()[0]

    def last_hash(self) -> bytes:
        row = self.db.execute("SELECT hash FROM blocks ORDER BY number DESC LIMIT 1").fetchone()
        return row[0] if row else GENESIS_PREVIOUS_HASH

    def block(self, number: int) -> StoredBlock | None:
        row = self.db.execute("SELECT number, previous_hash, data_hash, hash, data FROM blocks WHERE number = ?",
                              (number,)).fetchone()
        return StoredBlock(*row) if row else None

    def blocks(self, start: int = 0) -> Iterator[StoredBlock]:
        cursor = self.db.execute(
            "SELECT number, previous_hash, data_hash, hash, data FROM blocks WHERE number >= ? ORDER BY number",
            (start,))
        for row in cursor:
            yield StoredBlock(*row)

    def _insert_block(self, number: int, previous_hash: bytes, data: bytes, db: sqlite3.Connection | None = None
                      ) -> bytes:
        data_hash = sha256(data)
        digest = block_hash(number, previous_hash, data_hash)
        (db or self.db).execute("INSERT INTO blocks VALUES (?, ?, ?, ?, ?)",
                                (number, previous_hash, data_hash, digest, data))
        return digest

    def tx_committed(self, tx_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM transactions WHERE tx_id = ?", (tx_id,)).fetchone() is not None

    # -- state reads --------------------------------------------------------------------------------------
    def get(self, key: StateKey) -> StateEntry | None:
        ns, coll, k = key
        row = self.db.execute(
            "SELECT value, value_hash, block, tx_number, metadata FROM state "
            "WHERE namespace = ? AND collection = ? AND key = ?", (ns, coll, k.encode())).fetchone()
        if row is None:
            return None
        return StateEntry(row[0], row[1], (row[2], row[3]), decode_metadata(row[4]))

    def version(self, key: StateKey) -> Version | None:
        ns, coll, k = key
        row = self.db.execute("SELECT block, tx_number FROM state WHERE namespace = ? AND collection = ? AND key = ?",
                              (ns, coll, k.encode())).fetchone()
        return (row[0], row[1]) if row else None

    def _range_rows(self, columns: str, namespace: str, collection: str, start: str, end: str,
                    end_inclusive: bool, limit: int | None) -> sqlite3.Cursor:
        sql = f"SELECT {columns} FROM state WHERE namespace = ? AND collection = ? AND key >= ?"
        params: list[Any] = [namespace, collection, start.encode()]
        if end:
            sql += " AND key <= ?" if end_inclusive else " AND key < ?"
            params.append(end.encode())
        sql += " ORDER BY key"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return self.db.execute(sql, params)

    def range(self, namespace: str, collection: str, start: str, end: str,
              end_inclusive: bool = False, limit: int | None = None) -> list[tuple[str, bytes, Version]]:
        """Keys in [start, end) (or [start, end]) sorted by key; ``end == ""`` means no upper bound; at most
        ``limit`` of them when given."""
        rows = self._range_rows("key, value, block, tx_number", namespace, collection, start, end, end_inclusive,
                                limit)
        return [(k.decode(), v, (b, t)) for k, v, b, t in rows]

    def range_versions(self, namespace: str, collection: str, start: str, end: str,
                       end_inclusive: bool = False) -> list[tuple[str, Version]]:
        """:meth:`range` without the values: what re-validating a range query compares."""
        rows = self._range_rows("key, block, tx_number", namespace, collection, start, end, end_inclusive, None)
        return [(k.decode(), (b, t)) for k, b, t in rows]

    def all_in(self, namespace: str, collection: str) -> list[tuple[str, bytes, Version]]:
        return self.range(namespace, collection, "", "")

    def history(self, namespace: str, key: str) -> list[HistoryEntry]:
        """Newest first, as Fabric returns it."""
        rows = self.db.execute(
            "SELECT tx_id, value, seconds, nanos, is_delete FROM history WHERE namespace = ? AND key = ? "
            "ORDER BY block DESC, tx_number DESC", (namespace, key.encode())).fetchall()
        return [HistoryEntry(t, v, s, n, bool(d)) for t, v, s, n, d in rows]

    def state_rows(self) -> Iterator[tuple[str, str, str, bytes, bytes, Version, dict[str, bytes]]]:
        cursor = self.db.execute("SELECT namespace, collection, key, value, value_hash, block, tx_number, metadata "
                                 "FROM state ORDER BY namespace, collection, key")
        for ns, coll, key, value, value_hash, block, txn, metadata in cursor:
            yield ns, coll, key.decode(), value, value_hash, (block, txn), decode_metadata(metadata)

    def state_hash(self) -> str:
        hasher = WorldStateHasher()
        for ns, coll, key, value, value_hash, _, _ in self.state_rows():
            if coll == "":
                hasher.add(ns, coll, key, value)
            else:
                hasher.add_hashed(ns, coll, key, value_hash)
        return hasher.hexdigest()

    # -- commit ---------------------------------------------------------------------------------------------
    def commit_block(self, number: int, data: bytes, tx_index: list[tuple[str, int, int]],
                     updates: dict[StateKey, StateUpdate], history: list[tuple[str, str, int, int, str, bool,
                                                                                  bytes, int, int]]) -> bytes:
        """Write one block and everything it changes in one SQLite transaction; returns the block hash.

        Safe to call from a thread other than the readers' (it uses the writer connection under ``commit_lock``)."""
        with self.commit_lock:
            return self._commit_block(self._writer, number, data, tx_index, updates, history)

    def _commit_block(self, db: sqlite3.Connection, number: int, data: bytes, tx_index: list[tuple[str, int, int]],
                      updates: dict[StateKey, StateUpdate], history: list) -> bytes:
        db.execute("BEGIN IMMEDIATE")
        try:
            height, previous = db.execute(
                "SELECT COALESCE(MAX(number) + 1, 0), (SELECT hash FROM blocks ORDER BY number DESC LIMIT 1) "
                "FROM blocks").fetchone()
            if number != height:
                raise ValueError(f"block {number} does not follow height {height}")
            digest = self._insert_block(number, previous or GENESIS_PREVIOUS_HASH, data, db)
            db.executemany("INSERT INTO transactions VALUES (?, ?, ?, ?)",
                           [(tx_id, number, txn, code) for tx_id, txn, code in tx_index])
            deletes, puts, keeps = [], [], []
            for (ns, coll, key), update in sorted(updates.items()):
                if update.deleted:
                    deletes.append((ns, coll, key.encode()))
                elif update.metadata is None:
                    keeps.append((ns, coll, key.encode(), update.value, update.value_hash, *update.version))
                else:
                    puts.append((ns, coll, key.encode(), update.value, update.value_hash, *update.version,
                                 encode_metadata(update.metadata)))
            db.executemany("DELETE FROM state WHERE namespace = ? AND collection = ? AND key = ?", deletes)
            db.executemany("INSERT OR REPLACE INTO state VALUES (?, ?, ?, ?, ?, ?, ?, ?)", puts)
            db.executemany(
                "INSERT INTO state VALUES (?, ?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (namespace, collection, key) DO "
                "UPDATE SET value = excluded.value, value_hash = excluded.value_hash, block = excluded.block, "
                "tx_number = excluded.tx_number", keeps)  # the stored metadata stays
            db.executemany("INSERT INTO history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [(ns, key.encode(), b, t, tx_id, int(d), v, s, n)
                            for ns, key, b, t, tx_id, d, v, s, n in history])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return digest


def apply_writes(updates: dict[StateKey, StateUpdate], current: StateEntry | StateUpdate | None, key: StateKey,
                 write: BlockWrite | None, metadata: dict[str, bytes] | None, version: Version) -> None:
    """Fold one valid transaction's write (and/or metadata write) on ``key`` into ``updates``.

    As on Fabric: a put keeps the key's existing metadata unless the transaction writes metadata too; a
    delete removes value and metadata; a metadata write on a key that has no value is dropped; any write
    (metadata included) gives the key the transaction's version.
    """
    if isinstance(current, StateUpdate) and current.deleted:
        current = None
    existing_metadata = dict(current.metadata) if current is not None else {}
    if write is not None and write.delete:
        updates[key] = StateUpdate(None, None, version, {}, True)
        return
    if write is not None:
        value, value_hash = write.value, write.value_hash
    elif current is not None:
        value, value_hash = current.value, current.value_hash
    else:
        return  # metadata for a key with no value: nothing to attach it to
    if metadata:
        existing_metadata.update(metadata)
    updates[key] = StateUpdate(value, value_hash, version, existing_metadata, False)
