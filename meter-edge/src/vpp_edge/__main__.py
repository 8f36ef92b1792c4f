"""``python -m vpp_edge provision|reader|bridge``.

* ``provision --keys DIR METER [METER ...]``: generate each meter's P-256 key (0600) and print its public key PEM,
  to register on the ledger (``RegisterMeter``). The private key is never printed.
* ``reader --config edge.yaml``: the site's edge reader until SIGTERM/SIGINT.
* ``bridge --config bridge.yaml``: MQTT → REST gateway (API key from the environment variable the file names).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from .errors import EdgeError


def _provision(args: argparse.Namespace) -> int:
    from .keys import provision

    for meter_id in args.meters:
        made = provision(args.keys, meter_id)
        print(f"# meter {meter_id}: private key {made.private_path} (mode 0600); register this public key:")
        print(made.public_pem, end="")
    return 0


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def _reader(args: argparse.Namespace) -> int:
    from .config import load_edge_config
    from .reader import run_reader

    config = load_edge_config(args.config)
    stop = asyncio.Event()
    _stop_on_signals(stop)
    await run_reader(config, stop)
    return 0


async def _bridge(args: argparse.Namespace) -> int:
    from .bridge import Bridge, RestSubmitter
    from .config import load_bridge_config

    config = load_bridge_config(args.config)
    submitter = RestSubmitter(config.base_url, config.api_key)
    bridge = Bridge(submitter, config.broker, config.dead_letter_path, client_id=config.client_id,
                    batch_size=config.batch_size, batch_wait_s=config.batch_wait_s)
    stop = asyncio.Event()
    _stop_on_signals(stop)
    logging.getLogger(__name__).info("bridge %s -> %s, batches of %d", config.client_id, submitter.url,
                                     config.batch_size)
    await bridge.start()
    try:
        await stop.wait()
    finally:
        await bridge.stop()
        submitter.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vpp_edge", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log-level", default="INFO")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("provision", help="generate meter keys and print their public keys")
    p.add_argument("--keys", required=True, help="key folder (created 0700)")
    p.add_argument("meters", nargs="+")
    r = sub.add_parser("reader", help="run the edge reader of a site")
    r.add_argument("--config", required=True)
    b = sub.add_parser("bridge", help="run the MQTT → gateway bridge")
    b.add_argument("--config", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "provision":
            return _provision(args)
        runner = _reader if args.command == "reader" else _bridge
        with contextlib.suppress(KeyboardInterrupt):
            return asyncio.run(runner(args))
        return 0
    except EdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
