"""Meter → edge reader (subprocess) → real Mosquitto → bridge → embedded ledger with the energy contract.

Each scenario breaks one link on purpose and ends with the audit of harness.audit: every interval the reader
emitted is on the ledger exactly once (the bridge's accepted count equals the intervals emitted; duplicates only
as "duplicate" results), with the same signed payload, and the only holes are the gaps the test caused.
Simulated time runs 300 times faster than the wall clock (one 5-minute interval per second).
"""

from __future__ import annotations

import asyncio
import json

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from vpp_edge.bridge import Bridge, LedgerSubmitter, SubmitUnavailableError
from vpp_edge.mqtt import topics
from vpp_gateway.identity import LocalCA

from pipeline.harness import (
    LedgerWorld,
    MeterPlan,
    ReaderProcess,
    SimTime,
    audit,
    broker_settings,
    outbox_size,
    wait_for,
    write_edge_config,
)

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]
FACTOR = 300


@pytest.fixture
async def world(tmp_path):
    ca = LocalCA.create(tmp_path / "ca", "Org1MSP", "org1.example.com", insecure=True)
    world = LedgerWorld(tmp_path / "ledger.db", ca)
    yield world
    await world.close()


def site_meters(sim: SimTime, **extra: dict) -> list[MeterPlan]:
    base = {"origin": sim.start, "base": 1_000_000}
    meters = [
        MeterPlan("m-pv", "generation", 300, {**base, "rate_w": 3600}),
        MeterPlan("m-bat", "battery", 900, {**base, "rate_w": {"charged_wh": 1000, "discharged_wh": 0}}),
        MeterPlan("m-load", "load", 300, {**base, "rate_w": 600}),
    ]
    for meter in meters:
        meter.driver.update(extra.get(meter.id, {}))
    return meters


async def start_bridge(world: LedgerWorld, submitter, port: int, tmp_path, sim: SimTime) -> Bridge:
    bridge = Bridge(submitter, broker_settings(port), tmp_path / "dead.db", client_id="bridge-under-test",
                    batch_size=100, batch_wait_s=0.1, clock=sim.clock(), backoff_initial_s=5, backoff_max_s=60,
                    state_every_s=0.5)
    await bridge.start()
    await wait_for(bridge.subscribed.is_set, 10, "the bridge's subscription")
    return bridge


def watch(port: int, subscriptions: list[str], into: list) -> mqtt.Client:
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"watcher-{len(subscriptions)}-{id(into)}")
    watcher.on_connect = lambda c, u, f, rc, p: [c.subscribe(s, qos=1) for s in subscriptions]
    watcher.on_message = lambda c, u, m: into.append((m.topic, bytes(m.payload)))
    watcher.connect("127.0.0.1", port)
    watcher.loop_start()
    return watcher


async def test_kill_9_of_the_reader_with_unacknowledged_messages(world, mosquitto, tmp_path):
    sim = SimTime(FACTOR)
    meters = site_meters(sim)
    keys = await world.register("site-1", meters, tmp_path / "keys")
    config = write_edge_config(tmp_path, "site-1", meters, keys, mosquitto.port, sim)
    bridge = await start_bridge(world, LedgerSubmitter(world.client, world.admin), mosquitto.port, tmp_path, sim)
    seen: list[tuple[str, bytes]] = []
    watcher = watch(mosquitto.port, ["vpp/site-1/+/availability", "vpp/site-1/+/sample"], seen)
    reader = ReaderProcess(config).start()
    try:
        await wait_for(lambda: bridge.stats["accepted"] >= 3, 20, "the first readings on the ledger")
        mosquitto.pause()  # the broker takes the bytes but acknowledges nothing
        await wait_for(lambda: outbox_size(tmp_path / "outbox.db") >= 4, 20, "unacknowledged readings")
        reader.kill9()
        held = outbox_size(tmp_path / "outbox.db")
        assert held >= 4
        mosquitto.resume()
        reader = ReaderProcess(config).start()
        await wait_for(lambda: outbox_size(tmp_path / "outbox.db") < held, 20, "the restarted reader publishing")
        await asyncio.sleep(2.0)  # a few more intervals after the restart
        assert reader.terminate() == 0
        summary = await audit(world, tmp_path / "state.db", meters, bridge, sim)
    finally:
        reader.ensure_dead()
        await bridge.stop()
        watcher.loop_stop()
        watcher.disconnect()
    assert summary["gaps"] == 0 and summary["emitted"] >= held + 4
    for meter in meters:  # online, offline (the last will after kill -9), online again, offline (clean stop)
        states = [p.decode() for t, p in seen if t == topics.availability("site-1", meter.id)]
        assert states[0] == "online" and states.count("offline") >= 2 and "online" in states[1:], states
        samples = [json.loads(p) for t, p in seen if t == topics.sample("site-1", meter.id)]
        assert len(samples) >= 10 and all(s["meter"] == meter.id and s["counters"] for s in samples)
    print(f"kill -9: {summary}, bridge {bridge.stats}")


async def test_broker_restart_mid_stream_and_a_replaced_meter(world, mosquitto, tmp_path):
    sim = SimTime(FACTOR)
    replaced_at = sim.start + 1_050  # a new load meter (new serial, counting from 0) mid-interval
    meters = site_meters(sim, **{"m-load": {"replace_at": replaced_at, "new_serial": "B-2"}})
    meters[2].deliberate = [(replaced_at - 300, replaced_at + 300)]
    keys = await world.register("site-2", meters, tmp_path / "keys")
    config = write_edge_config(tmp_path, "site-2", meters, keys, mosquitto.port, sim)
    bridge = await start_bridge(world, LedgerSubmitter(world.client, world.admin), mosquitto.port, tmp_path, sim)
    reader = ReaderProcess(config).start()
    try:
        await wait_for(lambda: bridge.stats["accepted"] >= 3, 20, "the first readings on the ledger")
        mosquitto.stop()  # SIGTERM: mosquitto saves the bridge's session and its queue
        await wait_for(lambda: outbox_size(tmp_path / "outbox.db") >= 3, 20, "readings held while the broker is down")
        mosquitto.start()  # same port, same persistence directory
        await wait_for(lambda: sim.now() > replaced_at + 900, 20, "the meter replacement")
        await asyncio.sleep(1.0)
        assert reader.terminate() == 0
        summary = await audit(world, tmp_path / "state.db", meters, bridge, sim)
    finally:
        reader.ensure_dead()
        await bridge.stop()
    assert summary["gaps"] == 1
    print(f"broker restart: {summary}, bridge {bridge.stats}")


class LedgerOutage:
    """A Submitter that says "unavailable" while simulated time is inside [down_from, down_until)."""

    def __init__(self, inner, sim: SimTime) -> None:
        self.inner, self.sim = inner, sim
        self.down_from = self.down_until = float("inf")
        self.refused = 0

    async def submit(self, readings):
        if self.down_from <= self.sim.now() < self.down_until:
            self.refused += 1
            raise SubmitUnavailableError("ledger down (test)")
        return await self.inner.submit(readings)


async def test_ledger_down_for_ten_simulated_minutes_and_a_dead_meter_link(world, mosquitto, tmp_path):
    sim = SimTime(FACTOR)
    link_down = (sim.start + 600, sim.start + 1_500)  # 15 minutes without samples: longer than 2 intervals
    meters = site_meters(sim, **{"m-pv": {"outages": [list(link_down)]}})
    meters[0].deliberate = [link_down]
    keys = await world.register("site-3", meters, tmp_path / "keys")
    config = write_edge_config(tmp_path, "site-3", meters, keys, mosquitto.port, sim)
    outage = LedgerOutage(LedgerSubmitter(world.client, world.admin), sim)
    bridge = await start_bridge(world, outage, mosquitto.port, tmp_path, sim)
    messages: list[tuple[str, bytes]] = []
    watcher = watch(mosquitto.port, [topics.BRIDGE_STATE], messages)
    reader = ReaderProcess(config).start()
    try:
        await wait_for(lambda: bridge.stats["accepted"] >= 3, 20, "the first readings on the ledger")
        outage.down_from = sim.now()
        outage.down_until = outage.down_from + 600
        await wait_for(lambda: sim.now() > outage.down_until, 10, "the end of the ledger outage")
        accepted_at_recovery = bridge.stats["accepted"]
        await wait_for(lambda: sim.now() > link_down[1] + 900, 20, "samples again after the dead link")
        assert reader.terminate() == 0
        summary = await audit(world, tmp_path / "state.db", meters, bridge, sim)
    finally:
        reader.ensure_dead()
        await bridge.stop()
        watcher.loop_stop()
        watcher.disconnect()
    assert outage.refused >= 2 and bridge.stats["retries"] == outage.refused  # backed off, did not hammer it
    assert outage.refused < 60
    states = [json.loads(p) for _, p in messages]
    degraded = [s for s in states if s.get("state") == "degraded"]
    assert degraded and degraded[0]["reason"] == "ledger down (test)" and max(s["backlog"] for s in degraded) > 0
    assert states[-1]["state"] in ("ok", "offline") and any(s.get("state") == "ok" for s in states[states.index(
        degraded[-1]):])
    assert summary["emitted"] > accepted_at_recovery and summary["gaps"] == 1
    print(f"ledger down: {summary}, refused {outage.refused}, bridge {bridge.stats}")
