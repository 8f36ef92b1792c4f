"""Read/write sets and their canonical serialisation: what a simulation produces and a block records.

A version is ``(block number, transaction number)`` of the write that produced the value, or ``None`` for a
key that did not exist. Keys are ``(namespace, collection, key)``; collection ``""`` is public state.

The canonical form is JSON with sorted keys and no spaces; bytes are base64 (standard alphabet) and lists
keep their order, which is itself canonical (reads, writes and range results are sorted by key; range
queries keep the order the chaincode ran them in). Private values never enter a block: a private write
records the SHA-256 of its value, as Fabric's hashed read/write set does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import orjson

Version = tuple[int, int]
StateKey = tuple[str, str, str]  # (namespace, collection, key)


def b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")  # base64.b64encode, minus its wrapper


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


_ORJSON = (orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
           | orjson.OPT_PASSTHROUGH_SUBCLASS)


def canonical(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the bytes of ``json.dumps(value, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)``, written by orjson for plain values (several times faster) and by json otherwise."""
    try:
        return orjson.dumps(value, option=_ORJSON)
    except TypeError:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _version_json(version: Version | None) -> list[int] | None:
    return list(version) if version is not None else None


def _version_of(raw: list[int] | None) -> Version | None:
    return (int(raw[0]), int(raw[1])) if raw is not None else None


@dataclass
class RangeRead:
    """One range query as the chaincode consumed it: the bounds and every (key, version) the peer returned."""

    namespace: str
    collection: str
    start: str
    end: str  # "" means unbounded
    results: list[tuple[str, Version]] = field(default_factory=list)
    exhausted: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"ns": self.namespace, "coll": self.collection, "start": self.start, "end": self.end,
                "exhausted": self.exhausted, "results": [[k, list(v)] for k, v in self.results]}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> RangeRead:
        return cls(raw["ns"], raw["coll"], raw["start"], raw["end"],
                   [(k, (int(v[0]), int(v[1]))) for k, v in raw["results"]], bool(raw["exhausted"]))


@dataclass(slots=True)
class Write:
    """A put (``value`` set) or a delete (``value is None``); ``purge`` for PURGE_PRIVATE_DATA."""

    value: bytes | None
    purge: bool = False


@dataclass
class RWSet:
    reads: dict[StateKey, Version | None] = field(default_factory=dict)
    ranges: list[RangeRead] = field(default_factory=list)
    writes: dict[StateKey, Write] = field(default_factory=dict)
    metadata_writes: dict[StateKey, dict[str, bytes]] = field(default_factory=dict)

    def record_read(self, key: StateKey, version: Version | None) -> None:
        self.reads.setdefault(key, version)  # the first read is what the simulation saw first

    def merge(self, other: RWSet) -> None:
        """Add a chaincode-to-chaincode callee's read/write set (same transaction, its own namespace)."""
        for key, version in other.reads.items():
            self.record_read(key, version)
        self.ranges.extend(other.ranges)
        self.writes.update(other.writes)
        for key, entries in other.metadata_writes.items():
            self.metadata_writes.setdefault(key, {}).update(entries)

    @property
    def has_writes(self) -> bool:
        return bool(self.writes or self.metadata_writes)

    def to_json(self) -> dict[str, Any]:
        """The canonical form recorded in blocks (private values replaced by their SHA-256)."""
        writes = []
        for (ns, coll, key), write in sorted(self.writes.items()):
            value = write.value
            entry: dict[str, Any] = {"ns": ns, "coll": coll, "key": key, "delete": value is None}
            if value is not None:
                entry["value" if coll == "" else "value_hash"] = b64(value if coll == "" else sha256(value))
            if write.purge:
                entry["purge"] = True
            writes.append(entry)
        return {
            "reads": [[ns, coll, key, _version_json(v)] for (ns, coll, key), v in sorted(self.reads.items())],
            "ranges": [r.to_json() for r in self.ranges],
            "writes": writes,
            "metadata_writes": [{"ns": ns, "coll": coll, "key": key, "entries": {k: b64(v) for k, v in entries.items()}}
                                for (ns, coll, key), entries in sorted(self.metadata_writes.items())],
        }


@dataclass(frozen=True)
class BlockWrite:
    """A write as a block records it (what validation and the audit replay)."""

    key: StateKey
    delete: bool
    value: bytes | None       # public value
    value_hash: bytes | None  # SHA-256 of the value: private writes carry only this
    purge: bool = False


def reads_of(raw: dict[str, Any]) -> dict[StateKey, Version | None]:
    return {(ns, coll, key): _version_of(v) for ns, coll, key, v in raw["reads"]}


def ranges_of(raw: dict[str, Any]) -> list[RangeRead]:
    return [RangeRead.from_json(r) for r in raw["ranges"]]


def writes_of(raw: dict[str, Any]) -> list[BlockWrite]:
    out = []
    for w in raw["writes"]:
        value = unb64(w["value"]) if "value" in w else None
        value_hash = unb64(w["value_hash"]) if "value_hash" in w else (sha256(value) if value is not None else None)
        out.append(BlockWrite((w["ns"], w["coll"], w["key"]), bool(w["delete"]), value, value_hash,
                              bool(w.get("purge", False))))
    return out


def metadata_writes_of(raw: dict[str, Any]) -> dict[StateKey, dict[str, bytes]]:
    return {(m["ns"], m["coll"], m["key"]): {k: unb64(v) for k, v in m["entries"].items()}
            for m in raw["metadata_writes"]}


# -- block and world-state hashes ---------------------------------------------------------------------------

def block_hash(number: int, previous_hash: bytes, data_hash: bytes) -> bytes:
    """SHA-256(number as 8-byte big-endian ‖ previous hash ‖ data hash)."""
    return sha256(number.to_bytes(8, "big") + previous_hash + data_hash)


def _length_prefixed(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


class WorldStateHasher:
    """SHA-256 over live state entries fed in (namespace, collection, key) order, UTF-8 byte order.

    Each entry is ``lp(namespace) ‖ lp(collection) ‖ lp(key) ‖ lp(value)`` with ``lp(x)`` = 8-byte big-endian
    length ‖ x. A private entry contributes the SHA-256 of its value, so a peer that holds only the hashes of a
    collection computes the same number. Metadata (key-level endorsement) is not included.
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._last: tuple[bytes, bytes, bytes] | None = None
        self.count = 0

    def add(self, namespace: str, collection: str, key: str, value: bytes) -> None:
        order = (namespace.encode(), collection.encode(), key.encode())
        if self._last is not None and order <= self._last:
            raise ValueError("world-state entries must be added in strictly increasing key order")
        self._last = order
        contribution = value if collection == "" else sha256(value)
        self._hash.update(b"".join(_length_prefixed(part) for part in (*order, contribution)))
        self.count += 1

    def add_hashed(self, namespace: str, collection: str, key: str, value_hash: bytes) -> None:
        """A private entry known only by its hash (the audit's replay)."""
        order = (namespace.encode(), collection.encode(), key.encode())
        if self._last is not None and order <= self._last:
            raise ValueError("world-state entries must be added in strictly increasing key order")
        self._last = order
        self._hash.update(b"".join(_length_prefixed(part) for part in (*order, value_hash)))
        self.count += 1

    def hexdigest(self) -> str:
        return self._hash.hexdigest()
