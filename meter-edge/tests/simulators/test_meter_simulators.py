"""Simulators: deterministic by seed, plausible physics, integer counters that only increase, served on loopback."""

import os
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime
from itertools import pairwise

import pytest
from vpp_edge.drivers.modbus import ModbusDriver
from vpp_edge.drivers.modbus_bus import ModbusBus
from vpp_edge.simulators.battery import Battery, BatteryState
from vpp_edge.simulators.devices import STEP, SimulatedBattery
from vpp_edge.simulators.load_profile import HouseholdLoad, day_type, dynamisation, season
from vpp_edge.simulators.modbus_server import SimulatorServer, Unit, quiet_pymodbus
from vpp_edge.simulators.sites import build_site
from vpp_edge.simulators.solar import PvPlant, cos_zenith

DAY = 86_400
JUNE_21 = datetime(2025, 6, 21, tzinfo=UTC).timestamp()
DEC_21 = datetime(2025, 12, 21, tzinfo=UTC).timestamp()


class FixedClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


def images_at(seed: int, times: list[float]) -> list[dict]:
    devices = build_site(0, seed, JUNE_21)
    out = []
    for t in times:
        out.append({d.device: {f: list(w) for f, w in d.sim.refresh(t).words.items()} for d in devices})
    return out


def test_same_seed_same_registers_other_seed_other_registers():
    times = [JUNE_21 + h * 3600 for h in (6, 12, 12.5, 20)]
    assert images_at(7, times) == images_at(7, times)
    assert images_at(7, times) != images_at(8, times)
    # polling in between does not change what the registers say at a given time
    devices = build_site(0, 7, JUNE_21)
    for t in range(int(JUNE_21), int(JUNE_21 + 12 * 3600), 997):
        for d in devices:
            d.sim.refresh(t)
    direct = {d.device: {f: list(w) for f, w in d.sim.refresh(JUNE_21 + 12 * 3600).words.items()} for d in devices}
    assert direct == images_at(7, [JUNE_21 + 12 * 3600])[0]


def clear_day_kwh_per_kwp(day_start: float, kwp: float = 8.0) -> float:
    plant = PvPlant(kwp=kwp, latitude=52.1, longitude=5.1, clouds=False)
    wh = sum(plant.power_w(day_start + i * STEP) * STEP for i in range(DAY // STEP)) / 3600
    return wh / 1000 / kwp


def test_pv_clear_day_energy_is_plausible_for_the_kwp():
    # Clear-sky yields at 52° N (horizontal plane, PR 0.8): roughly 5.5-7.5 kWh/kWp in late June and 0.5-1.2 in
    # late December; PVGIS clear-sky daily irradiation at that latitude is ≈ 8 kWh/m² in June and ≈ 1 in December.
    june, december = clear_day_kwh_per_kwp(JUNE_21), clear_day_kwh_per_kwp(DEC_21)
    assert 5.5 <= june <= 7.5
    assert 0.5 <= december <= 1.2
    noon = cos_zenith(JUNE_21 + 11.7 * 3600, 52.1, 5.1)  # solar noon ≈ 11:40 UTC at 5.1° E
    assert noon == pytest.approx(0.877, abs=0.01)         # elevation 90 − 52.1 + 23.44 = 61.3°, sin = 0.877
    assert PvPlant(clouds=False).power_w(JUNE_21 + 1 * 3600) == 0  # night


def test_pv_clouds_are_seeded_and_never_exceed_clear_sky():
    clear = PvPlant(seed=5, clouds=False)
    cloudy = PvPlant(seed=5)
    ts = [JUNE_21 + i * 600 for i in range(3 * 144)]
    assert all(cloudy.power_w(t) <= clear.power_w(t) for t in ts)
    assert [PvPlant(seed=5).power_w(t) for t in ts] == [cloudy.power_w(t) for t in ts]


def test_pv_counter_increases_and_is_integer():
    site = build_site(1, 3, JUNE_21)
    pv = site[0].sim
    totals = [pv.values_at(JUNE_21 + h * 3600)["WH"] for h in range(0, 25)]
    assert all(isinstance(x, int) for x in totals)
    assert all(b >= a for a, b in pairwise(totals))
    assert totals[-1] > totals[0]


def test_battery_soc_bounds_and_efficiency_bookkeeping():
    battery = Battery(capacity_wh=5_000, max_power_w=5_000, charge_efficiency_ppm=900_000,
                      discharge_efficiency_ppm=920_000, self_discharge_ppm_per_day=20_000, soh_permille=950)
    state = BatteryState(stored_mwh=battery.usable_mwh // 2)
    stored0 = state.stored_mwh
    socs = []
    for i in range(3 * DAY // STEP):  # three days, pushed hard both ways to hit the bounds
        setpoint = -5_000 if (i // 120) % 2 == 0 else 5_000
        battery.step(state, setpoint, STEP)
        socs.append(battery.soc_permille(state))
    assert min(socs) == 0 and max(socs) >= 995  # self-discharge takes its share right after the top
    assert all(0 <= s <= 1000 for s in socs)
    # energy balance: what went in × η_c − what came out / η_d − self-discharge = change of the store (± rounding)
    balance = (state.charged_mwh * 0.9 - state.discharged_mwh / 0.92 - state.self_discharged_mwh
               - (state.stored_mwh - stored0))
    assert abs(balance) <= 3 * DAY // STEP  # at most ~1 mWh of rounding per step, always against the battery
    assert state.discharged_mwh <= (state.charged_mwh * 0.9 + stored0) * 0.92  # no energy from nowhere


def test_battery_self_discharge_when_idle():
    battery = Battery(self_discharge_ppm_per_day=10_000)
    state = BatteryState(stored_mwh=5_000_000)
    for _ in range(DAY // STEP):
        battery.step(state, 0, STEP)
    assert 5_000_000 * 0.99 - 2_000 <= state.stored_mwh <= 5_000_000 * 0.99
    assert state.charged_mwh == state.discharged_mwh == 0


def test_simulated_battery_registers_follow_the_schedule():
    sim = SimulatedBattery(JUNE_21, 4, "B", Battery(seed=4), initial_soc_permille=200)
    morning = sim.values_at(JUNE_21 + 9 * 3600)
    afternoon = sim.values_at(JUNE_21 + 12 * 3600)   # 13:00 local: charging
    night = sim.values_at(JUNE_21 + 23.5 * 3600)
    assert afternoon["power_w"] < 0 and afternoon["soc_permille"] > morning["soc_permille"]
    assert afternoon["TotWhAbs"] > morning["TotWhAbs"]
    assert night["TotWhInj"] > afternoon["TotWhInj"]
    assert 0 <= night["soc_permille"] <= 1000


def test_h0_load_profile_shape_and_annual_energy():
    t0 = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
    load = HouseholdLoad(annual_kwh=4_000, noise=0.0)
    kwh = sum(load.power_w(t0 + i * 900) for i in range(365 * 96)) / 4 / 1000
    assert 3_900 <= kwh <= 4_100
    winter_evening = load.power_w(datetime(2025, 1, 15, 17, 0, tzinfo=UTC).timestamp())   # 18:00 local
    winter_night = load.power_w(datetime(2025, 1, 15, 2, 0, tzinfo=UTC).timestamp())
    assert winter_evening > 2 * winter_night
    assert season(datetime(2025, 7, 1)) == "summer" and season(datetime(2025, 3, 21)) == "transition"
    assert day_type(datetime(2025, 6, 22)) == "sunday"
    assert dynamisation(1) == pytest.approx(1.2420, abs=1e-4) and dynamisation(180) < 1


async def test_simulated_site_read_by_the_drivers_over_loopback():
    quiet_pymodbus()
    clock = FixedClock(JUNE_21 + 12 * 3600)
    devices = build_site(0, 1, JUNE_21)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = await SimulatorServer("127.0.0.1", port, [Unit(d.unit_id, d.sim, clock) for d in devices]).start()
    bus = ModbusBus.tcp("127.0.0.1", port)
    drivers = [ModbusDriver(d.device, d.kind, bus, d.unit_id, d.map_name) for d in devices]
    noon = [await drv.read(int(clock.t)) for drv in drivers]
    clock.t += 3600
    later = [await drv.read(int(clock.t)) for drv in drivers]
    await bus.close()
    await server.stop()
    pv, battery, load = noon
    assert pv.gauges["power_w"] > 0 and pv.serial.startswith("SIM-PV")
    assert battery.gauges["power_w"] <= 0 and battery.counters["charged_wh"] > 0  # charging since 10:00 local
    assert 0 <= battery.gauges["soc_permille"] <= 1000
    assert load.gauges["power_w"] < 0  # consumption is power into the device
    for before, after in zip(noon, later, strict=True):
        assert all(after.counters[k] >= v for k, v in before.counters.items())
    assert later[0].counters["generated_wh"] > pv.counters["generated_wh"]


def test_cli_serves_three_sites_and_prints_the_device_table():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1] // 10 * 10  # room for port .. port + 2
    proc = subprocess.Popen([sys.executable, "-m", "vpp_edge.simulators", "--sites", "3", "--seed", "1",
                             "--factor", "60", "--port", str(port)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        lines = [proc.stdout.readline() for _ in range(11)]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert lines[0].split() == ["device", "kind", "host:port", "unit", "map"]
    rows = [line.split() for line in lines[1:10]]
    assert [r[0] for r in rows][:3] == ["site00-pv", "site00-battery", "site00-load"]
    assert {r[2] for r in rows} == {f"127.0.0.1:{port + i}" for i in range(3)}
    assert {(r[1], r[3], r[4]) for r in rows} == {("generation", "1", "sunspec_inverter_103"),
                                                  ("battery", "2", "sunspec_storage_802"),
                                                  ("load", "3", "eastron_sdm630")}
    assert "runs 60.0x" in lines[10]
    assert proc.returncode == 0
