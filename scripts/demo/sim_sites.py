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


async def serve(state: DemoState, host: str, port: int, first_index: int = 0, count: int | None = None) -> None:
    """Sites ``first_index`` .. ``first_index + count - 1`` (default: the demo's own sites); an attached site
    (demo.attach) runs alone in its own process, with the devices its index gives."""
    clock = CatchUpClock(state.sim)
    count = state.sites if count is None else count

    def announce(index: int, site_port: int, devices: list) -> None:
        print(f"site {index + 1}: {', '.join(d.device for d in devices)} on {host}:{site_port}", flush=True)
        if index == first_index + count - 1:
            print(f"simulators ready; simulated time {clock.now():.0f}", flush=True)

    await serve_sites(host, port, count, state.seed, state.model_start, clock, announce, first_index=first_index)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m demo.sim_sites", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state", required=True, type=Path)
    parser.add_argument("--port", required=True, type=int, help="site n (from 0) listens on port + n")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--first-index", type=int, default=0, help="index of the first site served (default 0)")
    parser.add_argument("--count", type=int, default=None, help="sites served (default: the demo's own)")
    args = parser.parse_args(argv)
    state = DemoState.load(args.state)
    if state is None:
        parser.error(f"{args.state} does not exist")
    if args.first_index < 0 or (args.count is not None and args.count < 1):
        parser.error("--first-index ≥ 0, --count ≥ 1")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(state, args.host, args.port, args.first_index, args.count))


if __name__ == "__main__":
    main()
