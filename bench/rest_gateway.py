"""The REST gateway under load, on the embedded ledger: ``make bench NAME=rest-gateway``.

a) Requests per second of ``GET /api/v1/balances/{account}`` (an owner's JWT; the owner holds one Tgen lot per
   reading: 96, a day of readings, and again for an owner with a single lot, because the contract sums the lots on
   every query) beside a bare Falcon ASGI resource answering ``{"ok": true}``, both served by ``uvicorn.run`` with
   the gateway's own settings (one worker, uvloop, lifespan on, proxy headers off, warning log level) as separate
   processes on the same machine, measured in alternating rounds.
   The load generator is a separate process: asyncio + uvloop, HTTP/1.1 keep-alive, ``CONNECTIONS`` connections,
   each with one request in flight (closed loop). Its own CPU time and the server's are reported, so it can be seen
   whether the generator or the server is the limit.
   The embedded ledger keeps an evaluation's answer until a block writes what it read (see
   ``vpp_gateway.embedded.evaluations``), so these rounds, in which nothing commits, mostly measure the gateway; a
   churn round then reads the same balance while 100-reading batches minting for that owner commit at
   ``MIXED_BATCHES_PER_S``, so every block drops the answer.
b) Latency (p50, p99) of ``POST /api/v1/readings/batches`` with 100 meter-signed readings per batch (one interval
   of 100 meters, as the edge bridge sends them), sequential and with 4 concurrent submitters, counting only batches
   whose 100 readings were all accepted. Beside it: the time one core needs to verify 100 P-256 signatures (the
   floor of any such batch), measured in the same run.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONNECTIONS = 8
BATCH = 100
SUBMITTERS = 4
OWNER_LOTS = 96  # one day of 15-minute readings: the balance is a sum over lots
MIXED_BATCHES_PER_S = 2  # the churn round: 100-reading batches minting for the owner whose balance is read

BARE_APP = """
import falcon.asgi, uvicorn, sys

class Ok:
    async def on_get(self, req, resp):
        resp.media = {"ok": True}

app = falcon.asgi.App()
app.add_route("/ok", Ok())
# the gateway's own uvicorn settings (vpp_gateway.api.__main__), log level as the benchmark runs it
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop", lifespan="on", log_level="warning",
            proxy_headers=False)
"""


# -- the load generator (runs as its own process: ``python -m bench.rest_gateway load ...``) -----------------------

async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            raise ValueError("chunked responses are not expected from these endpoints")
    return status, await reader.readexactly(length)


def _request(method: str, path: str, port: int, headers: dict[str, str], body: bytes = b"") -> bytes:
    head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: keep-alive"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    if body:
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _throughput(port: int, path: str, headers: dict[str, str], connections: int, seconds: float) -> dict:
    request = _request("GET", path, port, headers)
    counts = {"ok": 0, "other": 0}
    deadline = time.perf_counter() + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                writer.write(request)
                status, _ = await _read_response(reader)
                counts["ok" if status == 200 else "other"] += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return {**counts, "elapsed_s": time.perf_counter() - started}


async def _submits(port: int, headers: dict[str, str], batches: list[bytes], submitters: int,
                   rate: float | None = None) -> dict:
    """Post the batches; with ``rate``, batch n is sent no earlier than n / rate seconds after the start."""
    queue = list(reversed(batches))
    latencies: list[float] = []
    partial = 0
    sent = 0
    began = time.perf_counter()

    async def submitter() -> None:
        nonlocal partial, sent
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                body = queue.pop()
                if rate:
                    await asyncio.sleep(max(0.0, began + sent / rate - time.perf_counter()))
                sent += 1
                started = time.perf_counter()
                writer.write(_request("POST", "/api/v1/readings/batches", port, headers, body))
                status, answer = await _read_response(reader)
                elapsed = time.perf_counter() - started
                if status == 200 and json.loads(answer)["accepted"] == BATCH:
                    latencies.append(elapsed)
                else:
                    partial += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(submitter() for _ in range(submitters)))
    return {"latencies_s": latencies, "not_fully_accepted": partial, "elapsed_s": time.perf_counter() - started}


def _load_main(argv: list[str]) -> None:
    import uvloop

    spec = json.loads(argv[0])
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    if spec["kind"] == "throughput":
        out = uvloop.run(_throughput(spec["port"], spec["path"], spec["headers"], spec["connections"],
                                     spec["seconds"]))
    else:
        batches = [line.encode() for line in Path(spec["batches_file"]).read_text().splitlines()[spec["first"]:
                                                                                                 spec["last"]]]
        out = uvloop.run(_submits(spec["port"], spec["headers"], batches, spec["submitters"], spec.get("rate")))
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    out["client_cpu_s"] = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    print(json.dumps(out))


# -- the harness ---------------------------------------------------------------------------------------------------

def _process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _load(spec: dict, server_pid: int) -> dict:
    before = _process_cpu_s(server_pid)
    done = subprocess.run([sys.executable, "-m", "bench.rest_gateway", "load", json.dumps(spec)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    out = json.loads(done.stdout)
    out["server_cpu_s"] = _process_cpu_s(server_pid) - before
    return out


def _load_beside(spec: dict, beside: dict, server_pid: int) -> tuple[dict, dict]:
    """``spec`` measured while a second load generator runs ``beside`` (started first)."""
    background = subprocess.Popen([sys.executable, "-m", "bench.rest_gateway", "load", json.dumps(beside)], cwd=ROOT,
                                  stdout=subprocess.PIPE, text=True)
    try:
        out = _load(spec, server_pid)
        stdout, _ = background.communicate(timeout=120)
    finally:
        if background.poll() is None:
            background.kill()
    if background.returncode != 0:
        raise RuntimeError("the background submitter failed")
    return out, json.loads(stdout)


def _start_bare(port: int) -> subprocess.Popen:
    import urllib.request

    process = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port)], cwd=ROOT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ok", timeout=2):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the bare Falcon app did not start")


def _setup(gateway, accounts) -> dict:
    """An owner with OWNER_LOTS Tgen lots; 100 generators with admin-registered meters; pre-signed batches."""
    from tests.postman.live_gateway import MeterKey, aligned_past, generation, request_json

    api = gateway.api
    admin = request_json("POST", api + "/auth/login", {"email": accounts.admin_email, "password": accounts.password})
    as_admin = {"Authorization": "Bearer " + admin["access_token"]}
    request_json("POST", api + "/accounts", {"email": "bench.owner@owner.example", "password": accounts.password,
                                             "role": "owner", "org": "Org1MSP"}, as_admin, 201)
    owner = request_json("POST", api + "/auth/login", {"email": "bench.owner@owner.example",
                                                       "password": accounts.password})
    as_owner = {"Authorization": "Bearer " + owner["access_token"]}
    account = request_json("GET", api + "/me", headers=as_owner)["ledger_account"]
    request_json("POST", api + "/sites", {"site_id": "bench-site", "location": "Zwolle"}, as_owner, 201)
    keys = []
    for i in range(BATCH):
        request_json("POST", api + "/sites/bench-site/assets", {"asset_id": f"bench-pv-{i:03d}", "kind": "generator",
                                                                 "max_power_w": 10_000}, as_owner, 201)
        keys.append(MeterKey())
        request_json("POST", api + f"/assets/bench-pv-{i:03d}/meters",
                     {"meter_id": f"bench-m-{i:03d}", "interval_s": 900, "public_key_pem": keys[-1].public_pem},
                     as_admin, 201)
    bridge = request_json("POST", api + "/api-keys", {"name": "bench bridge", "role": "admin"}, as_admin, 201)["key"]
    # the owner's lots: OWNER_LOTS intervals of meter 0, submitted before anything is timed
    lots = [generation("bench-m-000", keys[0], aligned_past(n), 100 + n) for n in range(OWNER_LOTS + 200, 200, -1)]
    answer = request_json("POST", api + "/readings/batches", {"readings": lots}, {"X-API-Key": bridge})
    assert answer["accepted"] == OWNER_LOTS, answer
    # a second owner holding a single lot: the same request without the per-lot cost
    request_json("POST", api + "/accounts", {"email": "bench.new@owner.example", "password": accounts.password,
                                             "role": "owner", "org": "Org1MSP"}, as_admin, 201)
    new = request_json("POST", api + "/auth/login", {"email": "bench.new@owner.example",
                                                     "password": accounts.password})
    as_new = {"Authorization": "Bearer " + new["access_token"]}
    new_account = request_json("GET", api + "/me", headers=as_new)["ledger_account"]
    request_json("POST", api + "/sites", {"site_id": "bench-new", "location": "Assen"}, as_new, 201)
    request_json("POST", api + "/sites/bench-new/assets", {"asset_id": "bench-new-pv", "kind": "generator",
                                                           "max_power_w": 10_000}, as_new, 201)
    new_key = MeterKey()
    request_json("POST", api + "/assets/bench-new-pv/meters", {"meter_id": "bench-new-m", "interval_s": 900,
                                                               "public_key_pem": new_key.public_pem}, as_admin, 201)
    one = request_json("POST", api + "/readings/batches",
                       {"readings": [generation("bench-new-m", new_key, aligned_past(3), 500)]}, {"X-API-Key": bridge})
    assert one["accepted"] == 1, one
    return {"account": account, "owner_token": owner["access_token"], "bridge": bridge, "keys": keys,
            "new_account": new_account, "new_token": new["access_token"]}


def _sign_batches(keys: list, intervals: int) -> list[str]:
    """One batch per interval (the most recent first is not needed: any order of past intervals is accepted)."""
    from tests.postman.live_gateway import aligned_past, generation

    return [json.dumps({"readings": [generation(f"bench-m-{i:03d}", key, aligned_past(n + 2), 200 + i)
                                     for i, key in enumerate(keys)]}, separators=(",", ":"))
            for n in range(intervals)]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run(args) -> dict:
    from tests.postman.live_gateway import (
        Accounts,
        Gateway,
        bootstrap_accounts,
        free_port,
        request_json,
        stop_process,
    )

    from .contract_readings import verifications_per_second
    from .run import metric

    quick = bool(getattr(args, "quick", False))
    rounds = int(os.environ.get("BENCH_ROUNDS", "2" if quick else "3"))
    seconds = float(os.environ.get("BENCH_SECONDS", "3" if quick else "8"))
    sequential_n = int(os.environ.get("BENCH_SEQUENTIAL_BATCHES", "15" if quick else "40"))
    concurrent_n = int(os.environ.get("BENCH_CONCURRENT_BATCHES", "24" if quick else "80"))
    warmup_n = 3
    work = Path(tempfile.mkdtemp(prefix="bench-rest-gateway-"))
    accounts = Accounts()
    bootstrap_accounts(work / "data", accounts)
    gateway = Gateway.start(work / "data")
    bare = _start_bare(free_port())
    bare_port = int(bare.args[-1])
    try:
        seed = _setup(gateway, accounts)
        mixed_n = int(MIXED_BATCHES_PER_S * seconds) + 2
        batches = _sign_batches(seed["keys"], warmup_n + sequential_n + concurrent_n + mixed_n)
        batches_file = work / "batches.jsonl"
        batches_file.write_text("\n".join(batches) + "\n")

        # a) alternating rounds, a short untimed warm-up of each first
        balance_spec = {"kind": "throughput", "port": gateway.port, "path": f"/api/v1/balances/{seed['account']}",
                        "headers": {"Authorization": "Bearer " + seed["owner_token"]}, "connections": CONNECTIONS}
        bare_spec = {"kind": "throughput", "port": bare_port, "path": "/ok", "headers": {},
                     "connections": CONNECTIONS}
        one_lot_spec = {**balance_spec, "path": f"/api/v1/balances/{seed['new_account']}",
                        "headers": {"Authorization": "Bearer " + seed["new_token"]}}
        _load({**balance_spec, "seconds": 1.0}, gateway.process.pid)
        _load({**bare_spec, "seconds": 1.0}, bare.pid)
        ours, one_lot, baseline = [], [], []
        for n in range(rounds):
            ours.append(_load({**balance_spec, "seconds": seconds}, gateway.process.pid))
            baseline.append(_load({**bare_spec, "seconds": seconds}, bare.pid))
            one_lot.append(_load({**one_lot_spec, "seconds": seconds}, gateway.process.pid))
            print(f"round {n + 1}: balances ({OWNER_LOTS} lots) {ours[-1]['ok'] / ours[-1]['elapsed_s']:.0f} req/s, "
                  f"bare {baseline[-1]['ok'] / baseline[-1]['elapsed_s']:.0f} req/s, balances (1 lot) "
                  f"{one_lot[-1]['ok'] / one_lot[-1]['elapsed_s']:.0f} req/s", flush=True)

        # a') churn: the same balance requests while batches minting for this very owner commit, so the embedded
        #     ledger's evaluation cache loses this answer at every block (the owner with one lot is unaffected)
        submit = {"kind": "submits", "port": gateway.port, "headers": {"X-API-Key": seed["bridge"]},
                  "batches_file": str(batches_file)}
        churn_first = warmup_n + sequential_n + concurrent_n
        churn, churn_submits = _load_beside(
            {**balance_spec, "seconds": seconds},
            {**submit, "first": churn_first, "last": churn_first + mixed_n, "submitters": 1,
             "rate": MIXED_BATCHES_PER_S}, gateway.process.pid)
        print(f"churn: balances {churn['ok'] / churn['elapsed_s']:.0f} req/s while "
              f"{len(churn_submits['latencies_s'])} batches committed", flush=True)

        # b) submits: warm-up, sequential, then SUBMITTERS concurrent
        _load({**submit, "first": 0, "last": warmup_n, "submitters": 1}, gateway.process.pid)
        sequential = _load({**submit, "first": warmup_n, "last": warmup_n + sequential_n, "submitters": 1},
                           gateway.process.pid)
        concurrent = _load({**submit, "first": warmup_n + sequential_n, "last": churn_first,
                            "submitters": SUBMITTERS}, gateway.process.pid)
        verify_floor_ms = BATCH / verifications_per_second() * 1000
        final_balance = request_json("GET", gateway.api + f"/balances/{seed['account']}",
                                     headers={"Authorization": "Bearer " + seed["owner_token"]})
    finally:
        stop_process(bare)
        gateway.stop()

    def rate(rows: list[dict]) -> float:
        return sum(r["ok"] for r in rows) / sum(r["elapsed_s"] for r in rows)

    ours_rps, bare_rps = rate(ours), rate(baseline)
    one_lot_rps = rate(one_lot)
    errors = sum(r["other"] for r in ours + baseline + one_lot + [churn])
    churn_rps = churn["ok"] / churn["elapsed_s"]
    seq_ms = [s * 1000 for s in sequential["latencies_s"]]
    con_ms = [s * 1000 for s in concurrent["latencies_s"]]
    fully_accepted = len(seq_ms) + len(con_ms) + len(churn_submits["latencies_s"]) + warmup_n
    expected_tgen = (sum(100 + n for n in range(OWNER_LOTS + 200, 200, -1))
                     + fully_accepted * sum(200 + i for i in range(BATCH)))
    if final_balance["Tgen"] != expected_tgen:
        print(f"WARNING: the owner holds {final_balance['Tgen']} Tgen, expected {expected_tgen}", flush=True)
    readings_per_s = len(con_ms) * BATCH / concurrent["elapsed_s"]

    def cpu(rows: list[dict]) -> str:
        wall = sum(r["elapsed_s"] for r in rows)
        return (f"server {sum(r['server_cpu_s'] for r in rows) / wall:.2f} cores, load generator "
                f"{sum(r['client_cpu_s'] for r in rows) / wall:.2f} cores")

    return {
        "metrics": [
            metric(f"GET /balances/{{account}} requests/s (owner JWT, {OWNER_LOTS} lots, {CONNECTIONS} keep-alive "
                   "connections)", round(ours_rps, 1), "req/s",
                   "bare Falcon ASGI {\"ok\": true}, same uvicorn settings, alternating rounds", round(bare_rps, 1),
                   "higher", "ratio ≥ 0.5"),
            metric(f"GET /balances/{{account}} requests/s, an owner with 1 lot ({CONNECTIONS} connections)",
                   round(one_lot_rps, 1), "req/s", "bare Falcon ASGI {\"ok\": true}, same rounds", round(bare_rps, 1),
                   "higher", "ratio ≥ 0.5"),
            metric(f"GET /balances/{{account}} requests/s while {BATCH}-reading batches minting for this owner commit "
                   f"({MIXED_BATCHES_PER_S}/s: each block changes the answer)", round(churn_rps, 1), "req/s",
                   "bare Falcon ASGI {\"ok\": true}, same rounds", round(bare_rps, 1), "higher"),
            metric(f"POST /readings/batches p50 latency, {BATCH} signed readings, sequential",
                   round(statistics.median(seq_ms), 1), "ms",
                   f"one core verifying {BATCH} P-256 signatures (the floor), same run", round(verify_floor_ms, 1),
                   "lower"),
            metric(f"POST /readings/batches p99 latency, {BATCH} signed readings, sequential",
                   round(_percentile(seq_ms, 0.99), 1), "ms", "sequential p50, same run",
                   round(statistics.median(seq_ms), 1), "lower"),
            metric(f"POST /readings/batches p50 latency, {BATCH} signed readings, {SUBMITTERS} concurrent submitters",
                   round(statistics.median(con_ms), 1), "ms", "sequential p50, same run",
                   round(statistics.median(seq_ms), 1), "lower"),
            metric(f"POST /readings/batches p99 latency, {BATCH} signed readings, {SUBMITTERS} concurrent submitters",
                   round(_percentile(con_ms, 0.99), 1), "ms", "sequential p99, same run",
                   round(_percentile(seq_ms, 0.99), 1), "lower"),
            metric(f"readings accepted per second through REST, {SUBMITTERS} concurrent submitters",
                   round(readings_per_s, 1), "readings/s", "P-256 verifications/s on one core, same run",
                   round(BATCH / verify_floor_ms * 1000, 1), "higher"),
            metric("non-200 answers in the throughput rounds + batches not fully accepted", errors +
                   sequential["not_fully_accepted"] + concurrent["not_fully_accepted"]
                   + churn_submits["not_fully_accepted"], "count", "target", 0,
                   "lower", "0"),
        ],
        "conditions": {
            "servers": "gateway: python -m vpp_gateway.api (uvicorn.run, 1 worker, uvloop, h11, lifespan on, "
                       "VPP_LOG_LEVEL=WARNING, VPP_RATE_PER_MIN=0, embedded ledger in a temp VPP_DATA_DIR); "
                       "baseline: falcon.asgi.App with one resource under the same uvicorn.run arguments",
            "load generator": f"separate process, asyncio + uvloop, raw HTTP/1.1 keep-alive, {CONNECTIONS} "
                              f"connections with one request in flight each (closed loop); {rounds} alternating "
                              f"rounds of {seconds:.0f} s per side after 1 s warm-up each",
            "cpu, balances rounds": cpu(ours),
            "cpu, bare rounds": cpu(baseline),
            "cpu, balances rounds (1 lot)": cpu(one_lot),
            "per-round req/s": "balances " + ", ".join(f"{r['ok'] / r['elapsed_s']:.0f}" for r in ours)
                               + "; bare " + ", ".join(f"{r['ok'] / r['elapsed_s']:.0f}" for r in baseline)
                               + "; balances (1 lot) " + ", ".join(f"{r['ok'] / r['elapsed_s']:.0f}" for r in one_lot),
            "submits": f"{BATCH} generation meters on one site, one interval per batch, edge bridge's admin API key; "
                       f"{warmup_n} warm-up batches, then {sequential_n} sequential and {concurrent_n} with "
                       f"{SUBMITTERS} submitters (one keep-alive connection each); counted: {len(seq_ms)} + "
                       f"{len(con_ms)} fully accepted batches; server CPU {sequential['server_cpu_s']:.1f} s over "
                       f"{sequential['elapsed_s']:.1f} s (sequential), {concurrent['server_cpu_s']:.1f} s over "
                       f"{concurrent['elapsed_s']:.1f} s (concurrent)",
            "check": f"owner's Tgen after the run {final_balance['Tgen']} (expected {expected_tgen})",
            "machine": f"{os.cpu_count()} shared cores; server, baseline and load generator on the same machine",
        },
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["load"]:
        _load_main(sys.argv[2:])
    else:
        raise SystemExit("usage: python -m bench.run rest-gateway (this module's 'load' mode is its load generator)")
