"""The bridge service: ``vpp/+/+/interval`` → batches → ledger → MQTT acknowledgement.

* A persistent MQTT 5 session (fixed client id, ``clean_start=False``, session expiry), QoS 1, and MANUAL
  acknowledgement (paho ``manual_ack=True``): the broker keeps every reading until the bridge acknowledged it,
  and the bridge acknowledges only after the ledger committed the batch. A bridge crash before that means the
  broker delivers the readings again; the ledger answers "duplicate" for any that had committed.
* Batches close at ``batch_size`` readings or ``batch_wait_s`` seconds after their first reading.
* Per reading: accepted and duplicate are done; rejected ones are written to the dead-letter table with their code,
  logged, counted, then acknowledged (they will never succeed).
* While the ledger is unavailable the same batch is retried with exponential backoff and full jitter (in the
  injected clock's time), and ``vpp/bridge/state`` (retained) says ``degraded`` with the reason and the backlog.
* A message id is only acknowledged on the connection it arrived on: after a reconnect the broker re-sends what
  was unacknowledged (same session), and that copy is acknowledged once it is through.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ..clock import AcceleratedClock, WallClock
from ..mqtt import topics
from ..mqtt.publisher import BrokerSettings, make_client
from .deadletter import DeadLetters
from .submitters import BatchResult, SubmitRefusedError, Submitter, SubmitUnavailableError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Incoming:
    mid: int
    generation: int    # which connection it arrived on
    topic: str
    body: bytes


class Bridge:
    def __init__(self, submitter: Submitter, broker: BrokerSettings, dead_letter_path: str | Path, *,
                 client_id: str = "vpp-bridge", batch_size: int = 200, batch_wait_s: float = 1.0,
                 clock: WallClock | AcceleratedClock | None = None, backoff_initial_s: float = 1.0,
                 backoff_max_s: float = 60.0, session_expiry_s: int = 7 * 86_400, state_every_s: float = 5.0,
                 rng: random.Random | None = None) -> None:
        if not 1 <= batch_size <= 1000:
            raise ValueError("batch_size must be between 1 and 1000 (the contract's largest batch)")
        self.submitter = submitter
        self.broker = broker
        self.client_id = client_id
        self.batch_size = batch_size
        self.batch_wait_s = batch_wait_s
        self.clock = clock or WallClock()
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.session_expiry_s = session_expiry_s
        self.state_every_s = state_every_s
        self.rng = rng or random.Random()
        self.dead = DeadLetters(dead_letter_path)
        self.stats = {"received": 0, "accepted": 0, "duplicate": 0, "rejected": 0, "batches": 0, "retries": 0,
                      "acknowledged": 0, "stale_acks_skipped": 0}
        self.state = {"state": "starting", "reason": None}
        self.subscribed = asyncio.Event()
        self._queue: asyncio.Queue[Incoming] = asyncio.Queue()
        self._generation = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._in_batch = 0
        self._last_state_at = 0.0
        self.client = make_client(client_id, broker, protocol=mqtt.MQTTv5, manual_ack=True)
        self.client.will_set(topics.BRIDGE_STATE, json.dumps({"state": "offline"}), qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    # -- paho's thread --------------------------------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("bridge MQTT connect refused: %s", reason_code)
            return
        self._generation += 1
        log.info("bridge connected (session present: %s)", flags.session_present)
        client.subscribe(topics.INTERVAL_WILDCARD, qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        log.info("bridge subscribed to %s", topics.INTERVAL_WILDCARD)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.subscribed.set)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        log.warning("bridge MQTT disconnected: %s", reason_code)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        item = Incoming(message.mid, self._generation, message.topic, bytes(message.payload))
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    # -- lifecycle --------------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self.session_expiry_s
        self.client.connect_async(self.broker.host, self.broker.port, self.broker.keepalive, clean_start=False,
                                  properties=properties)
        self.client.loop_start()
        self._task = asyncio.create_task(self._run(), name="bridge")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.client.publish(topics.BRIDGE_STATE, json.dumps({"state": "offline"}), qos=1, retain=True)
        await asyncio.sleep(0.05)
        self.client.disconnect()
        self.client.loop_stop()
        self.dead.close()

    @property
    def backlog(self) -> int:
        return self._queue.qsize() + self._in_batch

    # -- the loop ---------------------------------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            batch = await self._collect()
            self._in_batch = len(batch)
            try:
                await self._deliver(batch)
            finally:
                self._in_batch = 0

    async def _collect(self) -> list[Incoming]:
        first = None
        while first is None:
            try:
                first = await asyncio.wait_for(self._queue.get(), timeout=self.state_every_s)
            except TimeoutError:  # idle: say so now and then (a retained "ok" with backlog 0)
                self._publish_state("ok", None)
        batch = [first]
        deadline = time.monotonic() + self.batch_wait_s
        while len(batch) < self.batch_size:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), timeout=remaining))
            except TimeoutError:
                break
        return batch

    async def _deliver(self, batch: list[Incoming]) -> None:
        self.stats["received"] += len(batch)
        readings: list[tuple[Incoming, dict]] = []
        bad: list[tuple[Incoming, str, str]] = []
        for item in batch:
            reading, problem = _parse(item)
            if reading is None:
                bad.append((item, "BAD_MESSAGE", problem))
            else:
                readings.append((item, reading))
        # one interval at a time and meters in order: the contract prefetches a batch in two range reads
        readings.sort(key=lambda r: (r[1]["payload"].get("start", 0), str(r[1]["payload"].get("meter", ""))))
        rejected = list(bad)
        if readings:
            rejected += await self._submit_all(readings)
        if rejected:
            self.dead.record([(item.topic, item.body, code, message) for item, code, message in rejected])
            for item, code, message in rejected:
                log.error("reading on %s refused for good: %s: %s", item.topic, code, message)
        self.stats["rejected"] += len(rejected)
        self._ack(batch)
        self.stats["batches"] += 1
        self._publish_state("ok", None, force=self.state["state"] != "ok")

    async def _submit_all(self, readings: list[tuple[Incoming, dict]]) -> list[tuple[Incoming, str, str]]:
        """Submit until committed; returns the readings refused for good."""
        try:
            result = await self._submit_with_retry([r for _, r in readings])
        except SubmitRefusedError as exc:  # the whole batch refused because of its content: isolate the culprit
            if len(readings) == 1:
                return [(readings[0][0], exc.code, exc.message)]
            half = len(readings) // 2
            return await self._submit_all(readings[:half]) + await self._submit_all(readings[half:])
        refused = []
        for (item, _), outcome in zip(readings, sorted(result.results, key=lambda r: r.index), strict=True):
            if outcome.status == "rejected":
                refused.append((item, outcome.code or "REJECTED", outcome.message or ""))
            else:
                self.stats[outcome.status] += 1
        return refused

    async def _submit_with_retry(self, readings: list[dict]) -> BatchResult:
        attempt = 0
        while True:
            try:
                return await self.submitter.submit(readings)
            except SubmitUnavailableError as exc:
                reason = exc.reason
            except SubmitRefusedError as exc:
                if not exc.retryable:
                    raise
                reason = f"{exc.code}: {exc.message}"
            delay = self.rng.uniform(0, min(self.backoff_max_s, self.backoff_initial_s * 2 ** attempt))
            if attempt == 0:
                log.warning("ledger unavailable (%s): retrying with backoff", reason)
            attempt += 1
            self.stats["retries"] += 1
            self._publish_state("degraded", reason, force=attempt == 1)
            await self.clock.sleep(delay)

    def _ack(self, batch: list[Incoming]) -> None:
        for item in batch:
            if item.generation != self._generation:  # the broker re-sends it on this connection: ack that copy
                self.stats["stale_acks_skipped"] += 1
                continue
            self.client.ack(item.mid, 1)
            self.stats["acknowledged"] += 1

    def _publish_state(self, state: str, reason: str | None, *, force: bool = True) -> None:
        now = time.monotonic()
        if not force and now - self._last_state_at < self.state_every_s:
            return
        self._last_state_at = now
        self.state = {"state": state, "reason": reason}
        doc = {"state": state, "reason": reason, "backlog": self.backlog, "dead_letters": self.dead.count(),
               "at": int(self.clock.now())}
        self.client.publish(topics.BRIDGE_STATE, json.dumps(doc, sort_keys=True), qos=1, retain=True)


def _parse(item: Incoming) -> tuple[dict | None, str]:
    if topics.parse(item.topic) is None:
        return None, f"unexpected topic {item.topic}"
    try:
        reading = json.loads(item.body)
    except ValueError as exc:
        return None, f"not JSON: {exc}"
    if not isinstance(reading, dict) or not isinstance(reading.get("payload"), dict):
        return None, "not a signed reading ({\"payload\": {...}, \"signature\": ...})"
    return reading, ""
