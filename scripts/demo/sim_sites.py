"""The demo's Modbus simulators: ``python -m demo.sim_sites --state demo.json --port P``.

Like ``python -m vpp_edge.simulators`` (site n on port + n, unit 1 PV, 2 battery, 3 load) but on the demo's
catch-up clock, and with the device models always integrated from the first run's start: a restarted simulator
answers the same counters for the same simulated time, so the readers never see a counter go back.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path

from vpp_edge.simulators.serve import serve_sites

from demo.simclock import CatchUpClock, DemoState


async def serve(state: DemoState, host: str, port: int) -> None:
    clock = CatchUpClock(state.sim)

    def announce(index: int, site_port: int, devices: list) -> None:
        print(f"site {index + 1}: {', '.join(d.device for d in devices)} on {host}:{site_port}", flush=True)
        if index == state.sites - 1:
            print(f"simulators ready; simulated time {clock.now():.0f}", flush=True)

    await serve_sites(host, port, state.sites, state.seed, state.model_start, clock, announce)


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
