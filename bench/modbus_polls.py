"""Modbus polls per second over 100 simulated devices: the edge's driver stack beside a bare pymodbus loop.

A child process serves 100 simulated devices (PV inverters, batteries, load meters: SunSpec 1+103, SunSpec
1+701+802, Eastron SDM630) as 10 Modbus TCP gateways on 127.0.0.1 with 10 unit ids each, their models running on an
accelerated clock. In this process, alternating rounds of equal length:

- ours: one ``ModbusBus`` (client + lock) per gateway and one ``ModbusDriver`` per device, all polling concurrently;
  a poll is one ``Sample`` (every span of the device's map read, decoded, scaled to integers, validated);
- baseline: one ``AsyncModbusTcpClient`` per gateway, a loop per gateway reading the same register spans of each
  of its units in turn, no decoding.

Both keep one request in flight per connection (pymodbus' server answers one request per TCP read), so both are
bounded by the same 10 connections and the same server process; the ratio is what our locking, decoding and
Sample building cost. Target: ratio ≥ 0.8.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GATEWAYS = 10
UNITS_PER_GATEWAY = 10
KINDS = (("generation", "sunspec_inverter_103"), ("battery", "sunspec_storage_802"), ("load", "eastron_sdm630"))


def _device_plan(gateway: int, unit: int) -> tuple[str, str]:
    return KINDS[(gateway * UNITS_PER_GATEWAY + unit) % len(KINDS)]


async def _serve(port_base: int) -> None:
    from vpp_edge.clock import AcceleratedClock
    from vpp_edge.simulators.battery import Battery
    from vpp_edge.simulators.devices import SimulatedBattery, SimulatedLoadMeter, SimulatedPvInverter
    from vpp_edge.simulators.load_profile import HouseholdLoad
    from vpp_edge.simulators.modbus_server import SimulatorServer, Unit, quiet_pymodbus
    from vpp_edge.simulators.solar import PvPlant

    quiet_pymodbus()
    start = (int(time.time()) // 86_400 - 10) * 86_400 + 9 * 3600  # a morning: PV power is not zero
    clock = AcceleratedClock(start, 60)
    servers = []
    for g in range(GATEWAYS):
        units = []
        for u in range(UNITS_PER_GATEWAY):
            seed = g * 100 + u
            kind, _ = _device_plan(g, u)
            sim = {"generation": lambda s: SimulatedPvInverter(start, s, f"PV{s}", PvPlant(seed=s)),
                   "battery": lambda s: SimulatedBattery(start, s, f"BAT{s}", Battery(seed=s)),
                   "load": lambda s: SimulatedLoadMeter(start, s, 10_000 + s, HouseholdLoad(seed=s))}[kind](seed)
            units.append(Unit(u + 1, sim, clock))
        servers.append(await SimulatorServer("127.0.0.1", port_base + g, units).start())
    print("ready", flush=True)
    await asyncio.Event().wait()


async def _round_ours(port_base: int, seconds: float) -> int:
    from vpp_edge.drivers.modbus import ModbusDriver
    from vpp_edge.drivers.modbus_bus import ModbusBus

    buses = [ModbusBus.tcp("127.0.0.1", port_base + g) for g in range(GATEWAYS)]
    drivers = [ModbusDriver(f"d{g}-{u}", _device_plan(g, u)[0], buses[g], u + 1, _device_plan(g, u)[1])
               for g in range(GATEWAYS) for u in range(UNITS_PER_GATEWAY)]
    for d in drivers:  # connect and warm up outside the timed window
        await d.read(0)
    polls = 0
    deadline = time.perf_counter() + seconds

    async def poll(driver):
        nonlocal polls
        while time.perf_counter() < deadline:
            sample = await driver.read(int(time.time()))
            assert sample.counters
            polls += 1

    await asyncio.gather(*(poll(d) for d in drivers))
    for bus in buses:
        await bus.close()
    return polls


async def _round_bare(port_base: int, seconds: float) -> int:
    from pymodbus.client import AsyncModbusTcpClient
    from vpp_edge.maps import load_map
    from vpp_edge.protocols.registers import plan_reads

    spans = {name: plan_reads(load_map(name))[0] for _, name in KINDS}
    clients = [AsyncModbusTcpClient("127.0.0.1", port=port_base + g, timeout=1, retries=0) for g in range(GATEWAYS)]
    for client in clients:
        await client.connect()
    polls = 0
    deadline = time.perf_counter() + seconds

    async def loop(g: int, client) -> None:
        nonlocal polls
        units = [(u + 1, spans[_device_plan(g, u)[1]]) for u in range(UNITS_PER_GATEWAY)]
        while time.perf_counter() < deadline:
            for unit, unit_spans in units:
                for span in unit_spans:
                    call = client.read_holding_registers if span.function == "holding" else client.read_input_registers
                    response = await call(span.address, count=span.count, device_id=unit)
                    assert not response.isError()
                polls += 1

    await asyncio.gather(*(loop(g, c) for g, c in enumerate(clients)))
    for client in clients:
        client.close()
    return polls


def run(args) -> dict:
    from .run import metric

    quick = args.get("quick", False) if isinstance(args, dict) else getattr(args, "quick", False)
    seconds = float(os.environ.get("BENCH_SECONDS", "2" if quick else "8"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "2" if quick else "3"))
    port_base = int(os.environ.get("VPP_BENCH_MODBUS_PORT_BASE", "35020"))
    server = subprocess.Popen([sys.executable, "-m", "bench.modbus_polls", "serve", str(port_base)],
                              cwd=HERE.parent, stdout=subprocess.PIPE, text=True)
    try:
        if server.stdout.readline().strip() != "ready":
            raise SystemExit("the simulator process did not start")
        ours, bare = [], []
        for r in range(rounds):
            order = [("ours", _round_ours), ("bare", _round_bare)]
            if r % 2:
                order.reverse()
            for name, fn in order:
                polls = asyncio.run(fn(port_base, seconds))
                (ours if name == "ours" else bare).append(polls / seconds)
                print(f"round {r + 1} {name}: {polls / seconds:.0f} polls/s", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
    ours_rate, bare_rate = sum(ours) / len(ours), sum(bare) / len(bare)
    devices = GATEWAYS * UNITS_PER_GATEWAY
    return {
        "metrics": [
            metric(f"Modbus device polls per second, {devices} simulated devices, edge driver stack",
                   round(ours_rate, 1), "polls/s",
                   "bare pymodbus client loop reading the same spans, same servers, same run", round(bare_rate, 1),
                   "higher", "ratio ≥ 0.8"),
        ],
        "conditions": {
            "devices": f"{devices} ({GATEWAYS} TCP gateways × {UNITS_PER_GATEWAY} unit ids; PV SunSpec 1+103, "
                       "battery SunSpec 1+701+802, load Eastron SDM630) served by one child process on 127.0.0.1",
            "rounds": f"{rounds} × {seconds:.0f} s per side, alternating order",
            "ours_per_round": [round(x, 1) for x in ours],
            "bare_per_round": [round(x, 1) for x in bare],
        },
    }


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        asyncio.run(_serve(int(sys.argv[2])))
    else:
        raise SystemExit("usage: python -m bench.modbus_polls serve <port-base> (the benchmark runs via bench/run.py)")
