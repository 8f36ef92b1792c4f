"""Answers of evaluate transactions, kept until a committed block writes something they read.

An evaluation that read only public state through keys and range queries (no rich or history query, no private
data, no other chaincode) and nothing of its proposal but the creator (no tx id, timestamp, transient data) is a
function of (chaincode, arguments, creator) and of the state it read. Its read set says exactly which state that
was: the keys and the ranges, as MVCC validation uses them. So the answer stays right until a block commits a
write to one of those keys or inside one of those ranges; then the entry goes. A balance query for one owner
survives the blocks that mint for other owners and is dropped by the first that touches this owner's lots.

Entries are dropped on the event loop's thread when a block's commit is settled, which is after the block became
visible to readers: an evaluation that read the new state before that moment is stored first and dropped by the
same invalidation (it read the written keys), never kept stale. An evaluation that spans an invalidation is not
stored at all (the generation check).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from .rwset import RWSet, StateKey

CacheKey = tuple[str, tuple[bytes, ...], bytes]  # (chaincode, arguments with the function first, creator)


@dataclass(frozen=True)
class _Entry:
    payload: bytes
    keys: tuple[StateKey, ...]
    ranges: tuple[tuple[str, str, str, str], ...]  # (namespace, collection, start, end); end "" = unbounded


class EvaluationCache:
    def __init__(self, max_entries: int = 2048, max_payload: int = 16 * 1024) -> None:
        self.max_entries = max_entries
        self.max_payload = max_payload
        self.generation = 0            # +1 at every invalidation: a store from an older generation is refused
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()
        self._by_key: dict[StateKey, set[CacheKey]] = {}
        self._with_ranges: set[CacheKey] = set()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: CacheKey) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.payload

    def put(self, key: CacheKey, payload: bytes, rwset: RWSet, generation: int) -> None:
        if generation != self.generation or len(payload) > self.max_payload or rwset.has_writes:
            return
        self._drop(key)
        entry = _Entry(payload, tuple(rwset.reads),
                       tuple((r.namespace, r.collection, r.start, r.end) for r in rwset.ranges))
        self._entries[key] = entry
        for state_key in entry.keys:
            self._by_key.setdefault(state_key, set()).add(key)
        if entry.ranges:
            self._with_ranges.add(key)
        while len(self._entries) > self.max_entries:
            self._drop(next(iter(self._entries)))

    def invalidate(self, written: Iterable[StateKey]) -> None:
        """A block committed these keys (puts, deletes, metadata): drop every entry that read one of them or
        read a range containing one."""
        self.generation += 1
        if not self._entries:
            return
        by_space: dict[tuple[str, str], list[str]] = {}
        stale: set[CacheKey] = set()
        for state_key in written:
            stale |= self._by_key.get(state_key, set())
            by_space.setdefault(state_key[:2], []).append(state_key[2])
        for keys in by_space.values():
            keys.sort()
        for cache_key in self._with_ranges - stale:
            for namespace, collection, start, end in self._entries[cache_key].ranges:
                keys = by_space.get((namespace, collection))
                if keys:
                    i = bisect_left(keys, start)  # the first written key ≥ start: inside unless it is ≥ end
                    if i < len(keys) and (end == "" or keys[i] < end):
                        stale.add(cache_key)
                        break
        for cache_key in stale:
            self._drop(cache_key)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()
        self._by_key.clear()
        self._with_ranges.clear()

    def _drop(self, key: CacheKey) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        for state_key in entry.keys:
            holders = self._by_key.get(state_key)
            if holders is not None:
                holders.discard(key)
                if not holders:
                    del self._by_key[state_key]
        self._with_ranges.discard(key)
