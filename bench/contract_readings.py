"""Meter-signed readings committed per second through the native Fabric network (the energy token contract).

Generation meters are registered, then every interval's readings are signed up front and submitted in batches
(SubmitReadings) by concurrent clients through peer0.org1's Gateway; both orgs endorse every batch, so each
reading's signature is verified once per peer. Counted: readings the contract accepted in committed
transactions. Beside it, in the same run: ECDSA P-256 signature verifications per second on one core with
`cryptography` (the physical limit of one endorsing peer's chaincode, which must verify every reading).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from vpp_contract.tests.conftest import Meter
from vpp_gateway.fabric import CommitError, GatewayError

from tests.fabric.harness import CONTRACT_DIR, FabricNetwork, contract_chaincode_command
from tests.fabric.locate import FabricMissingError, locate

from .run import metric

HERE = Path(__file__).resolve().parent
INTERVAL = 900


def verifications_per_second(seconds: float = 3.0) -> float:
    key = ec.generate_private_key(ec.SECP256R1())
    message = b'{"interval":900,"key":1,"kind":"generation","meter":"m-00001","start":1790000000,"wh":1234}'
    signature = key.sign(message, ec.ECDSA(hashes.SHA256()))
    public = key.public_key()
    count, deadline = 0, time.process_time() + seconds
    start = time.process_time()
    while time.process_time() < deadline:
        for _ in range(100):
            public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        count += 100
    return count / (time.process_time() - start)


async def register(net: FabricNetwork, admin_msp: Path, meters: list[Meter], sites: int) -> None:
    async with net.gateway_as(admin_msp) as gateway:
        contract = gateway.get_network(net.channel).get_contract("vpp")
        semaphore = asyncio.Semaphore(32)

        async def submit(fn: str, *args: str) -> None:
            async with semaphore:
                await contract.submit(fn, list(args))

        await asyncio.gather(*(submit("RegisterSite", f"site-{s:04d}", f"Org1MSP:owner-{s:04d}", "NL")
                               for s in range(sites)))
        await asyncio.gather(*(submit("RegisterAsset", f"pv-{i:05d}", f"site-{i % sites:04d}", "generator", "10000",
                                      "{}") for i in range(len(meters))))
        await asyncio.gather(*(submit("RegisterMeter", m.meter_id, f"pv-{i:05d}", str(INTERVAL), m.public_pem)
                               for i, m in enumerate(meters)))


async def load(net: FabricNetwork, admin_msp: Path, batches: list[str], concurrency: int, seconds: float) -> dict:
    accepted = 0
    failures: list[str] = []
    mvcc = 0
    latencies: list[float] = []
    queue = list(reversed(batches))
    deadline = time.monotonic() + seconds
    async with net.gateway_as(admin_msp) as gateway:
        contract = gateway.get_network(net.channel).get_contract("vpp")

        async def worker() -> None:
            nonlocal accepted, mvcc
            while queue and time.monotonic() < deadline:
                batch = queue.pop()
                began = time.perf_counter()
                try:
                    results = json.loads(await contract.submit("SubmitReadings", [batch]))
                    latencies.append(time.perf_counter() - began)
                    accepted += sum(r["status"] == "accepted" for r in results)
                    bad = [r for r in results if r["status"] != "accepted"]
                    failures.extend(json.dumps(r)[:200] for r in bad[:3])
                except CommitError as exc:
                    mvcc += "MVCC" in exc.validation_code_name or "PHANTOM" in exc.validation_code_name
                    failures.append(f"{exc.validation_code_name}: {exc}"[:200])
                except GatewayError as exc:
                    failures.append(str(exc)[:200])

        began = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - began
    latencies.sort()
    return {"accepted": accepted, "per_s": accepted / elapsed, "failures": failures, "mvcc": mvcc,
            "batches": len(latencies), "elapsed_s": elapsed,
            "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else 0,
            "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0}


def start_profiles(net: FabricNetwork, servers: dict[str, int], out: Path, seconds: int) -> list:
    """BENCH_PROFILE_DIR: while the load runs, Go CPU profiles of both peers (pprof, PEER_PROFILE=true) and
    py-spy samples of both chaincode servers (when py-spy is installed), written to ``out``."""
    import subprocess
    import threading
    import urllib.request

    out.mkdir(parents=True, exist_ok=True)
    jobs: list = []
    for org, entry in net.info["orgs"].items():
        url = f"{entry['peer']['profile']}/debug/pprof/profile?seconds={seconds}"

        def fetch(url=url, target=out / f"peer0.{org}.pprof") -> None:
            with urllib.request.urlopen(url, timeout=seconds + 30) as answer:
                target.write_bytes(answer.read())

        thread = threading.Thread(target=fetch, daemon=True)
        thread.start()
        jobs.append(thread)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if Path(spy).exists():
        for org, pid in servers.items():
            jobs.append(subprocess.Popen([spy, "record", "--nonblocking", "-r", "100", "-d", str(seconds), "-f", "raw",
                                          "-o", str(out / f"chaincode-{org}.txt"), "-p", str(pid), "--subprocesses"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return jobs


def run(args) -> dict:
    try:
        fabric = locate()
    except FabricMissingError as exc:
        raise SystemExit(f"this benchmark needs Fabric binaries (2.5, or 3.x): {exc}") from exc
    meters_n = int(os.environ.get("BENCH_METERS", "1000"))
    batch_size = int(os.environ.get("BENCH_BATCH", "500"))
    concurrency = int(os.environ.get("BENCH_CONCURRENCY", "4"))
    seconds = 10 if args.quick else 45
    batch_timeout, max_message_count = "250ms", 10
    sites = max(1, meters_n // 10)
    work = HERE / "work" / "contract-network"
    shutil.rmtree(work, ignore_errors=True)
    net = FabricNetwork(work, int(os.environ.get("VPP_BENCH_FABRIC_PORT_BASE", "37050")))
    net.env["ORDERER_COUNT"] = "1"  # the topology these figures were first measured on: one Raft orderer
    profile_dir = os.environ.get("BENCH_PROFILE_DIR")
    if profile_dir:
        net.env["PEER_PROFILE"] = "true"
    print(f"one core verifies {verifications_per_second():.0f} P-256 signatures/s", flush=True)
    try:
        net.up(batch_timeout=batch_timeout, max_message_count=max_message_count)
        net.deploy("vpp", contract_chaincode_command(), workdir=CONTRACT_DIR / "vpp_contract", per_org=True)
        net.wait_until_endorsable("vpp")
        admin_msp = net.issue_identity("org1", "operator", {"role": "admin"})
        meters = [Meter(f"m-{i:05d}", ec.generate_private_key(ec.SECP256R1())) for i in range(meters_n)]
        began = time.monotonic()
        asyncio.run(register(net, admin_msp, meters, sites))
        print(f"registered {sites} sites, {meters_n} generators and meters in {time.monotonic() - began:.1f} s",
              flush=True)
        intervals = int(seconds * 10_000 / meters_n) + 2  # enough readings for five times the target rate
        # the first interval far enough back that the last one is still in the past
        day = int(time.time()) // 86_400 * 86_400 - (intervals * INTERVAL // 86_400 + 2) * 86_400
        began = time.monotonic()
        readings = [m.sign("generation", day + k * INTERVAL, wh=100 + (i * 7 + k) % 2000)
                    for k in range(intervals) for i, m in enumerate(meters)]
        batches = [json.dumps(readings[i:i + batch_size]) for i in range(0, len(readings), batch_size)]
        print(f"signed {len(readings)} readings in {time.monotonic() - began:.1f} s; "
              f"{len(batches)} batches of {batch_size}", flush=True)
        from .chaincode_runtime import cpu_seconds

        servers = net.chaincode_pids("vpp")
        processes = {"orderer": net.pid_of("orderer"), "peer0.org1": net.pid_of("peer0.org1"),
                     "peer0.org2": net.pid_of("peer0.org2"), "chaincode org1": servers["org1"],
                     "chaincode org2": servers["org2"], "client": os.getpid()}
        cpu_before = {name: cpu_seconds(pid) for name, pid in processes.items()}
        shim_before = net.shim_requests()
        window = max(int(seconds) - 10, int(seconds) // 2)  # seconds profiled, inside the load
        profiles = start_profiles(net, servers, Path(profile_dir), window) if profile_dir else []
        result = asyncio.run(load(net, admin_msp, batches, concurrency, seconds))
        for job in profiles:
            job.join() if hasattr(job, "join") else job.wait()
        cpu_used = {name: round(cpu_seconds(pid) - cpu_before[name], 1) for name, pid in processes.items()}
        print(f"CPU seconds during the load ({result['elapsed_s']:.0f} s): {cpu_used}", flush=True)
        shim = {k: v - shim_before.get(k, 0) for k, v in net.shim_requests().items() if v - shim_before.get(k, 0)}
        round_trips = sum(shim.values())
        # CPU of peers and chaincode servers together, per committed reading
        endorsing_cpu = sum(v for k, v in cpu_used.items() if k.startswith(("peer", "chaincode")))
        print(f"chaincode ↔ peer round trips during the load (both peers): {shim}", flush=True)
        verify_rate = verifications_per_second()
        print(f"{result['per_s']:.0f} readings/s committed, {result['batches']} batches, "
              f"p50 {result['p50_ms']:.0f} ms, "
              f"p99 {result['p99_ms']:.0f} ms, failures {len(result['failures'])}, MVCC conflicts {result['mvcc']}",
              flush=True)
    except BaseException:
        # keep the nodes' logs of a failed run for diagnosis (the network's work folder goes with down)
        shutil.copytree(work / "logs", HERE / "work" / "failed-run-logs", dirs_exist_ok=True)
        raise
    finally:
        net.down()
    release = ".".join(fabric.version.split(".")[:2])
    return {
        # the Fabric 2.5 figures stay in contract-readings.json; another release files its own
        **({} if release == "2.5" else {"result_name": f"contract-readings-fabric-{release}"}),
        "metrics": [
            metric("signed readings committed per second through Fabric", round(result["per_s"], 1), "readings/s",
                   "ECDSA P-256 verifications/s on one core (cryptography), same run", round(verify_rate, 1),
                   "higher", "≥ 2000 readings/s, zero failures, no MVCC conflicts"),
            metric("failed batches or rejected readings", len(result["failures"]), "count", "target", 0, "lower",
                   "0"),
            metric("MVCC or phantom conflicts", result["mvcc"], "count", "target", 0, "lower", "0"),
            metric("chaincode ↔ peer round trips per committed reading (both endorsing peers)",
                   round(round_trips / max(result["accepted"], 1), 2), "round trips", "none (informational)", None,
                   "lower"),
            metric("CPU of peers and chaincode servers per committed reading", round(
                endorsing_cpu * 1e6 / max(result["accepted"], 1)), "µs", "none (informational)", None, "lower"),
            metric("batch latency p50 (endorse, order, commit)", round(result["p50_ms"], 1), "ms",
                   "none (informational)", None, "lower"),
            metric("batch latency p99", round(result["p99_ms"], 1), "ms", "none (informational)", None, "lower"),
        ],
        "conditions": {
            "network": f"native Fabric {fabric.version}: 1 Raft orderer, peer0.org1 + peer0.org2, TLS, LevelDB; "
                       "both orgs endorse every batch; one fabric-ccaas server per org",
            "orderer batch": f"BatchTimeout {batch_timeout}, MaxMessageCount {max_message_count}, "
                             "PreferredMaxBytes 512 KB",
            "load": f"{meters_n} generation meters on {sites} sites, batches of {batch_size} readings, "
                    f"{concurrency} concurrent clients, {seconds} s",
            "machine": f"{os.cpu_count()} cores; orderer, peers, chaincode server and client all on it",
            "failure samples": "; ".join(result["failures"][:5]) or "none",
            "chaincode writes": ("batched: WRITE_BATCH_STATE messages (Fabric 3.1 useWriteBatch)"
                                 if "WRITE_BATCH_STATE" in shim else "one PUT_STATE round trip per write"),
            "chaincode requests during the load (both peers)": ", ".join(f"{k} {v:,}" for k, v in sorted(shim.items())),
            "cpu seconds during the load": ", ".join(f"{k} {v}" for k, v in cpu_used.items())
                                           + f" (over {result['elapsed_s']:.0f} s)",
        },
    }
