"""The edge reader of one site: poll the drivers every sample period, publish samples, close intervals, sign them
and hand them to the MQTT outbox.

Crash safety (kill -9 at any instant loses nothing and never signs two different readings for one interval):

1. the new aggregator state, the signed readings and any gaps are written in ONE transaction of the state database
   (readings into a ``handoff`` table, plus an ``emitted`` journal and a ``gaps`` table);
2. the readings are put in the outbox (idempotent per meter and interval);
3. the handoff rows are deleted.

A restart first moves whatever is still in ``handoff`` to the outbox, then continues from the saved state, so an
interval is computed once and only its bytes travel again. Both databases are SQLite with synchronous=FULL.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .clock import AcceleratedClock, WallClock
from .config import EdgeConfig
from .errors import EdgeError
from .intervals import Discarded, Gap, Interval, MeterSpec, MeterState, advance
from .keys import MeterKey
from .mqtt import topics
from .mqtt.outbox import NewMessage, Outbox
from .mqtt.publisher import OutboxPublisher, Presence
from .sample import Driver, Sample
from .signing import canonical, sign_interval

log = logging.getLogger(__name__)
JOURNAL_RETENTION_S = 40 * 86_400

SCHEMA = """
CREATE TABLE IF NOT EXISTS meter_state (meter TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS handoff (meter TEXT NOT NULL, start INTEGER NOT NULL, topic TEXT NOT NULL,
                                    payload BLOB NOT NULL, PRIMARY KEY (meter, start));
CREATE TABLE IF NOT EXISTS emitted (meter TEXT NOT NULL, start INTEGER NOT NULL, reading TEXT NOT NULL,
                                    PRIMARY KEY (meter, start));
CREATE TABLE IF NOT EXISTS gaps (meter TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
                                 energy TEXT NOT NULL, reasons TEXT NOT NULL, PRIMARY KEY (meter, start));
"""


@dataclass(frozen=True, slots=True)
class Handoff:
    meter: str
    start: int
    topic: str
    payload: bytes

    @property
    def key(self) -> str:
        return f"{self.meter}/{self.start}"


class ReaderStore:
    """The reader's durable state: aggregator state per meter, readings being handed to the outbox, the journal of
    emitted readings and the recorded gaps."""

    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def states(self) -> dict[str, MeterState]:
        rows = self._db.execute("SELECT meter, state FROM meter_state").fetchall()
        return {m: MeterState.from_json(json.loads(s)) for m, s in rows}

    def commit(self, meter: str, state: MeterState | None, handoffs: list[Handoff], gaps: list[Gap]) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if state is not None:
                self._db.execute("INSERT OR REPLACE INTO meter_state VALUES (?, ?)",
                                 (meter, json.dumps(state.to_json(), sort_keys=True)))
            self._db.executemany("INSERT OR REPLACE INTO handoff VALUES (?, ?, ?, ?)",
                                 [(h.meter, h.start, h.topic, h.payload) for h in handoffs])
            self._db.executemany("INSERT OR REPLACE INTO emitted VALUES (?, ?, ?)",
                                 [(h.meter, h.start, h.payload.decode()) for h in handoffs])
            self._db.executemany("INSERT OR REPLACE INTO gaps VALUES (?, ?, ?, ?, ?)",
                                 [(g.device, g.start, g.end, json.dumps(g.energy, sort_keys=True),
                                   ",".join(g.reasons)) for g in gaps])
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def handoffs(self) -> list[Handoff]:
        rows = self._db.execute("SELECT meter, start, topic, payload FROM handoff ORDER BY start, meter").fetchall()
        return [Handoff(m, s, t, bytes(p)) for m, s, t, p in rows]

    def clear_handoffs(self, handoffs: list[Handoff]) -> None:
        if handoffs:
            self._db.executemany("DELETE FROM handoff WHERE meter = ? AND start = ?",
                                 [(h.meter, h.start) for h in handoffs])

    def emitted(self, meter: str) -> dict[int, dict]:
        rows = self._db.execute("SELECT start, reading FROM emitted WHERE meter = ? ORDER BY start", (meter,))
        return {s: json.loads(r) for s, r in rows}

    def gaps(self, meter: str) -> list[dict]:
        rows = self._db.execute("SELECT start, end, energy, reasons FROM gaps WHERE meter = ? ORDER BY start",
                                (meter,))
        return [{"start": s, "end": e, "energy": json.loads(en), "reasons": r.split(",")} for s, e, en, r in rows]

    def prune_journal(self, before: int) -> None:
        self._db.execute("DELETE FROM emitted WHERE start < ?", (before,))

    def close(self) -> None:
        self._db.close()


DriverFactory = Callable[[str, str, Mapping[str, Any]], Any]


class _FailureLog:
    """First failure of a meter loudly, repeats quietly, recovery once."""

    def __init__(self) -> None:
        self.failing: set[str] = set()

    def failed(self, meter: str, error: Exception) -> None:
        level = logging.DEBUG if meter in self.failing else logging.WARNING
        log.log(level, "reading %s failed: %s", meter, error)
        self.failing.add(meter)

    def ok(self, meter: str) -> None:
        if meter in self.failing:
            self.failing.discard(meter)
            log.info("reading %s recovered", meter)


class Reader:
    """The service for one site. ``await reader.run(stop)`` until ``stop`` is set."""

    def __init__(self, config: EdgeConfig, drivers: Mapping[str, Driver], *,
                 clock: WallClock | AcceleratedClock | None = None, keys: Mapping[str, MeterKey] | None = None) -> None:
        self.config = config
        self.drivers = dict(drivers)
        self.clock = clock or config.clock.build()
        self.meters = {m.id: m for m in config.meters}
        missing = set(self.meters) - set(self.drivers)
        if missing:
            raise EdgeError(f"no driver for meter(s) {', '.join(sorted(missing))}", code="NO_DRIVER")
        self.keys = dict(keys) if keys is not None else {m.id: MeterKey.load(m.key_path, m.id) for m in config.meters}
        self.specs: dict[str, MeterSpec] = {m.id: m.spec(config.max_gap_intervals) for m in config.meters}
        self.store = ReaderStore(config.state_path)
        self.outbox = Outbox(config.outbox_path)
        self.publisher = OutboxPublisher(self.outbox, config.client_id, config.broker, window=config.window)
        self.presence = {m: Presence(topics.availability(config.site, m), f"{config.client_id}-{m}-presence",
                                     config.broker) for m in self.meters}
        self.states: dict[str, MeterState] = self.store.states()
        self._failures = _FailureLog()
        self.counts = {"samples": 0, "intervals": 0, "gaps": 0, "discarded": 0, "read_failures": 0}

    # -- lifecycle ------------------------------------------------------------------------------------------------
    def start(self) -> None:
        pending = self.store.handoffs()  # a crash between the state commit and the outbox: finish the handover
        if pending:
            log.info("handing %d readings left over from the last run to the outbox", len(pending))
            self._hand_over(pending)
        self.store.prune_journal(int(self.clock.now()) - JOURNAL_RETENTION_S)
        self.publisher.start()
        for presence in self.presence.values():
            presence.start()

    async def stop(self, drain_s: float = 5.0) -> None:
        """Stop: give the broker up to ``drain_s`` seconds to acknowledge what is in the outbox (what is left stays
        there for the next start), then "offline" and disconnect."""
        deadline = time.monotonic() + drain_s
        while self.publisher.connected.is_set() and len(self.outbox) and time.monotonic() < deadline:
            self.publisher.notify()
            await asyncio.sleep(0.05)
        for presence in self.presence.values():
            presence.stop()
        self.publisher.stop()
        for driver in self.drivers.values():
            with contextlib.suppress(Exception):
                await driver.close()
        self.outbox.close()
        self.store.close()

    async def run(self, stop: asyncio.Event) -> None:
        period = self.config.sample_period_s
        while not stop.is_set():
            now = int(self.clock.now())
            await self.poll(now)
            # wake at the next multiple of the period in simulated time (never busy-loop)
            delay = period - (self.clock.now() % period)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(delay, 0.001) / self.clock.factor)

    # -- one cycle ------------------------------------------------------------------------------------------------
    async def poll(self, now: int) -> None:
        results = await asyncio.gather(*(self._read(m, now) for m in self.meters))
        for meter_id, sample in zip(self.meters, results, strict=True):
            if sample is not None:
                self.ingest(meter_id, [sample])

    async def _read(self, meter_id: str, now: int) -> Sample | None:
        try:
            sample = await self.drivers[meter_id].read(now)
        except EdgeError as exc:  # transport, device or parse failure: a missed sample, maybe a gap later
            self._read_failed(meter_id, exc)
            return None
        except Exception as exc:  # a driver bug must not stop the other meters
            log.exception("driver of %s raised", meter_id)
            self._read_failed(meter_id, exc)
            return None
        self._failures.ok(meter_id)
        self.presence[meter_id].set(topics.ONLINE)
        return sample

    def _read_failed(self, meter_id: str, exc: Exception) -> None:
        self.counts["read_failures"] += 1
        self._failures.failed(meter_id, exc)
        self.presence[meter_id].set(topics.OFFLINE)

    def ingest(self, meter_id: str, samples: list[Sample]) -> None:
        """Aggregate, sign, persist and hand over. Public so tests and replays can feed samples directly."""
        spec, meter = self.specs[meter_id], self.meters[meter_id]
        for sample in samples:
            self.publisher.publish_sample(topics.sample(self.config.site, meter_id), canonical(sample_json(sample)))
        self.counts["samples"] += len(samples)
        try:
            state, records = advance(spec, self.states.get(meter_id), samples)
        except ValueError as exc:
            log.error("samples of %s refused: %s", meter_id, exc)
            self.counts["discarded"] += len(samples)
            return
        handoffs, gaps = [], []
        topic = topics.interval(self.config.site, meter_id)
        for record in records:
            if isinstance(record, Interval):
                try:
                    signed = sign_interval(record, self.keys[meter_id], meter.key_version)
                except EdgeError as exc:  # e.g. a battery without SoC: recorded as a gap, never dropped unseen
                    log.error("interval %s of %s not signed: %s", record.start, meter_id, exc)
                    gaps.append(Gap(meter_id, record.start, record.end, record.energy, (exc.code.lower(),)))
                    continue
                handoffs.append(Handoff(meter_id, record.start, topic, canonical(signed)))
            elif isinstance(record, Gap):
                log.warning("gap for %s from %s to %s (%s), %s Wh measured across it", meter_id, record.start,
                            record.end, ",".join(record.reasons), record.energy)
                gaps.append(record)
            elif isinstance(record, Discarded):
                log.warning("sample of %s at %s discarded: %s", meter_id, record.taken_at, record.reason)
                self.counts["discarded"] += 1
        self.store.commit(meter_id, state, handoffs, gaps)
        if state is not None:
            self.states[meter_id] = state
        self.counts["intervals"] += len(handoffs)
        self.counts["gaps"] += len(gaps)
        if handoffs:
            self._hand_over(handoffs)

    def _hand_over(self, handoffs: list[Handoff]) -> None:
        self.outbox.put_many(NewMessage(h.topic, h.payload, False, h.key) for h in handoffs)
        self.store.clear_handoffs(handoffs)
        self.publisher.notify()


def sample_json(sample: Sample) -> dict:
    doc = {"meter": sample.device, "kind": sample.kind, "taken_at": sample.taken_at, "counters": sample.counters,
           "gauges": sample.gauges}
    if sample.serial is not None:
        doc["serial"] = sample.serial
    return doc


async def build_drivers(config: EdgeConfig, factory: DriverFactory | None = None) -> dict[str, Driver]:
    factory = factory or config.load_driver_factory()
    drivers = {}
    for meter in config.meters:
        made = factory(meter.id, meter.kind, meter.driver)
        drivers[meter.id] = await made if inspect.isawaitable(made) else made
    return drivers


async def run_reader(config: EdgeConfig, stop: asyncio.Event, factory: DriverFactory | None = None) -> Reader:
    reader = Reader(config, await build_drivers(config, factory))
    reader.start()
    log.info("edge reader for site %s: %d meters, broker %s:%s, sample period %s s, clock factor %s",
             config.site, len(reader.meters), config.broker.host, config.broker.port, config.sample_period_s,
             reader.clock.factor)
    started = time.monotonic()
    try:
        await reader.run(stop)
    finally:
        await reader.stop()
        log.info("edge reader stopped after %.0f s: %s", time.monotonic() - started, reader.counts)
    return reader
