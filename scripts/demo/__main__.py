"""``python scripts/demo [options]`` (``make demo``): the whole system on this machine until Ctrl-C."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
from pathlib import Path

# run as a folder (python scripts/demo): make the package importable as ``demo``, as the child processes do
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from demo.attach import main as attach_main
from demo.fabric import missing_prerequisites, recorded_backend
from demo.processes import StartError
from demo.stack import Demo, Options, reset


def parse(argv: list[str] | None) -> tuple[Options, bool]:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--data", type=Path, default=Path(".work/demo"), help="data folder (default .work/demo)")
    parser.add_argument("--sites", type=int, default=3, help="simulated sites, each PV + battery + load (default 3)")
    parser.add_argument("--factor", type=float, default=60.0, help="time acceleration until simulated time catches "
                        "up with real time (default 60)")
    parser.add_argument("--days-back", type=float, default=2.0, help="simulated time starts at midnight UTC this "
                        "many days ago (first start only; default 2)")
    parser.add_argument("--port", type=int, default=8080, help="the gateway's HTTP port (default 8080)")
    parser.add_argument("--mqtt-port", type=int, default=0, help="Mosquitto's port (default: a free one)")
    parser.add_argument("--sim-port", type=int, default=0, help="first Modbus simulator port (default: free ones)")
    parser.add_argument("--sample-period", type=int, default=60, help="simulated seconds between meter polls")
    parser.add_argument("--max-gap-intervals", type=int, default=2, help="samples further apart than this many "
                        "intervals leave a recorded gap (default 2; at factors in the thousands a busy machine can "
                        "pause a reader for that long)")
    parser.add_argument("--progress-every", type=float, default=60.0, help="seconds between progress lines")
    parser.add_argument("--drain-timeout", type=float, default=60.0, help="seconds to let the bridge drain at stop")
    parser.add_argument("--reset", action="store_true", help="delete the data folder first (a new ledger)")
    parser.add_argument("--backend", choices=("embedded", "fabric"), default="", help="the ledger: the embedded one, "
                        "or the native Fabric network in <data>/fabric (needs the Fabric 2.5 binaries); default: the "
                        "one this data folder was made with, else embedded")
    parser.add_argument("--fabric-port-base", type=int, default=0, help="Fabric: first of the network's 40 ports "
                        "(first start only; default: a free block from 27300)")
    parser.add_argument("--orderers", type=int, default=3, choices=(1, 2, 3), help="Fabric: Raft orderers "
                        "(first start only; default 3)")
    args = parser.parse_args(argv)
    if args.sites < 1 or args.factor < 1 or args.days_back < 0 or args.sample_period < 1 \
            or not 1 <= args.max_gap_intervals <= 96:
        parser.error("--sites ≥ 1, --factor ≥ 1, --days-back ≥ 0, --sample-period ≥ 1, --max-gap-intervals 1-96")
    return Options(data=args.data, sites=args.sites, factor=args.factor, days_back=args.days_back, port=args.port,
                   mqtt_port=args.mqtt_port, sim_port=args.sim_port, sample_period_s=args.sample_period,
                   max_gap_intervals=args.max_gap_intervals,
                   progress_every_s=args.progress_every, drain_timeout_s=args.drain_timeout,
                   backend=args.backend, fabric_port_base=args.fabric_port_base, orderers=args.orderers), args.reset


def choose_backend(options: Options, wants_reset: bool) -> tuple[Options, str | None]:
    """--backend, else the backend this data folder was made with, else embedded. The error text (exit 2) when the
    folder was made with the other backend or Fabric is not installed."""
    recorded = None if wants_reset else recorded_backend(options.data.resolve())
    backend = options.backend or recorded or "embedded"
    if recorded and backend != recorded:
        return options, (f"{options.data} holds a demo on the {recorded} backend: run it with --backend {recorded}, "
                         "or start a new one with --reset")
    if backend == "fabric" and (missing := missing_prerequisites()):
        return options, missing
    return dataclasses.replace(options, backend=backend), None


def main(argv: list[str] | None = None) -> int:
    if (sys.argv[1:] if argv is None else argv)[:1] == ["attach"]:  # the installer's command (docs/DEMO.md)
        return attach_main((sys.argv[1:] if argv is None else argv)[1:])
    options, wants_reset = parse(argv)
    options, problem = choose_backend(options, wants_reset)
    if problem:
        print(f"error: {problem}", file=sys.stderr, flush=True)
        return 2
    demo = Demo(options)
    # Ctrl-C / SIGTERM: stop in order. Children run in their own sessions, so the signal reaches the demo only.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: demo.stop_requested.set())
    status = 0
    try:
        if wants_reset:
            reset(options.data)
        demo.start()
        if demo.stop_requested.is_set():
            return 0
        demo.welcome()
        status = demo.run()
    except StartError as exc:
        print(f"\nerror: {exc}", file=sys.stderr, flush=True)
        status = 1
    finally:
        demo.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
