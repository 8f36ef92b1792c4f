"""Meter-signed readings ingested per second by the embedded ledger (``vpp_gateway.embedded``), at two sizes.

The energy contract runs in-process on an :class:`EmbeddedLedger` (SQLite, Fabric's endorse → order → validate
→ commit). Generation meters are registered, readings are signed up front and submitted as ``SubmitReadings``
batches of 500 by concurrent submitters, for a fixed time. Counted: readings the contract accepted in committed
blocks. Beside it, in the same run: ECDSA P-256 verifications per second on one core with `cryptography` (every
reading's signature must be verified once, so that is the physical limit of one core).

Growth: the same timed ingestion on a copy of the ledger into which millions of synthetic readings were
bulk-inserted (reading records, lots, supply rows and their history, in the exact byte format a real
``SubmitReadings`` wrote, checked against rows read back from the file). Synthetic rows carry version
(0, n) and no block of their own: the large file is a load fixture and would not pass the audit.

Each timed run is a fresh subprocess, so its VmHWM (peak resident memory) is per size.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "embedded-readings"
INTERVAL = 900
BATCH = 500
SYN_BASE = 0            # synthetic intervals k = 0 .. K-1
WARM_BASE = 20_000      # warm-up intervals (real submits, in the base ledger)
TIMED_BASE = 20_010     # timed intervals (pre-signed)


def _day0() -> int:
    return int(time.time()) // 86_400 * 86_400 - 400 * 86_400


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])  # kB
    return 0


def _identity():
    from fabric_ccaas.testing import TestCA

    return TestCA("Org1MSP", "org1.example.com").issue("operator", {"role": "admin", "hf.EnrollmentID": "operator"})


def _meter_info(i: int, sites: int) -> tuple[str, str, str, str]:
    return f"m-{i:05d}", f"pv-{i:05d}", f"site-{i % sites:04d}", f"Org1MSP:owner-{i % sites:04d}"


# -- phase: setup (register, warm-up, pre-sign) ------------------------------------------------------------------

async def _submit_retry(ledger, creator, fn, args):
    from vpp_gateway.embedded import CommitError

    while True:
        try:
            return await ledger.submit("vpp", fn, args, creator)
        except CommitError:
            continue


def _batches(meters, k_from: int, k_to: int, day0: int) -> list[str]:
    out = []
    for k in range(k_from, k_to):
        readings = [m.sign("generation", day0 + k * INTERVAL, wh=100 + (i * 7 + k) % 2000)
                    for i, m in enumerate(meters)]
        out += [json.dumps(readings[j:j + BATCH]) for j in range(0, len(readings), BATCH)]
    return out


async def _load(ledger, creator, batches: list[str], concurrency: int, seconds: float | None) -> dict:
    accepted, rejected, conflicts, done = 0, 0, 0, 0
    queue = list(reversed(batches))
    deadline = time.monotonic() + seconds if seconds else float("inf")
    from vpp_gateway.embedded import CommitError

    async def worker():
        nonlocal accepted, rejected, conflicts, done
        while queue and time.monotonic() < deadline:
            batch = queue.pop()
            try:
                committed = await ledger.submit("vpp", "SubmitReadings", [batch], creator)
            except CommitError:
                conflicts += 1
                continue
            results = json.loads(committed.result)
            ok = sum(r["status"] == "accepted" for r in results)
            accepted += ok
            rejected += len(results) - ok
            done += 1

    began, cpu0 = time.monotonic(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"accepted": accepted, "rejected": rejected, "conflicts": conflicts, "batches": done,
            "elapsed_s": time.monotonic() - began, "cpu_s": time.process_time() - cpu0}


def phase_setup(meters_n: int, timed_intervals: int) -> dict:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from vpp_contract.contract import chaincode
    from vpp_contract.tests.conftest import Meter
    from vpp_gateway.embedded import EmbeddedLedger

    sites = max(1, meters_n // 10)
    day0 = _day0()
    meters = [Meter(f"m-{i:05d}", ec.generate_private_key(ec.SECP256R1())) for i in range(meters_n)]
    creator = _identity().creator
    ledger = EmbeddedLedger.open(WORK / "base.db", block_size=50, block_timeout=0.005)
    ledger.install("vpp", chaincode)

    async def main():
        sem = asyncio.Semaphore(32)

        async def one(fn, *args):
            async with sem:
                await _submit_retry(ledger, creator, fn, list(args))

        await asyncio.gather(*(one("RegisterSite", f"site-{s:04d}", f"Org1MSP:owner-{s:04d}", "NL")
                               for s in range(sites)))
        await asyncio.gather(*(one("RegisterAsset", f"pv-{i:05d}", f"site-{i % sites:04d}", "generator", "10000", "{}")
                               for i in range(meters_n)))
        await asyncio.gather(*(one("RegisterMeter", m.meter_id, f"pv-{i:05d}", str(INTERVAL), m.public_pem)
                               for i, m in enumerate(meters)))
        ledger.block_size = 4
        return await _load(ledger, creator, _batches(meters, WARM_BASE, WARM_BASE + 10, day0), 4, None)

    began = time.monotonic()
    warm = asyncio.run(main())
    ledger.close()
    setup_s = time.monotonic() - began
    began = time.monotonic()
    timed = _batches(meters, TIMED_BASE, TIMED_BASE + timed_intervals, day0)
    sign_s = time.monotonic() - began
    (WORK / "batches.json").write_text(json.dumps(timed))
    keys = [m.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode() for m in meters]
    (WORK / "meters.json").write_text(json.dumps({"day0": day0, "sites": sites, "keys": keys}))
    return {"setup_s": setup_s, "warm_accepted": warm["accepted"], "warm_rejected": warm["rejected"],
            "signed": len(timed) * BATCH, "sign_s": sign_s}


# -- phase: bulk load of synthetic readings ----------------------------------------------------------------------

def _templates():
    from vpp_contract.ledger import key

    def payload(m, s, wh):
        return f'{{"interval":900,"key":1,"kind":"generation","meter":"{m}","start":{s},"wh":{wh}}}'

    def reading(m, a, site, s, wh, tx):
        p = payload(m, s, wh).replace('"', '\\"')
        return (f'{{"asset":"{a}","docType":"reading","effects":{{"minted_tgen":{wh}}},"interval":900,'
                f'"kind":"generation","meter":"{m}","payload":"{p}","site":"{site}","start":{s},"tx_id":"{tx}",'
                f'"values":{{"wh":{wh}}}}}').encode()

    def lot(lot_id, owner, wh, a, s):
        return (f'{{"amount":{wh},"lot_id":"{lot_id}","origin_asset":"{a}","origin_start":{s},"owner":"{owner}",'
                f'"shares":[],"token":"Tgen"}}').encode()

    def lot_key(owner, s, lot_id):
        return f"\x00lot\x00{owner}\x00Tgen\x00{s:011d}\x00{lot_id}\x00".encode()

    def supply(minted):
        return f'{{"burned":0,"minted":{minted}}}'.encode()

    def supply_key(tx):
        return f"\x00supply\x00Tgen\x00{tx}\x00".encode()

    assert lot_key("o", 5, "x.00001").decode() == key("lot", "o", "Tgen", 5, "x.00001")
    assert supply_key("t").decode() == key("supply", "Tgen", "t")
    return reading, lot, lot_key, supply, supply_key


def _check_templates(db: sqlite3.Connection, t) -> dict:
    """Regenerate real rows written by SubmitReadings from their fields; the bytes must be identical."""
    reading, lot, lot_key, supply, _ = t
    checked = {}
    row = db.execute("SELECT namespace, key, value FROM state WHERE key >= CAST('R/' AS BLOB) AND "
                     "key < CAST('R0' AS BLOB) LIMIT 1").fetchone()
    ns, _, v = row
    d = json.loads(v)
    assert reading(d["meter"], d["asset"], d["site"], d["start"], d["values"]["wh"], d["tx_id"]) == v, v
    checked["reading"] = v.decode()
    row = db.execute("SELECT key, value FROM state WHERE key >= CAST(x'006c6f7400' AS BLOB) AND "
                     "key < CAST(x'006c6f7401' AS BLOB) LIMIT 1").fetchone()
    d = json.loads(row[1])
    assert lot(d["lot_id"], d["owner"], d["amount"], d["origin_asset"], d["origin_start"]) == row[1], row[1]
    assert lot_key(d["owner"], d["origin_start"], d["lot_id"]) == row[0], row[0]
    checked["lot"] = row[1].decode()
    row = db.execute("SELECT key, value FROM state WHERE key >= CAST(x'00737570706c7900' AS BLOB) AND "
                     "key < CAST(x'00737570706c7901' AS BLOB) LIMIT 1").fetchone()
    d = json.loads(row[1])
    assert supply(d["minted"]) == row[1], row[1]
    checked["supply"] = row[1].decode()
    return {"namespace": ns, "rows": checked}


def phase_load(db_path: str, target: int, max_seconds: float) -> dict:
    meta = json.loads((WORK / "meters.json").read_text())
    day0, sites, meters_n = meta["day0"], meta["sites"], len(meta["keys"])
    db = sqlite3.connect(db_path, isolation_level=None)
    t = _templates()
    fmt = _check_templates(db, t)
    ns = fmt["namespace"]
    reading, lot, lot_key, supply, supply_key = t
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA locking_mode=EXCLUSIVE")
    db.execute("PRAGMA cache_size=-4000000")  # 4 GB page cache
    db.execute("PRAGMA temp_store=MEMORY")
    info = [_meter_info(i, sites) for i in range(meters_n)]
    sha = hashlib.sha256
    loaded, txn = 0, 0
    began = time.monotonic()
    intervals_per_commit = max(1, 200_000 // meters_n)
    first = SYN_BASE
    max_k = SYN_BASE + target // meters_n
    while first < max_k and time.monotonic() - began < max_seconds:
        state, hist, txs = [], [], []
        chunk = range(first, min(first + intervals_per_commit, max_k))
        for k in chunk:
            s = day0 + k * INTERVAL
            for h in range(0, meters_n, BATCH):
                txn += 1
                tx = hashlib.sha256(f"synthetic-{k}-{h}".encode()).hexdigest()
                secs = s + INTERVAL + 60
                minted = 0
                for seq, i in enumerate(range(h, min(h + BATCH, meters_n)), 1):
                    m, a, site, owner = info[i]
                    wh = 100 + (i * 7 + k) % 2000
                    minted += wh
                    rk = f"R/{s:011d}/{m}".encode()
                    rv = reading(m, a, site, s, wh, tx)
                    lot_id = f"{tx[:16]}.{seq:05d}"
                    lk = lot_key(owner, s, lot_id)
                    lv = lot(lot_id, owner, wh, a, s)
                    state.append((ns, "", rk, rv, sha(rv).digest(), 0, txn, None))
                    state.append((ns, "", lk, lv, sha(lv).digest(), 0, txn, None))
                    hist.append((ns, rk, 0, txn, tx, 0, rv, secs, 0))
                    hist.append((ns, lk, 0, txn, tx, 0, lv, secs, 0))
                sv = supply(minted)
                sk = supply_key(tx)
                state.append((ns, "", sk, sv, sha(sv).digest(), 0, txn, None))
                hist.append((ns, sk, 0, txn, tx, 0, sv, secs, 0))
                txs.append((tx, 0, txn, 0))
        first = chunk.stop
        db.execute("BEGIN")
        db.executemany("INSERT INTO state VALUES (?, ?, ?, ?, ?, ?, ?, ?)", state)
        db.executemany("INSERT INTO history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", hist)
        db.executemany("INSERT INTO transactions VALUES (?, ?, ?, ?)", txs)
        db.execute("COMMIT")
        loaded += len(chunk) * meters_n
        print(f"  loaded {loaded:,} synthetic readings in {time.monotonic() - began:.0f} s", flush=True)
    db.execute("PRAGMA journal_mode=WAL")
    db.close()
    return {"loaded": loaded, "load_s": time.monotonic() - began, "synthetic_txs": txn, "format_checked": fmt["rows"]}


# -- phase: timed ingestion ---------------------------------------------------------------------------------------

def phase_ingest(db_path: str, seconds: float, concurrency: int, block_size: int, profile: str | None) -> dict:
    from vpp_contract.contract import chaincode
    from vpp_gateway.embedded import EmbeddedLedger

    batches = json.loads((WORK / "batches.json").read_text())
    creator = _identity().creator
    ledger = EmbeddedLedger.open(db_path, block_size=block_size, block_timeout=0.02)
    ledger.install("vpp", chaincode)
    # where the time goes: verification in this process, in the verification workers, block validation and commit
    spent = {"verify_s": 0.0, "commit_s": 0.0, "plan_s": 0.0}
    from vpp_contract import signatures
    verify_target = signatures.verify_one

    def timed_verify(*a, **kw):
        t0 = time.perf_counter()
        try:
            return verify_target(*a, **kw)
        finally:
            spent["verify_s"] += time.perf_counter() - t0

    signatures.verify_one = timed_verify  # the in-process path (small batches, or VPP_VERIFY_WORKERS=0)
    patched = ["vpp_contract.signatures"]
    commit_target = ledger.store.commit_block

    def timed_commit(*a, **kw):
        t0 = time.perf_counter()
        try:
            return commit_target(*a, **kw)
        finally:
            spent["commit_s"] += time.perf_counter() - t0

    ledger.store.commit_block = timed_commit
    from vpp_gateway.embedded import ledger as ledger_module
    plan_target = ledger_module.plan_block

    def timed_plan(*a, **kw):
        t0 = time.perf_counter()
        try:
            return plan_target(*a, **kw)
        finally:
            spent["plan_s"] += time.perf_counter() - t0

    ledger_module.plan_block = timed_plan
    warm = asyncio.run(_load(ledger, creator, batches[:4], concurrency, None))
    for key in spent:
        spent[key] = 0.0
    hwm_before = _status("VmHWM")
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    result = asyncio.run(_load(ledger, creator, batches[4:], concurrency, seconds))
    if profile:
        profiler.disable()
        profiler.dump_stats(profile)
    height = ledger.height
    ledger.close()
    worker_cpu = _workers_cpu_s(signatures)
    return {**result, **spent, "verify_workers": signatures.configured_workers(), "workers_cpu_s": worker_cpu,
            "patched_verify_in": patched, "warm_accepted": warm["accepted"],
            "per_s": result["accepted"] / result["elapsed_s"], "height": height,
            "vm_hwm_kb": _status("VmHWM"), "vm_hwm_before_timed_kb": hwm_before,
            "db_bytes": sum(p.stat().st_size for p in Path(db_path).parent.glob(Path(db_path).name + "*"))}


def _workers_cpu_s(signatures) -> float:
    """CPU seconds the verification worker processes have used (read before they exit)."""
    pool = signatures._pool
    total = 0
    for pid in list(getattr(pool, "_processes", None) or {}):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime, clock ticks
    return total / os.sysconf("SC_CLK_TCK")


# -- driver ---------------------------------------------------------------------------------------------------------

def _sub(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.embedded_readings", *args], check=True, stdout=subprocess.PIPE,
                         text=True, cwd=HERE.parent)
    lines = out.stdout.strip().splitlines()
    for line in lines[:-1]:
        print(line, flush=True)
    return json.loads(lines[-1])


def run(args) -> dict:
    from .contract_readings import verifications_per_second
    from .run import metric

    meters_n = int(os.environ.get("BENCH_METERS", "1000"))
    concurrency = int(os.environ.get("BENCH_CONCURRENCY", "4"))
    block_size = int(os.environ.get("BENCH_BLOCK", "4"))
    seconds = float(os.environ.get("BENCH_SECONDS", "6" if args.quick else "20"))
    target = int(os.environ.get("BENCH_LARGE_READINGS", "200000" if args.quick else "10000000"))
    load_cap = float(os.environ.get("BENCH_LOAD_SECONDS", "480"))
    timed_intervals = int(os.environ.get("BENCH_TIMED_INTERVALS", "60" if args.quick else "240"))
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    print(f"one core verifies {verifications_per_second():.0f} P-256 signatures/s", flush=True)
    setup = _sub("setup", str(meters_n), str(timed_intervals))
    print(f"setup: {setup}", flush=True)
    shutil.copy(WORK / "base.db", WORK / "small.db")
    shutil.copy(WORK / "base.db", WORK / "large.db")
    v1 = verifications_per_second()
    small = _sub("ingest", str(WORK / "small.db"), str(seconds), str(concurrency), str(block_size))
    v2 = verifications_per_second()
    print(f"small: {small['per_s']:.0f} readings/s; verify {v1:.0f} / {v2:.0f} per s", flush=True)
    load = _sub("load", str(WORK / "large.db"), str(target), str(load_cap))
    print(f"load: {load['loaded']:,} readings in {load['load_s']:.0f} s", flush=True)
    v3 = verifications_per_second()
    large = _sub("ingest", str(WORK / "large.db"), str(seconds), str(concurrency), str(block_size))
    v4 = verifications_per_second()
    print(f"large: {large['per_s']:.0f} readings/s; verify {v3:.0f} / {v4:.0f} per s", flush=True)
    verify_small = (v1 + v2) / 2
    verify_large = (v3 + v4) / 2
    small_n = setup["warm_accepted"] + 4 * BATCH  # real readings in before the timed run
    large_n = small_n + load["loaded"]
    for f in ("small.db", "large.db", "base.db"):  # keep bench/work small: the files are fixtures
        for p in WORK.glob(f + "*"):
            p.unlink()
    (WORK / "batches.json").unlink()
    target_note = "" if load["loaded"] >= 10_000_000 else f" (only {load['loaded']:,} loaded, not 10M)"

    def cpu(r):
        return (f"process CPU {r['cpu_s']:.1f} s over {r['elapsed_s']:.1f} s wall; of which signature verification "
                f"{r['verify_s']:.1f} s, block validation {r['plan_s']:.1f} s, SQLite commit {r['commit_s']:.1f} s")

    return {
        "metrics": [
            metric("signed readings ingested per second, embedded ledger (~10k readings in)", round(small["per_s"], 1),
                   "readings/s", "ECDSA P-256 verifications/s on one core (cryptography), same run",
                   round(verify_small, 1), "higher", "ratio ≥ 0.5"),
            metric(f"signed readings ingested per second with {large_n:,} readings in{target_note}",
                   round(large["per_s"], 1), "readings/s", f"same, with {small_n:,} readings in, same run",
                   round(small["per_s"], 1), "higher", "ratio ≥ 0.8 (at 10M readings)"),
            metric("large-ledger ingestion vs one core's verification rate", round(large["per_s"], 1), "readings/s",
                   "ECDSA P-256 verifications/s on one core, measured around the large run", round(verify_large, 1),
                   "higher", "ratio ≥ 0.5"),
            metric(f"peak memory (VmHWM) of the ingesting process, {small_n:,} readings in",
                   round(small["vm_hwm_kb"] / 1024, 1), "MiB", "none (informational)", None, "lower"),
            metric(f"peak memory (VmHWM) of the ingesting process, {large_n:,} readings in",
                   round(large["vm_hwm_kb"] / 1024, 1), "MiB", f"same, {small_n:,} readings in",
                   round(small["vm_hwm_kb"] / 1024, 1), "lower"),
            metric(f"database file size, {large_n:,} readings in", round(large["db_bytes"] / 2**20, 1), "MiB",
                   f"same, {small_n:,} readings in", round(small["db_bytes"] / 2**20, 1), "lower"),
            metric("rejected readings or conflicting batches (both runs)",
                   small["rejected"] + large["rejected"] + small["conflicts"] + large["conflicts"], "count",
                   "target", 0, "lower", "0"),
        ],
        "conditions": {
            "ledger": f"EmbeddedLedger (SQLite WAL, synchronous=FULL), blocks of up to {block_size} transactions "
                      "or 20 ms; energy contract in-process; one Python process, one event loop",
            "load": f"{meters_n} generation meters on {setup and max(1, meters_n // 10)} sites, pre-signed batches "
                    f"of {BATCH} readings (one interval, 500 meters), {concurrency} concurrent submitters, "
                    f"{seconds:.0f} s timed after 4 untimed batches",
            "small ledger": f"{small_n:,} real readings (10 intervals via SubmitReadings + 4 warm-up batches); "
                            f"{small['accepted']:,} accepted in {small['batches']} batches, height {small['height']}",
            "large ledger": f"the same plus {load['loaded']:,} synthetic readings bulk-inserted in "
                            f"{load['load_s']:.0f} s (state + history + tx index, byte format checked against rows "
                            f"a real SubmitReadings wrote; synthetic rows have version (0, n) and no block, so the "
                            f"file is a load fixture, not auditable); {large['accepted']:,} accepted in "
                            f"{large['batches']} batches",
            "verification rate samples": f"{v1:.0f}, {v2:.0f} around the small run; {v3:.0f}, {v4:.0f} around the "
                                         "large run (process CPU time, one core)",
            "cpu split, small": cpu(small),
            "cpu split, large": cpu(large),
            "peak memory before the timed part": f"small {small['vm_hwm_before_timed_kb'] // 1024} MiB, large "
                                                 f"{large['vm_hwm_before_timed_kb'] // 1024} MiB (includes "
                                                 f"{setup['signed']:,} pre-signed readings held in memory)",
            "machine": f"{os.cpu_count()} shared cores; benchmark subprocesses run one at a time",
        },
    }


def main() -> None:
    phase, *rest = sys.argv[1:]
    if phase == "setup":
        out = phase_setup(int(rest[0]), int(rest[1]))
    elif phase == "load":
        out = phase_load(rest[0], int(rest[1]), float(rest[2]))
    elif phase == "ingest":
        out = phase_ingest(rest[0], float(rest[1]), int(rest[2]), int(rest[3]), rest[4] if len(rest) > 4 else None)
    else:
        raise SystemExit(f"unknown phase {phase}")
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
