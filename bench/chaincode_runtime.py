"""fabric-ccaas against the official Node runtime (fabric-contract-api 2.5.8), side by side on one native network.

Both serve the same contract (CreateRecord: read, write, event; ReadRecord: read) as chaincode-as-a-service on
the same channel. Rounds alternate the order of the runtimes. In each round and for each runtime:
submit at concurrency 8, submit at concurrency 32, evaluate at concurrency 32, all through peer0.org1's
Gateway service with the project's Python Gateway client. Every submit is endorsed by both peers, which call
the same chaincode server, so chaincode CPU per transaction is the CPU of the chaincode process (from
/proc/<pid>/stat, all threads) divided by the chaincode invocations it served.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from vpp_gateway.fabric import GatewayError

from tests.fabric.harness import FabricNetwork, python_chaincode_command
from tests.fabric.locate import FabricMissingError, locate

from .run import metric

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE / "node-records"
NODE_START = ("exec node_modules/.bin/fabric-chaincode-node server "
              "--chaincode-address $CHAINCODE_SERVER_ADDRESS --chaincode-id $CHAINCODE_ID")
RUNTIMES = {"fabric-ccaas": "records-py", "node fabric-contract-api": "records-node"}
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK  # utime + stime, every thread


def memory_kib(pid: int) -> dict[str, int]:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {key: int(status[key].split()[0]) for key in ("VmRSS", "VmHWM")}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else 0.0


async def load(contract, kind: str, concurrency: int, seconds: float, prefix: str, keys: list[str]) -> dict:
    latencies: list[float] = []
    failures: list[str] = []
    deadline = time.monotonic() + seconds

    async def worker(n: int) -> None:
        i = 0
        while time.monotonic() < deadline:
            start = time.perf_counter()
            try:
                if kind == "submit":
                    await contract.submit("CreateRecord", [f"{prefix}-{n}-{i}", str(i)])
                else:
                    await contract.evaluate("ReadRecord", [keys[(n * 7919 + i) % len(keys)]])
                latencies.append(time.perf_counter() - start)
            except GatewayError as exc:
                failures.append(str(exc)[:200])
            i += 1

    began = time.monotonic()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    elapsed = time.monotonic() - began
    return {"ops": len(latencies), "failures": failures, "per_s": len(latencies) / elapsed,
            "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000}


async def measure(net: FabricNetwork, chaincode: str, phase: str, seconds: float, round_no: int,
                  keys: list[str]) -> dict:
    kind, concurrency = phase.split("-c")
    pid = net.pid_of(f"cc-{chaincode}")
    async with net.gateway("org1") as gateway:
        contract = gateway.get_network(net.channel).get_contract(chaincode)
        cpu_before = cpu_seconds(pid)
        result = await load(contract, kind, int(concurrency), seconds, f"r{round_no}-{phase}", keys)
        cpu = cpu_seconds(pid) - cpu_before
    invocations = result["ops"] * (2 if kind == "submit" else 1)  # a submit is endorsed by both peers
    result["cpu_ms_per_invocation"] = cpu * 1000 / invocations if invocations else 0.0
    return result


async def warm_up(net: FabricNetwork, chaincode: str) -> list[str]:
    async with net.gateway("org1") as gateway:
        contract = gateway.get_network(net.channel).get_contract(chaincode)
        keys = [f"warm-{i}" for i in range(256)]
        semaphore = asyncio.Semaphore(32)

        async def create(key: str) -> None:
            async with semaphore:
                await contract.submit("CreateRecord", [key, "1"])

        await asyncio.gather(*(create(k) for k in keys))
        await load(contract, "evaluate", 32, 3, "warm", keys)
        return keys


def versions() -> dict[str, str]:
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return {"python": sys.version.split()[0], "node": node}


def run(args) -> dict:
    try:
        fabric = locate()
    except FabricMissingError as exc:
        raise SystemExit(f"this benchmark needs Fabric 2.5 binaries: {exc}") from exc
    if not (NODE_DIR / "node_modules").is_dir():
        raise SystemExit("bench/node-records/node_modules is missing: run make setup")
    submit_s, evaluate_s, rounds = (4, 3, 1) if args.quick else (20, 10, 3)
    batch_timeout, max_message_count = "250ms", 10
    work = HERE / "work" / "network"
    shutil.rmtree(work, ignore_errors=True)
    net = FabricNetwork(work, int(os.environ.get("VPP_BENCH_FABRIC_PORT_BASE", "37050")),
                        log=lambda m: print(m, flush=True))
    net.env["ORDERER_COUNT"] = "1"  # the topology these figures were first measured on: one Raft orderer
    phases = ["submit-c8", "submit-c32", "evaluate-c32"]
    samples: dict[str, dict[str, list[dict]]] = {name: {p: [] for p in phases} for name in RUNTIMES}
    try:
        print("network up (1 Raft orderer, 2 peer orgs, TLS)", flush=True)
        net.up(batch_timeout=batch_timeout, max_message_count=max_message_count)
        net.deploy("records-py", python_chaincode_command("records"))
        net.deploy("records-node", NODE_START, workdir=NODE_DIR)
        for chaincode in RUNTIMES.values():
            net.wait_until_endorsable(chaincode)
        keys = {cc: asyncio.run(warm_up(net, cc)) for cc in RUNTIMES.values()}
        for round_no in range(rounds):
            order = list(RUNTIMES.items())
            if round_no % 2:
                order.reverse()
            for name, chaincode in order:
                for phase in phases:
                    seconds = evaluate_s if phase.startswith("evaluate") else submit_s
                    result = asyncio.run(measure(net, chaincode, phase, seconds, round_no, keys[chaincode]))
                    samples[name][phase].append(result)
                    print(f"round {round_no + 1}/{rounds} {name:26s} {phase:13s} {result['per_s']:8.1f}/s "
                          f"p50 {result['p50_ms']:6.1f} ms p99 {result['p99_ms']:6.1f} ms "
                          f"cpu {result['cpu_ms_per_invocation']:.3f} ms/invocation "
                          f"failures {len(result['failures'])}", flush=True)
        memory = {name: memory_kib(net.pid_of(f"cc-{cc}")) for name, cc in RUNTIMES.items()}
    finally:
        net.down()

    def med(name: str, phase: str, field: str) -> float:
        return round(statistics.median(s[field] for s in samples[name][phase]), 3)

    ours, base = "fabric-ccaas", "node fabric-contract-api"
    failures = {name: sum(len(s["failures"]) for p in phases for s in samples[name][p]) for name in RUNTIMES}
    metrics = [
        metric("chaincode CPU per submitted transaction (per endorsement), concurrency 32",
               med(ours, "submit-c32", "cpu_ms_per_invocation"), "ms", base,
               med(base, "submit-c32", "cpu_ms_per_invocation"), "lower", "ratio ≤ 1"),
        metric("evaluate queries/s, concurrency 32", med(ours, "evaluate-c32", "per_s"), "queries/s", base,
               med(base, "evaluate-c32", "per_s"), "higher", "ratio ≥ 1.1"),
        metric("chaincode process peak memory (VmHWM)", round(memory[ours]["VmHWM"] / 1024, 1), "MiB", base,
               round(memory[base]["VmHWM"] / 1024, 1), "lower", "ratio < 1"),
        metric("failures (all phases, all rounds)", failures[ours], "count", base, failures[base], "lower",
               "0 for both"),
        metric("chaincode CPU per evaluate", med(ours, "evaluate-c32", "cpu_ms_per_invocation"), "ms", base,
               med(base, "evaluate-c32", "cpu_ms_per_invocation"), "lower"),
        metric("chaincode CPU per submitted transaction (per endorsement), concurrency 8",
               med(ours, "submit-c8", "cpu_ms_per_invocation"), "ms", base,
               med(base, "submit-c8", "cpu_ms_per_invocation"), "lower"),
        metric("chaincode process memory at the end (VmRSS)", round(memory[ours]["VmRSS"] / 1024, 1), "MiB", base,
               round(memory[base]["VmRSS"] / 1024, 1), "lower"),
    ]
    for phase in ("submit-c8", "submit-c32"):
        c = phase.split("-c")[1]
        metrics += [
            metric(f"submits/s, concurrency {c}", med(ours, phase, "per_s"), "tx/s", base,
                   med(base, phase, "per_s"), "higher", "set by the orderer's block cutting"),
            metric(f"submit latency p50, concurrency {c}", med(ours, phase, "p50_ms"), "ms", base,
                   med(base, phase, "p50_ms"), "lower"),
            metric(f"submit latency p99, concurrency {c}", med(ours, phase, "p99_ms"), "ms", base,
                   med(base, phase, "p99_ms"), "lower"),
        ]
    metrics += [metric("evaluate latency p50, concurrency 32", med(ours, "evaluate-c32", "p50_ms"), "ms", base,
                       med(base, "evaluate-c32", "p50_ms"), "lower"),
                metric("evaluate latency p99, concurrency 32", med(ours, "evaluate-c32", "p99_ms"), "ms", base,
                       med(base, "evaluate-c32", "p99_ms"), "lower")]
    return {
        "metrics": metrics,
        "conditions": {
            "network": f"native Fabric {fabric.version}: 1 Raft orderer, peer0.org1 + peer0.org2, TLS, LevelDB; "
                       "endorsement policy: both orgs",
            "orderer batch": f"BatchTimeout {batch_timeout}, MaxMessageCount {max_message_count}",
            "rounds": f"{rounds} alternating rounds; submit phases {submit_s} s, evaluate phase {evaluate_s} s; "
                      "medians over rounds",
            "client": "vpp_gateway.fabric (Python, grpc.aio) in the benchmark process, via peer0.org1's Gateway",
            "machine": f"{os.cpu_count()} cores; everything (orderer, peers, chaincode servers, client) on it",
            "versions": ", ".join(f"{k} {v}" for k, v in versions().items()) + ", fabric-contract-api 2.5.8",
            "raw": {name: {p: [{k: v for k, v in s.items() if k != "failures"} for s in samples[name][p]]
                           for p in phases} for name in RUNTIMES},
            "failure samples": {name: [f for p in phases for s in samples[name][p] for f in s["failures"]][:5]
                                for name in RUNTIMES},
        },
    }
