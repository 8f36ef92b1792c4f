"""Signed intervals per second from the edge's MQTT outbox to committed on the embedded ledger, through the bridge.

Path measured (one process, one event loop, a private Mosquitto on loopback): signed readings put in the edge's
disk outbox (SQLite, synchronous=FULL) → OutboxPublisher (paho, QoS 1, window 1,000) → Mosquitto (persistence
on) → Bridge (MQTT 5 persistent session, manual acknowledgement, batches of 200) → LedgerSubmitter →
EmbeddedLedger ``SubmitReadings`` → committed → MQTT acknowledgement. The clock stops when the bridge has counted
every reading accepted by a committed block.

Beside it, in the same run, on a second ledger with the same meters: the embedded ledger's own ``SubmitReadings``
rate for the same number of pre-signed readings in batches of the same size, submitted one batch after another as
the bridge does (measured before and after the end-to-end run; the mean is the baseline).

Readings are signed up front (signing is the reader's cost, measured separately as signatures/s).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "edge-intervals"
INTERVAL = 900
BATCH = 200


def _admin():
    from fabric_ccaas.testing import TestCA

    return TestCA("Org1MSP", "org1.example.com").issue("operator", {"role": "admin", "hf.EnrollmentID": "operator"})


async def _ledger(path: Path, admin, meters):
    from vpp_contract.contract import chaincode
    from vpp_gateway.embedded import EmbeddedLedger
    from vpp_gateway.ledger_client import ConflictError, EmbeddedLedgerClient

    ledger = EmbeddedLedger.open(path, block_size=50, block_timeout=0.005)
    ledger.install("vpp", chaincode)
    client = EmbeddedLedgerClient(ledger, "vpp", owns_ledger=True)
    sites = max(1, len(meters) // 10)
    sem = asyncio.Semaphore(32)

    async def call(fn, *args):
        async with sem:
            while True:
                try:
                    return await client.submit(fn, list(args), admin)
                except ConflictError:
                    continue

    await asyncio.gather(*(call("RegisterSite", f"site-{s:04d}", f"Org1MSP:owner-{s:04d}", "NL") for s in range(sites)))
    await asyncio.gather(*(call("RegisterAsset", f"pv-{i:05d}", f"site-{i % sites:04d}", "generator", "10000", "{}")
                           for i in range(len(meters))))
    await asyncio.gather(*(call("RegisterMeter", m.meter_id, f"pv-{i:05d}", str(INTERVAL), m.public_pem)
                           for i, m in enumerate(meters)))
    ledger.block_size = 4
    ledger.block_timeout = 0.02
    return client


def _sign(meters, first: int, count: int, day0: int) -> tuple[list[dict], float]:
    from vpp_edge.intervals import Interval
    from vpp_edge.signing import sign_interval

    began = time.perf_counter()
    readings = [sign_interval(Interval(m.meter_id, "generation", day0 + k * INTERVAL, INTERVAL,
                                       {"generated_wh": 100 + (i * 7 + k) % 2000}), m, 1)
                for k in range(first, first + count) for i, m in enumerate(meters)]
    return readings, time.perf_counter() - began


async def _direct(client, admin, readings: list[dict]) -> dict:
    """The baseline: SubmitReadings batches of BATCH, one after another (as the bridge submits)."""
    accepted = 0
    began = time.perf_counter()
    for i in range(0, len(readings), BATCH):
        committed = await client.submit("SubmitReadings", [json.dumps(readings[i:i + BATCH])], admin)
        accepted += sum(r["status"] == "accepted" for r in json.loads(committed.result))
    elapsed = time.perf_counter() - began
    return {"accepted": accepted, "elapsed_s": elapsed, "per_s": accepted / elapsed}


async def _poll(predicate, step_s: float, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    for _ in itertools.count():
        if predicate():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"not done within {limit_s} s")
        await asyncio.sleep(step_s)


async def _end_to_end(client, admin, readings: list[dict], port: int) -> dict:
    from vpp_edge.bridge import Bridge, LedgerSubmitter
    from vpp_edge.mqtt.outbox import NewMessage, Outbox
    from vpp_edge.mqtt.publisher import BrokerSettings, OutboxPublisher
    from vpp_edge.signing import canonical

    broker = BrokerSettings(port=port, reconnect_min_s=0.1, reconnect_max_s=1)
    bridge = Bridge(LedgerSubmitter(client, admin), broker, WORK / "dead.db", client_id="bench-bridge",
                    batch_size=BATCH, batch_wait_s=0.05)
    await bridge.start()
    await asyncio.wait_for(bridge.subscribed.wait(), 10)
    outbox = Outbox(WORK / "outbox.db")
    publisher = OutboxPublisher(outbox, "bench-edge", broker, window=1000)
    bodies = [NewMessage(f"vpp/site/{r['payload']['meter']}/interval", canonical(r),
                         key=f"{r['payload']['meter']}/{r['payload']['start']}") for r in readings]
    cpu0 = time.process_time()
    began = time.perf_counter()
    outbox.put_many(bodies)
    publisher.start()
    await _poll(lambda: bridge.stats["accepted"] + bridge.stats["rejected"] + bridge.stats["duplicate"]
                >= len(readings), 0.005, 600)
    elapsed = time.perf_counter() - began
    cpu = time.process_time() - cpu0
    await _poll(lambda: len(outbox) == 0, 0.01, 60)  # every PUBACK settled
    publisher.stop()
    stats = dict(bridge.stats)
    await bridge.stop()
    outbox.close()
    return {"accepted": stats["accepted"], "rejected": stats["rejected"], "duplicate": stats["duplicate"],
            "batches": stats["batches"], "elapsed_s": elapsed, "cpu_s": cpu, "per_s": stats["accepted"] / elapsed,
            "publisher": publisher.stats}


async def _main(meters_n: int, intervals: int, port: int) -> dict:
    from cryptography.hazmat.primitives.asymmetric import ec
    from vpp_edge.keys import MeterKey

    day0 = int(time.time()) // 86_400 * 86_400 - 300 * 86_400
    meters = [MeterKey(f"m-{i:05d}", ec.generate_private_key(ec.SECP256R1())) for i in range(meters_n)]
    admin = _admin()
    base_a, sign_a = _sign(meters, 0, intervals, day0)
    e2e_set, sign_b = _sign(meters, intervals, intervals, day0)
    base_b, sign_c = _sign(meters, 2 * intervals, intervals, day0)
    signed = len(base_a) + len(e2e_set) + len(base_b)
    baseline_client = await _ledger(WORK / "baseline.db", admin, meters)
    e2e_client = await _ledger(WORK / "e2e.db", admin, meters)
    before = await _direct(baseline_client, admin, base_a)
    e2e = await _end_to_end(e2e_client, admin, e2e_set, port)
    after = await _direct(baseline_client, admin, base_b)
    await baseline_client.close()
    await e2e_client.close()
    return {"before": before, "e2e": e2e, "after": after, "signatures_per_s": signed / (sign_a + sign_b + sign_c)}


def run(args) -> dict:
    from vpp_edge.mqtt.mosquitto import Mosquitto

    from .run import metric

    quick = bool(getattr(args, "quick", False))
    meters_n = int(os.environ.get("BENCH_EDGE_METERS", "200" if quick else "500"))
    intervals = int(os.environ.get("BENCH_EDGE_INTERVALS", "10" if quick else "20"))
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    broker = Mosquitto(WORK / "mosquitto").start()
    try:
        result = asyncio.run(_main(meters_n, intervals, broker.port))
    finally:
        broker.stop()
    before, e2e, after = result["before"], result["e2e"], result["after"]
    baseline = (before["per_s"] + after["per_s"]) / 2
    print(f"end to end {e2e['per_s']:.0f} intervals/s; direct SubmitReadings {before['per_s']:.0f} / "
          f"{after['per_s']:.0f} per s", flush=True)
    shutil.rmtree(WORK, ignore_errors=True)
    n = meters_n * intervals
    return {
        "metrics": [
            metric("signed intervals per second, MQTT outbox → Mosquitto → bridge → committed on the embedded ledger",
                   round(e2e["per_s"], 1), "intervals/s",
                   f"embedded ledger's direct SubmitReadings, batches of {BATCH}, one at a time, same run",
                   round(baseline, 1), "higher"),
            metric("readings accepted end to end (of those published)", e2e["accepted"], "count", "published", n,
                   "higher", "ratio = 1"),
            metric("rejected or duplicate results end to end", e2e["rejected"] + e2e["duplicate"], "count", "target",
                   0, "lower", "0"),
            metric("meter signatures per second at the edge (signing cost, informational)",
                   round(result["signatures_per_s"], 1), "signatures/s", "none (informational)", None, "higher"),
        ],
        "conditions": {
            "load": f"{meters_n} generation meters (15-minute intervals), {n:,} pre-signed readings per run, "
                    f"bridge batches of {BATCH} (wait 50 ms), publisher window 1,000",
            "broker": "Mosquitto 2 on 127.0.0.1, persistence on, max_queued_messages 1,000,000, "
                      "max_inflight_messages 1,000",
            "ledger": "EmbeddedLedger (SQLite WAL, synchronous=FULL), blocks of up to 4 transactions or 20 ms; the "
                      "energy contract in-process; one Python process, one event loop (paho threads beside it)",
            "runs": f"direct before {before['per_s']:.0f}/s ({before['elapsed_s']:.2f} s), end to end "
                    f"{e2e['per_s']:.0f}/s ({e2e['elapsed_s']:.2f} s wall, {e2e['cpu_s']:.2f} s process CPU, "
                    f"{e2e['batches']} batches), direct after {after['per_s']:.0f}/s ({after['elapsed_s']:.2f} s)",
            "machine": f"{os.cpu_count()} shared cores",
        },
    }


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(parser.parse_args()), indent=2))
