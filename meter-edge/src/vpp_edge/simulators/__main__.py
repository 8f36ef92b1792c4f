"""``python -m vpp_edge.simulators --sites 3 --seed 1 --factor 60 --port 15020``

Serves each site (a PV inverter, a battery, a load meter) as one Modbus TCP gateway on 127.0.0.1, site n on
port + n, unit ids 1 (PV, SunSpec 1+103), 2 (battery, SunSpec 1+701+802), 3 (load, Eastron SDM630); simulated time
starts ``--days-ago`` days in the past and runs ``--factor`` times faster. Prints the device table, then serves until
interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from vpp_edge.clock import AcceleratedClock
from vpp_edge.simulators.serve import serve_sites


def default_start(days_ago: float) -> float:
    # midnight UTC, so a run starts at night and a clear morning follows
    return (int(time.time()) // 86_400 - days_ago) * 86_400


async def serve(args) -> None:
    start = args.start if args.start is not None else default_start(args.days_ago)
    print(f"{'device':<16} {'kind':<11} {'host:port':<17} {'unit':>4}  map", flush=True)

    def table(index: int, port: int, devices: list) -> None:
        for d in devices:
            print(f"{d.device:<16} {d.kind:<11} {f'{args.host}:{port}':<17} {d.unit_id:>4}  {d.map_name}", flush=True)
        if index == args.sites - 1:
            print(f"simulated time starts at {start:.0f} (epoch s) and runs {args.factor}x; Ctrl-C stops", flush=True)

    await serve_sites(args.host, args.port, args.sites, args.seed, start, AcceleratedClock(start, args.factor), table)


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
