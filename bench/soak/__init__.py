"""``make bench NAME=soak``: load held on the embedded ledger or native Fabric — a soak at a fixed rate, or a ramp
to the knee — from MQTT through the real bridge, with latency from due to committed and the nothing-lost checks.

Options (environment):

=========================  ===========================================================================
VPP_SOAK_BACKEND           ``embedded`` (default) or ``fabric`` (native network from the binaries on PATH)
VPP_SOAK_RAMP              ``1``: step the rate up until a step is not sustained; report the knee
VPP_SOAK_MINUTES           soak length (default 30; ``--quick``: 1)
VPP_SOAK_RATE              soak rate, readings/s (default 1111 = one million meters at 15 minutes)
VPP_SOAK_METERS            generation meters (default 20,000 embedded, 5,000 Fabric)
VPP_SOAK_BATCH             bridge batch size (default 200 embedded — the bridge's default — 1000 Fabric)
VPP_SOAK_BATCH_WAIT_S      bridge batch wait (default 1.0, the bridge's default)
VPP_SOAK_RAMP_START/STEP   ramp rates (default 500/500 embedded, 250/250 Fabric)
VPP_SOAK_RAMP_MAX          highest ramp rate (default 5000 embedded, 2000 Fabric)
VPP_SOAK_RAMP_STEP_S       seconds per ramp step (default 60)
VPP_SOAK_P99_BOUND_S       ramp: a step with p99 above this is not sustained (default 10)
VPP_SOAK_PROGRESS_S        seconds between progress lines (default 30)
VPP_SOAK_FABRIC_PORT_BASE  Fabric port base (default 29050)
=========================  ===========================================================================

Each run writes its full report (per-minute latencies, ramp steps, checks) to
``bench/results/soak/<backend>-<soak|ramp>.json``; ``bench/results/soak.json`` (what ``make bench`` summarises)
holds the headline figures of every variant run so far, so the Fabric figures sit beside the embedded ones.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from .orchestrate import SoakConfig, run_soak
from .schedule import Schedule

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
VARIANTS = BENCH / "results" / "soak"
ORDER = ("embedded-soak", "fabric-soak", "embedded-ramp", "fabric-ramp")


def _env(name: str, default):
    raw = os.environ.get(name)
    return default if raw in (None, "") else type(default)(raw)


def options(quick: bool) -> dict:
    backend = _env("VPP_SOAK_BACKEND", "embedded")
    if backend not in ("embedded", "fabric"):
        raise SystemExit(f"VPP_SOAK_BACKEND must be embedded or fabric, not {backend!r}")
    fabric = backend == "fabric"
    ramp = _env("VPP_SOAK_RAMP", "0") not in ("0", "false", "no")
    if ramp:
        schedule = Schedule.ramp(_env("VPP_SOAK_RAMP_START", 250 if fabric else 500),
                                 _env("VPP_SOAK_RAMP_STEP", 250 if fabric else 500),
                                 _env("VPP_SOAK_RAMP_MAX", 2000 if fabric else 5000),
                                 _env("VPP_SOAK_RAMP_STEP_S", 20.0 if quick else 60.0))
    else:
        schedule = Schedule.constant(_env("VPP_SOAK_RATE", 1111), 60 * _env("VPP_SOAK_MINUTES", 1.0 if quick else 30.0))
    return {"backend": backend, "ramp": ramp, "schedule": schedule,
            "meters": _env("VPP_SOAK_METERS", 5000 if fabric else 20_000),
            "batch_size": _env("VPP_SOAK_BATCH", 1000 if fabric else 200),
            "batch_wait_s": _env("VPP_SOAK_BATCH_WAIT_S", 1.0),
            "p99_bound_s": _env("VPP_SOAK_P99_BOUND_S", 10.0), "progress_every_s": _env("VPP_SOAK_PROGRESS_S", 30.0)}


def command_of(opts: dict, quick: bool) -> str:
    names = [n for n in os.environ if n.startswith("VPP_SOAK_")]
    env = " ".join(f"{n}={os.environ[n]}" for n in sorted(names))
    return f"{env + ' ' if env else ''}make bench NAME=soak" + (" (--quick)" if quick else "")


def _fabric_run(opts: dict, work: Path) -> dict:
    from tests.fabric.harness import CONTRACT_DIR, FabricNetwork, contract_chaincode_command
    from tests.fabric.locate import FabricMissingError, locate

    try:
        fabric = locate()
    except FabricMissingError as exc:
        raise SystemExit(f"VPP_SOAK_BACKEND=fabric needs Fabric 2.5 binaries: {exc}") from exc
    net = FabricNetwork(work / "network", _env("VPP_SOAK_FABRIC_PORT_BASE", 29050))
    net.env["ORDERER_COUNT"] = "1"   # the topology of bench/contract_readings.py, so the figures compare
    try:
        net.up(batch_timeout="250ms", max_message_count=10)
        net.deploy("vpp", contract_chaincode_command(), workdir=CONTRACT_DIR / "vpp_contract", per_org=True)
        net.wait_until_endorsable("vpp")
        msp = net.issue_identity("org1", "soak-operator", {"role": "admin"})
        servers = net.chaincode_pids("vpp")
        pids = {"orderer": net.pid_of("orderer"), "peer0.org1": net.pid_of("peer0.org1"),
                "peer0.org2": net.pid_of("peer0.org2"), "chaincode org1": servers["org1"],
                "chaincode org2": servers["org2"]}
        config = SoakConfig(workdir=work / "run", fabric={"fabric_work": str(work / "network"),
                                                           "fabric_port_base": net.port_base,
                                                           "fabric_admin_msp": str(msp)},
                            extra_pids=pids, **_config_args(opts))
        report = run_soak(config)
        report["network"] = (f"native Fabric {fabric.version}: 1 Raft orderer (BatchTimeout 250ms, MaxMessageCount "
                             "10), peer0.org1 + peer0.org2 (LevelDB, TLS), both orgs endorse, one fabric-ccaas "
                             "server per org; the bridge submits through peer0.org1's Gateway")
        return report
    except BaseException:
        shutil.copytree(work / "network" / "logs", BENCH / "work" / "soak-failed-fabric-logs", dirs_exist_ok=True)
        raise
    finally:
        net.down()


def _config_args(opts: dict) -> dict:
    return {k: opts[k] for k in ("schedule", "backend", "meters", "ramp", "batch_size", "batch_wait_s",
                                 "p99_bound_s", "progress_every_s")}


def run(args) -> dict:
    from ..run import metric

    quick = bool(getattr(args, "quick", False))
    opts = options(quick)
    work = BENCH / "work" / "soak"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    if opts["backend"] == "fabric":
        report = _fabric_run(opts, work)
    else:
        report = run_soak(SoakConfig(workdir=work / "run", **_config_args(opts)))
    report["command"] = command_of(opts, quick)
    report["when"] = datetime.now(UTC).isoformat(timespec="seconds")
    report["machine"] = (f"{os.cpu_count()} cores shared with other jobs (load average at the end: "
                         f"{', '.join(f'{x:.1f}' for x in os.getloadavg())})")
    variant = f"{report['backend']}-{report['mode']}"
    VARIANTS.mkdir(parents=True, exist_ok=True)
    (VARIANTS / f"{variant}.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote bench/results/soak/{variant}.json", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return combined(metric)


def _failed_checks(report: dict) -> int:
    checks = report["checks"]
    return (checks["meter_day_mismatches"] + (not checks["ok"]) + (not checks["final_status"]["ok"])
            + (report["committed"] != report["published"]["put"]) + report["dead_letters"])


def combined(metric) -> dict:
    """Every variant's headline figures, embedded and Fabric side by side."""
    metrics, conditions = [], {}
    for variant in ORDER:
        path = VARIANTS / f"{variant}.json"
        if not path.exists():
            continue
        r = json.loads(path.read_text())
        label = variant.replace("-", " ")
        lat = r["latency"]
        conditions[variant] = (f"`{r['command']}` at {r['when']}: {r['meters']:,} meters, bridge batches of "
                               f"{r['bridge_batch']['size']} (wait {r['bridge_batch']['wait_s']} s), "
                               f"{r['published']['put']:,} readings published, {r['committed']:,} committed; "
                               f"CPU s {r['cpu_seconds']}; {r['machine']}; "
                               f"details in bench/results/soak/{variant}.json")
        if r["mode"] == "soak":
            rate, seconds = r["schedule"][0]
            metrics.append(metric(
                f"{label}: readings committed per second while {rate}/s were offered ({seconds / 60:g} min)",
                round(r["committed_in_window"] / seconds, 1), "readings/s", "offered rate (same run)", rate, "higher",
                "ratio ≥ 0.99"))
        else:
            knee = r["knee"]
            metrics.append(metric(f"{label}: highest offered rate sustained (knee)", knee["sustained_per_s"],
                                  "readings/s", "one million meters at 15 minutes (target)", 1111, "higher",
                                  f"next step {knee['first_not_sustained_per_s']}/s: {knee['why']}"))
        if r["mode"] == "ramp":   # the latency that matters is the knee's: the steps beyond it grow without bound
            sustained = [row for row in r["steps"] if row["sustained"]]
            lat = sustained[-1] if sustained else lat
            where = f"at the knee ({lat.get('offered_per_s', '?')}/s step)"
        else:
            where = "overall"
        for p in ("p50", "p95", "p99"):
            metrics.append(metric(f"{label}: latency due → committed {p}, {where}", lat[f"{p}_ms"], "ms",
                                  "none (informational)", None, "lower", "p99 ≤ 10,000 ms" if p == "p99" else ""))
        if r["mode"] == "soak":
            minutes = sorted(m["p99_ms"] for m in r["per_minute"] if m["p99_ms"] is not None)
            metrics.append(metric(f"{label}: median of the per-minute p99 ({len(minutes)} minutes)",
                                  minutes[len(minutes) // 2], "ms", "worst minute's p99 (same run)", minutes[-1],
                                  "lower", "see per_minute in the JSON file"))
        metrics.append(metric(f"{label}: failed submits, rejected readings, dead letters",
                              r["failures"] + r["rejected"] + r["dead_letters"], "count", "target", 0, "lower", "0"))
        metrics.append(metric(f"{label}: nothing-lost checks failed", _failed_checks(r), "count", "target", 0,
                              "lower", "0"))
    if not metrics:
        raise SystemExit("no soak result yet")
    return {"metrics": metrics, "conditions": conditions}
