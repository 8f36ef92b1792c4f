"""The demo's Modbus simulators: ``python -m demo.sim_sites --state demo.json --port P``.

Like ``python -m vpp_edge.simulators`` (site n on port + n, unit 1 PV, 2 battery, 3 load) but on the demo's
catch-up clock, and with the device models always integrated from the first run's start: a restarted simulator
answers the same counters for the same simulated time, so the readers never see a counter go back.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from pathlib import Path

from vpp_edge.simulators.modbus_server import SimulatorServer, Unit, quiet_pymodbus
from vpp_edge.simulators.sites import build_site

from demo.simclock import CatchUpClock, DemoState


async def serve(state: DemoState, host: str, port: int) -> None:
    quiet_pymodbus()
    clock = CatchUpClock(state.sim)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    servers = []
    for index in range(state.sites):
        devices = build_site(index, state.seed, state.model_start)
        units = [Unit(d.unit_id, d.sim, clock) for d in devices]
        for unit in units:  # integrate the models up to now before serving (the first poll must not time out)
            unit.image()
        servers.append(await SimulatorServer(host, port + index, units).start())
        print(f"site {index + 1}: {', '.join(d.device for d in devices)} on {host}:{port + index}", flush=True)
    print(f"simulators ready; simulated time {clock.now():.0f}", flush=True)
    try:
        await stop.wait()
    finally:
        for server in servers:
            await server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m demo.sim_sites", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state", required=True, type=Path)
    parser.add_argument("--port", required=True, type=int, help="site n (from 0) listens on port + n")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    state = DemoState.load(args.state)
    if state is None:
        parser.error(f"{args.state} does not exist")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(state, args.host, args.port))


if __name__ == "__main__":
    main()
