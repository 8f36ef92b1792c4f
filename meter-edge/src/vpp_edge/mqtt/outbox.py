"""The durable outbox: a message is on disk before it is published and leaves only when the broker acknowledged it.

SQLite in WAL mode with ``synchronous=FULL``: a ``put`` that returned survives a power cut. Removal after the
broker's PUBACK is batched (one transaction for many acknowledgements); losing a removal in a crash only means the
message is published again, and duplicates are harmless (the ledger answers "duplicate").

An optional ``key`` makes a put idempotent while the message is waiting (the reader hands the same interval over
again after a crash between its state and the outbox).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    retain INTEGER NOT NULL DEFAULT 0,
    key TEXT UNIQUE
);
"""


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: int
    topic: str
    payload: bytes
    retain: bool


@dataclass(frozen=True, slots=True)
class NewMessage:
    topic: str
    payload: bytes
    retain: bool = False
    key: str | None = None


class Outbox:
    """Thread-safe: the reader puts from its event loop, the publisher's worker reads and removes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def put(self, topic: str, payload: bytes, *, retain: bool = False, key: str | None = None) -> bool:
        """True when stored, False when a message with this key is already waiting."""
        return self.put_many([NewMessage(topic, payload, retain, key)]) == 1

    def put_many(self, messages: Iterable[NewMessage]) -> int:
        """Store messages in one durable transaction; returns how many were new."""
        rows = [(m.topic, bytes(m.payload), int(m.retain), m.key) for m in messages]
        if not rows:
            return 0
        with self._lock:
            before = self._db.total_changes
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR IGNORE INTO messages (topic, payload, retain, key) "
                                     "VALUES (?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return self._db.total_changes - before

    def after(self, last_id: int, limit: int) -> list[OutboxMessage]:
        """Waiting messages with id > last_id, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT id, topic, payload, retain FROM messages WHERE id > ? ORDER BY id LIMIT ?",
                                    (last_id, limit)).fetchall()
        return [OutboxMessage(i, t, bytes(p), bool(r)) for i, t, p, r in rows]

    def remove(self, ids: Iterable[int]) -> None:
        batch = [(i,) for i in ids]
        if not batch:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("DELETE FROM messages WHERE id = ?", batch)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
