"""Keys, serialisation and a transaction-local view of the ledger.

Key design (no hot keys: nothing every mint rewrites):
    site~<site>                              site record          asset~<asset>      asset record
    M/<meter>                                meter record         owner_site~<owner>~<site>  owner's sites
    R/<start:011d>/<meter>                   one per (meter, interval): the exactly-once guarantee
    lot~<owner>~<token>~<origin:011d>~<id>   balances are sums of lots, FIFO by origin interval
    supply~<token>~<tx>                      minted/burned by one transaction (summed by the supply query)
    credit~<account>~<tx>~<n>                prepaid credit deltas in micro-units
    offer~<offer>    trade~<offer>~<tx>      the market
    E/<asset>/<start:011d>/<tx>/<n>          token events per asset and interval, for queries by date
(~ stands for Fabric's composite-key separator.) Meters and readings use simple keys, interval first, so that
a batch of one interval's readings for a run of meters reads its meters and the readings already there with
two range reads instead of two reads per reading: every stub call is a round trip to the peer, and a long
simulation holds the peer's state lock that commits wait for. Events use simple keys for date ranges.
"""

from __future__ import annotations

from typing import Any

import orjson
from fabric_ccaas import ChaincodeStub
from fabric_ccaas.keys import create_composite_key

from .canonical import canonical

SCAN_PAGE = 10_000  # rows per page of LedgerView.scan_all


def reading_key(meter: str, start: int) -> str:
    return f"R/{start:011d}/{meter}"


def meter_key(meter: str) -> str:
    return f"M/{meter}"


def event_key(asset: str, start: int, tx_id: str, n: int) -> str:
    return f"E/{asset}/{start:011d}/{tx_id}/{n:05d}"


def key(object_type: str, *parts: str | int) -> str:
    return create_composite_key(object_type, [f"{p:011d}" if isinstance(p, int) else p for p in parts])


class LedgerView:
    """The stub plus this transaction's own writes: Fabric does not let a transaction read what it wrote, but a
    batch of readings must see the lots its earlier readings minted."""

    def __init__(self, stub: ChaincodeStub):
        self.stub = stub
        self._pending: dict[str, bytes | None] = {}
        self._cache: dict[str, bytes] = {}
        self._known_ranges: list[tuple[str, str]] = []  # ranges read completely: absent keys there are absent

    async def get(self, k: str) -> bytes:
        if k in self._pending:
            return self._pending[k] or b""
        if k not in self._cache:
            if any(start <= k < end for start, end in self._known_ranges):
                return b""
            self._cache[k] = await self.stub.get_state(k)
        return self._cache[k]

    async def prefetch(self, start: str, end: str, limit: int) -> None:
        """Read the committed keys in [start, end) into the cache with one range query. Past ``limit`` keys the
        range is too sparse to be worth it: stop (Fabric then validates only the part read) and let the
        remaining keys be read one by one."""
        iterator = await self.stub.get_state_by_range(start, end)
        count = 0
        async with iterator:
            async for kv in iterator:
                self._cache.setdefault(kv.key, kv.value)
                count += 1
                if count >= limit:
                    return
        self._known_ranges.append((start, end))

    async def get_json(self, k: str) -> Any | None:
        raw = await self.get(k)
        return orjson.loads(raw) if raw else None

    async def put_json(self, k: str, value: Any) -> None:
        raw = canonical(value)
        self._pending[k] = raw
        await self.stub.put_state(k, raw)

    async def delete(self, k: str) -> None:
        self._pending[k] = None
        await self.stub.del_state(k)

    async def scan_range(self, start: str, end: str) -> list[tuple[str, Any]]:
        """Committed simple keys in [start, end) (pending writes are not merged: used by queries only)."""
        return [(kv.key, orjson.loads(kv.value)) async for kv in await self.stub.get_state_by_range(start, end)]

    async def scan_all(self, object_type: str, page_size: int | None = None) -> list[tuple[str, Any]]:
        """Every committed key of an object type, page by page (queries only: a paginated read cannot precede a
        write). One unpaginated range would stop silently at the peer's ``totalQueryLimit`` (100,000 by default)
        on Fabric, while the embedded ledger has no such cap: the two would disagree."""
        page_size = page_size or SCAN_PAGE
        found: list[tuple[str, Any]] = []
        bookmark = ""
        while True:
            iterator, page = await self.stub.get_state_by_partial_composite_key_with_pagination(
                object_type, [], page_size, bookmark)
            rows = [(kv.key, orjson.loads(kv.value)) async for kv in iterator]
            found.extend(rows)
            if len(rows) < page_size or not page.bookmark or page.bookmark == bookmark:
                return found
            bookmark = page.bookmark

    async def scan(self, object_type: str, *parts: str | int) -> list[tuple[str, Any]]:
        """All (key, value) under a partial composite key, committed state merged with pending writes."""
        prefix = key(object_type, *parts)
        found = {kv.key: kv.value async for kv in
                 await self.stub.get_state_by_partial_composite_key(object_type, list(_fmt(parts)))}
        for k, value in self._pending.items():
            if k.startswith(prefix):
                if value is None:
                    found.pop(k, None)
                else:
                    found[k] = value
        return [(k, orjson.loads(v)) for k, v in sorted(found.items())]


def _fmt(parts: tuple[str | int, ...]):
    for p in parts:
        yield f"{p:011d}" if isinstance(p, int) else p
