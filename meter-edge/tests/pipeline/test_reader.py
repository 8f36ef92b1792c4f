"""The reader's durable handover (state and readings in one transaction, then the outbox), in-process."""

from __future__ import annotations

import pytest
from vpp_edge.config import load_edge_config
from vpp_edge.keys import provision
from vpp_edge.mqtt.mosquitto import free_port
from vpp_edge.mqtt.outbox import Outbox
from vpp_edge.reader import Handoff, Reader, ReaderStore
from vpp_edge.sample import Sample

from pipeline.fake_meter import FakeMeter
from pipeline.harness import MeterPlan, SimTime, write_edge_config


@pytest.fixture
def site(tmp_path):
    sim = SimTime(1)
    meters = [MeterPlan("m-pv", "generation", 300), MeterPlan("m-bat", "battery", 300)]
    keys = {m.id: provision(tmp_path / "keys", m.id).private_path for m in meters}
    config = load_edge_config(write_edge_config(tmp_path, "s1", meters, keys, free_port(), sim))  # no broker there
    return config, sim


async def test_readings_left_in_the_handoff_by_a_crash_reach_the_outbox_on_start(site, tmp_path):
    config, _ = site
    store = ReaderStore(config.state_path)
    store.commit("m-pv", None, [Handoff("m-pv", 900, "vpp/s1/m-pv/interval", b'{"x":1}')], [])
    store.close()  # "crash" before the outbox
    reader = Reader(config, {"m-pv": FakeMeter("m-pv", "generation", {}), "m-bat": FakeMeter("m-bat", "battery", {})})
    reader.start()
    try:
        assert [m.payload for m in reader.outbox.after(0, 10)] == [b'{"x":1}']
        assert reader.store.handoffs() == []
    finally:
        await reader.stop(drain_s=0)
    assert len(Outbox(tmp_path / "outbox.db")) == 1  # unacknowledged: it stays for the next start


async def test_intervals_are_signed_journaled_and_outboxed_and_a_battery_without_soc_is_a_recorded_gap(site,
                                                                                                       tmp_path):
    config, sim = site
    reader = Reader(config, {"m-pv": FakeMeter("m-pv", "generation", {}), "m-bat": FakeMeter("m-bat", "battery", {})})
    t0 = sim.start
    reader.ingest("m-pv", [Sample("m-pv", "generation", t0 + 300 * i, {"generated_wh": 100 * i}) for i in range(4)])
    reader.ingest("m-bat", [Sample("m-bat", "battery", t0 + 300 * i, {"charged_wh": 10 * i, "discharged_wh": 0})
                            for i in range(2)])
    try:
        emitted = reader.store.emitted("m-pv")
        assert sorted(emitted) == [t0, t0 + 300, t0 + 600]
        assert all(r["payload"]["wh"] == 100 and r["payload"]["key"] == 1 for r in emitted.values())
        assert len(reader.outbox) == 3 and reader.store.handoffs() == []
        assert reader.store.gaps("m-bat") == [{"start": t0, "end": t0 + 300, "energy": {"charged_wh": 10,
                                                                                        "discharged_wh": 0},
                                               "reasons": ["no_soc"]}]
        assert reader.store.states()["m-pv"].boundary == t0 + 900
    finally:
        await reader.stop(drain_s=0)
