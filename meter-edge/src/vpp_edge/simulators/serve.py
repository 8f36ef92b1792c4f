"""Serve simulated sites over Modbus TCP until SIGINT/SIGTERM: site n (from 0) on port + n, unit 1 PV, 2 battery,
3 load. Shared by ``python -m vpp_edge.simulators`` and the demo, which differ only in their clock and printing."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable

from vpp_edge.simulators.modbus_server import SimulatorServer, Unit, quiet_pymodbus
from vpp_edge.simulators.sites import build_site


async def serve_sites(host: str, port: int, sites: int, seed: int, model_start: float, clock,
                      on_site: Callable[[int, int, list], None] = lambda index, port, devices: None,
                      first_index: int = 0) -> None:
    """``model_start`` is where the device models begin integrating (the same on every restart keeps counters
    monotonic); ``clock`` gives the simulated time the registers answer for. ``first_index``: serve sites
    ``first_index`` .. ``first_index + sites - 1`` (site ``first_index + n`` on ``port + n``), so that a site added
    later runs in its own process with the same devices it would have had among the others."""
    quiet_pymodbus()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    servers = []
    try:
        for offset in range(sites):
            index = first_index + offset
            devices = build_site(index, seed, model_start)
            units = [Unit(d.unit_id, d.sim, clock) for d in devices]
            for unit in units:  # integrate the models up to now before serving: the first poll must not time out
                unit.image()
            servers.append(await SimulatorServer(host, port + offset, units).start())
            on_site(index, port + offset, devices)
        await stop.wait()
    finally:
        for server in servers:
            await server.stop()
