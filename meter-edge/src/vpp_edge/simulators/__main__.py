"""``python -m vpp_edge.simulators --sites 3 --seed 1 --factor 60 --port 15020``

Serves each site (a PV inverter, a battery, a load meter) as one Modbus TCP gateway on 127.0.0.1, site n on
port + n, unit ids 1 (PV, SunSpec 1+103), 2 (battery, SunSpec 1+701+802), 3 (load, Eastron SDM630); simulated time
starts ``--days-ago`` days in the past and runs ``--factor`` times faster. Prints the device table, then serves until
interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time

from vpp_edge.clock import AcceleratedClock
from vpp_edge.simulators.modbus_server import SimulatorServer, Unit, quiet_pymodbus
from vpp_edge.simulators.sites import build_site


def default_start(days_ago: float) -> float:
    # midnight UTC, so a run starts at night and a clear morning follows
    return (int(time.time()) // 86_400 - days_ago) * 86_400


async def serve(args) -> None:
    quiet_pymodbus()
    start = args.start if args.start is not None else default_start(args.days_ago)
    clock = AcceleratedClock(start, args.factor)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    servers = []
    print(f"{'device':<16} {'kind':<11} {'host:port':<17} {'unit':>4}  map", flush=True)
    for index in range(args.sites):
        port = args.port + index
        devices = build_site(index, args.seed, start)
        servers.append(await SimulatorServer(args.host, port, [Unit(d.unit_id, d.sim, clock) for d in devices])
                       .start())
        for d in devices:
            print(f"{d.device:<16} {d.kind:<11} {f'{args.host}:{port}':<17} {d.unit_id:>4}  {d.map_name}", flush=True)
    print(f"simulated time starts at {start:.0f} (epoch s) and runs {args.factor}x; Ctrl-C stops", flush=True)
    try:
        await stop.wait()
    finally:
        for server in servers:
            await server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m vpp_edge.simulators", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--factor", type=float, default=60.0, help="simulated seconds per real second")
    parser.add_argument("--port", type=int, default=15020, help="first TCP port (site n listens on port + n)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--days-ago", type=float, default=10, help="simulated time starts this many days ago")
    parser.add_argument("--start", type=float, default=None, help="simulated start, epoch seconds (overrides)")
    args = parser.parse_args(argv)
    if args.sites < 1 or args.factor <= 0:
        parser.error("--sites must be ≥ 1 and --factor > 0")
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
