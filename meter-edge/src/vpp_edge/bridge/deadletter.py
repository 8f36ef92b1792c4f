"""Readings the ledger refused (or messages that were not readings): acknowledged on MQTT because they will never
succeed, but kept here with their code, counted, and never silently dropped."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_at INTEGER NOT NULL,
    topic TEXT NOT NULL,
    meter TEXT,
    start INTEGER,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    body BLOB NOT NULL
);
"""


class DeadLetters:
    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def record(self, entries: list[tuple[str, bytes, str, str]]) -> None:
        """(topic, body, code, message) each; one durable transaction, written before the MQTT acknowledgement."""
        rows = []
        for topic, body, code, message in entries:
            meter, start = None, None
            try:
                payload = json.loads(body)["payload"]
                meter, start = str(payload.get("meter")), int(payload.get("start"))
            except (ValueError, KeyError, TypeError, AttributeError):
                pass
            rows.append((int(time.time()), topic, meter, start, code, message, body))
        if rows:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT INTO dead_letters (recorded_at, topic, meter, start, code, message, body) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")

    def count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0]

    def entries(self) -> list[dict]:
        rows = self._db.execute("SELECT topic, meter, start, code, message FROM dead_letters ORDER BY id")
        return [{"topic": t, "meter": m, "start": s, "code": c, "message": msg} for t, m, s, c, msg in rows]

    def close(self) -> None:
        self._db.close()
