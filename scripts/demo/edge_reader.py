"""The demo's edge reader: ``python -m demo.edge_reader --config edge.yaml --state demo.json``.

``vpp_edge.reader`` unchanged, on the demo's catch-up clock instead of the configuration's accelerated one (which
would run into the ledger's future): the configuration file stays a valid ``python -m vpp_edge reader`` file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from pathlib import Path

from vpp_edge.config import load_edge_config
from vpp_edge.errors import EdgeError
from vpp_edge.reader import Reader, build_drivers

from demo.simclock import CatchUpClock, DemoState

log = logging.getLogger("demo.edge_reader")


async def run(config_path: Path, state_path: Path) -> None:
    config = load_edge_config(config_path)
    state = DemoState.load(state_path)
    if state is None:
        raise EdgeError(f"{state_path} does not exist", code="CONFIG_FILE")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reader = Reader(config, await build_drivers(config), clock=CatchUpClock(state.sim))
    reader.start()
    if (wait_s := state.sim.anchor - time.time()) > 0:  # simulated time starts then: poll from its first second
        log.info("simulated time starts in %.1f s", wait_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait_s)
    elif wait_s < -1:
        log.warning("started %.1f s after simulated time did (%.0f simulated s): expect a gap", -wait_s,
                    -wait_s * state.sim.factor)
    log.info("edge reader for site %s: %d meters, broker %s:%s, sample period %s s, simulated time %.0f",
             config.site, len(reader.meters), config.broker.host, config.broker.port, config.sample_period_s,
             reader.clock.now())
    started = time.monotonic()
    try:
        await reader.run(stop)
    finally:
        await reader.stop()
        log.info("edge reader stopped after %.0f s: %s", time.monotonic() - started, reader.counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.edge_reader", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--state", required=True, type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run(args.config, args.state))
    except EdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
