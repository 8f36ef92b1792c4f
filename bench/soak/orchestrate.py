"""One soak or ramp run: sign, start the broker, the ledger side and the publisher (three processes beside this
one), feed the schedule, print progress, drain, collect the nothing-lost checks, and return the whole report."""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import time
from dataclasses import dataclass, field
from pathlib import Path

from .latency import Latencies
from .load import LoadPlan, dump, public_keys, sign_all
from .schedule import Schedule

CLOCK_TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class SoakConfig:
    schedule: Schedule
    workdir: Path
    backend: str = "embedded"                 # embedded | fabric
    meters: int = 20_000
    ramp: bool = False                        # stop at the first step the path does not sustain
    batch_size: int = 200                     # the bridge's defaults (meter-edge config)
    batch_wait_s: float = 1.0
    progress_every_s: float = 30.0
    p99_bound_s: float = 10.0                 # ramp: a step whose p99 exceeds this is not sustained
    backlog_bound_s: float = 3.0              # ramp: nor one that ends more than this many seconds of input behind
    drain_limit_s: float = 600.0
    register_concurrency: int = 32
    sign_workers: int = 2
    fabric: dict = field(default_factory=dict)  # fabric_work, fabric_port_base, fabric_admin_msp
    extra_pids: dict = field(default_factory=dict)  # name -> pid whose CPU time is reported (Fabric nodes)
    log: object = field(default=lambda line: print(line, flush=True))


def _stat(pid: int) -> tuple[int, float]:
    """(parent pid, CPU seconds) of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and every live descendant (the contract's signature-verifying workers, say)."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = _stat(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    tree, grew = {pid}, True
    while grew:
        more = {p for p, (parent, _) in stats.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(stats[p][1] for p in tree if p in stats)


class _Reports:
    def __init__(self, source, ledger_process, publisher_process) -> None:
        self.source = source
        self.processes = {"ledger side": ledger_process, "publisher": publisher_process}

    def get(self, timeout: float):
        try:
            kind, body = self.source.get(timeout=timeout)
        except queue.Empty:
            for name, process in self.processes.items():
                if process is not None and process.exitcode not in (None, 0):
                    raise RuntimeError(f"the {name} process exited with {process.exitcode}") from None
            return None, None
        if kind == "crashed":
            raise RuntimeError(f"the ledger side crashed: {body['error']}")
        return kind, body

    def wait_for(self, wanted: str, timeout: float, handle=None) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            kind, body = self.get(0.5)
            if kind == wanted:
                return body
            if kind is not None and handle is not None:
                handle(kind, body)
        raise TimeoutError(f"no {wanted!r} report within {timeout} s")


def run_soak(config: SoakConfig) -> dict:
    from vpp_edge.mqtt.mosquitto import Mosquitto

    from .ledger_side import ledger_main
    from .publisher import publisher_main

    log, schedule, work = config.log, config.schedule, Path(config.workdir)
    work.mkdir(parents=True, exist_ok=True)
    began_wall = time.time()
    plan = LoadPlan.new(config.meters, schedule.total)
    signing = sign_all(plan, work / "readings", config.sign_workers)
    (work / "keys.json").write_text(json.dumps(public_keys(plan)))
    log(f"signed {signing['readings']:,} readings for {plan.meters:,} meters in {signing['seconds']} s "
        f"({signing['per_s']:,}/s over {config.sign_workers} processes)")
    context = multiprocessing.get_context("spawn")
    reports, ledger_commands, publisher_commands = context.Queue(), context.Queue(), context.Queue()
    broker = Mosquitto(work / "mosquitto").start()
    ledger_process = publisher_process = None
    try:
        settings = {"plan": dump(plan), "backend": config.backend, "workdir": str(work),
                    "keys": str(work / "keys.json"), "port": broker.port, "batch_size": config.batch_size,
                    "batch_wait_s": config.batch_wait_s,
                    "register_concurrency": config.register_concurrency, **config.fabric}
        ledger_process = context.Process(target=ledger_main, args=(settings, ledger_commands, reports),
                                         name="soak-ledger-side")
        ledger_process.start()
        inbox = _Reports(reports, ledger_process, None)
        ready = inbox.wait_for("ready", 3600)
        log(f"registered {plan.sites:,} sites, {plan.meters:,} generators and meters in {ready['register_s']} s")
        publisher_process = context.Process(target=publisher_main, name="soak-publisher", args=(
            dump(plan), schedule.steps, str(work / "readings"), str(work), broker.port, publisher_commands, reports))
        publisher_process.start()
        inbox.processes["publisher"] = publisher_process
        inbox.wait_for("ready", 60)
        pids = {"ledger side": ledger_process.pid, "publisher": publisher_process.pid,
                "mosquitto": broker.process.pid, **config.extra_pids}
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        t0 = time.monotonic() + 1.0
        publisher_commands.put(("go", t0))
        result = _drive(config, inbox, schedule, t0, publisher_commands)
        cpu = {name: round(max(0.0, cpu_seconds(pid) - cpu_before[name]), 1) for name, pid in pids.items()}
        ledger_commands.put(("drain", result["published"]["put"], config.drain_limit_s))
        log(f"published {result['published']['put']:,}; draining, then checking the ledger")
        done = inbox.wait_for("done", config.drain_limit_s + 3600, handle=result["handle"])
        ledger_process.join(120)
        publisher_process.join(30)
    finally:
        for process in (publisher_process, ledger_process):
            if process is not None and process.is_alive():
                process.terminate()
                process.join(10)
        broker.stop()
    latencies: Latencies = result.pop("latencies")
    result.pop("handle")
    committed = latencies.count
    in_window = latencies.committed_between(t0, t0 + schedule.seconds)
    report = {
        "backend": config.backend, "mode": "ramp" if config.ramp else "soak",
        "schedule": [list(s) for s in schedule.steps], "meters": plan.meters, "sites": plan.sites,
        "intervals_per_meter_signed": plan.intervals, "signing": signing, "register_s": ready["register_s"],
        "bridge_batch": {"size": config.batch_size, "wait_s": config.batch_wait_s},
        **{k: v for k, v in result.items()},
        "committed": committed, "committed_in_window": in_window, "duplicates": result["counts"]["duplicate"],
        "rejected": result["counts"]["rejected"],
        "dead_letters": done["dead_letter_count"], "dead_letter_samples": done["dead_letters"],
        "failures": result["failure_count"], "bridge": done["bridge"],
        "latency": latencies.overall(), "per_minute": latencies.per_minute(),
        "checks": done["checks"], "cpu_seconds": cpu, "wall_s": round(time.time() - began_wall, 1),
    }
    report["nothing_lost"] = bool(done["checks"]["ok"] and done["checks"]["final_status"]["ok"]
                                  and committed == result["published"]["put"] and report["dead_letters"] == 0)
    return report


def _drive(config: SoakConfig, inbox: _Reports, schedule: Schedule, t0: float, publisher_commands) -> dict:
    """Consume reports while the schedule runs; progress every ``progress_every_s``; ramp verdicts per step."""
    log = config.log
    latencies = Latencies(schedule, t0)
    counts = {"duplicate": 0, "rejected": 0}
    failures: list[dict] = []
    state: dict = {"published": {"put": 0, "max_lag_s": 0.0}, "bridge": {"backlog": 0}, "final": None}
    steps: list[dict] = []
    knee: dict | None = None
    last = {"at": t0, "committed": 0, "index": 0}
    load_samples: list[list] = []   # [seconds, 1-minute load average, committed/s, backlog] at each progress line

    def handle(kind: str, body: dict) -> None:
        if kind == "batch":
            latencies.add(body["at"], body["accepted"])
            counts["duplicate"] += len(body["duplicate"])
            counts["rejected"] += len(body["rejected"])
        elif kind == "failure":
            failures.append(body)
        elif kind == "published":
            state["published"] = body
        elif kind == "published_final":
            state["final"] = body
        elif kind == "bridge":
            state["bridge"] = body

    def progress(now: float) -> None:
        elapsed = now - t0
        due = schedule.count_by(elapsed)
        committed = latencies.count
        window = latencies.since(last["index"])
        rate = (committed - last["committed"]) / max(1e-9, now - last["at"])
        offered = schedule.steps[schedule.step_of(max(0, min(due, schedule.total) - 1))][0]
        log(f"[{elapsed:6.0f} s] offered {offered:,}/s, put {state['published']['put']:,}, committed {committed:,} "
            f"({rate:,.0f}/s over the last {now - last['at']:.0f} s), backlog {max(0, due - committed):,} "
            f"(in the bridge {state['bridge']['backlog']:,}), p99 so far {latencies.overall()['p99_ms']} ms, "
            f"this window {window['p99_ms']} ms, failures {len(failures)}, "
            f"publisher lag ≤ {state['published']['max_lag_s']} s, machine load {os.getloadavg()[0]:.1f}")
        load_samples.append([round(elapsed), round(os.getloadavg()[0], 1), round(rate), max(0, due - committed)])
        last.update(at=now, committed=committed, index=due)

    def judge(now: float) -> dict | None:
        """The verdict on the step that just ended; in a ramp, a step not sustained is the knee."""
        number = len(steps)
        rate, seconds = schedule.steps[number]
        start_at = step_ends[number] - seconds
        step = latencies.step(number, now)
        step_failures = sum(start_at <= f["at"] < step_ends[number] for f in failures)
        backlog = max(0, schedule.count_by(now - t0) - latencies.count)
        reasons = []
        if step_failures:
            reasons.append(f"{step_failures} failed submits")
        if step["p99_ms"] is not None and step["p99_ms"] > config.p99_bound_s * 1000:
            reasons.append(f"p99 {step['p99_ms']:,} ms > {config.p99_bound_s * 1000:,.0f} ms")
        if backlog > rate * config.backlog_bound_s + config.batch_size:
            reasons.append(f"backlog {backlog:,} > {config.backlog_bound_s:g} s of input")
        steps.append({"step": number, "offered_per_s": rate, "seconds": seconds, **step,
                      "committed_per_s": round(latencies.committed_between(start_at, step_ends[number]) / seconds),
                      "failures": step_failures, "backlog_at_end": backlog, "sustained": not reasons,
                      "why_not": "; ".join(reasons)})
        if not config.ramp:
            return None
        verdict = "sustained" if not reasons else "NOT sustained: " + "; ".join(reasons)
        log(f"ramp step {number}: offered {rate:,}/s, committed {steps[-1]['committed_per_s']:,}/s, "
            f"p99 {step['p99_ms']} ms, backlog {backlog:,} — {verdict}")
        if not reasons:
            return None
        publisher_commands.put(("stop",))
        return {"sustained_per_s": schedule.steps[number - 1][0] if number else 0,
                "first_not_sustained_per_s": rate, "why": "; ".join(reasons)}

    step_ends, t = [], t0
    for _, seconds in schedule.steps:
        t += seconds
        step_ends.append(t)
    while state["final"] is None:
        kind, body = inbox.get(0.2)
        if kind is not None:
            handle(kind, body)
        now = time.monotonic()
        if now - last["at"] >= config.progress_every_s:
            progress(now)
        if knee is None and len(steps) < len(step_ends) and now >= step_ends[len(steps)]:
            knee = judge(now)
    while knee is None and len(steps) < len(step_ends) and time.monotonic() >= step_ends[len(steps)]:
        knee = judge(time.monotonic())   # the last step ended as the publisher finished
    if config.ramp and knee is None:
        knee = {"sustained_per_s": schedule.steps[-1][0], "first_not_sustained_per_s": None,
                "why": "every step sustained: raise VPP_SOAK_RAMP_MAX"}
    return {"published": state["final"], "latencies": latencies, "counts": counts, "handle": handle,
            "failure_samples": failures[:20], "failure_count": len(failures), "steps": steps,
            "progress": load_samples,
            "knee": knee if config.ramp else None}

