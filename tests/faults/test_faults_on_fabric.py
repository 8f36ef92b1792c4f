"""Faults survived on the native Fabric network, under a steady load of signed intervals, nothing lost (issue 9).

Each test: a new site with its own meters and owner; the edge load (outbox → Mosquitto), the bridge (→ REST gateway
→ Fabric) running; one part killed with SIGKILL mid-load and started again; the load continues; then the audit:

* every reading the edge's outbox saw acknowledged (all of them, once the outbox is empty) is on the ledger exactly
  once, with the energy the edge signed, read back over REST;
* per meter and UTC day: Σ sample increments = Σ interval energy on the ledger = Σ Tgen minted by those readings;
* the owner's Tgen balance = Σ energy, and GetSupply moved by exactly that much and is conserved per token;
* every transaction the bridge's POSTs produced reached a final status on both peers (a committed POST: VALID; an
  uncertain one, whose 503 named its tx id: VALID, invalid, or never ordered) and the readings on the ledger were
  written by those transactions only.

Recovery time: from the kill until a reading made after the kill is committed. Rows go to $VPP_FAULTS_REPORT (JSON)
when set; bench/RELIABILITY-faults.md quotes them. The embedded backend has no orderer, peer or chaincode server to
kill; its gateway and broker faults are meter-edge/tests/pipeline/test_gateway_down.py and test_outbox.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections import Counter, defaultdict
from dataclasses import dataclass

import paho.mqtt.client as mqtt
import pytest
from pipeline.harness import broker_settings, wait_for
from vpp_edge.bridge import Bridge
from vpp_edge.keys import MeterKey, provision
from vpp_edge.mqtt.publisher import make_client

from tests.fabric.harness import NETWORK_SH, NetworkError

from .stack import DAY, INTERVAL, Api, EdgeLoad, RecordingSubmitter, wait_mid_submit

pytestmark = [pytest.mark.fabric, pytest.mark.slow, pytest.mark.mqtt]

RATE = float(os.environ.get("VPP_FAULTS_RATE", "100"))   # readings per second
METERS = 10
DOWN_S = 5                                                 # how long a killed node stays down


@dataclass
class Run:
    name: str
    api: Api
    load: EdgeLoad
    bridge: Bridge
    submitter: RecordingSubmitter
    meters: list[str]
    owner: str
    supply_before: dict
    warm_latency_s: float = 0.0
    fault_at: float = 0.0
    restarted_at: float = 0.0


def start_node(net, name: str) -> None:
    """network.sh startNode NAME: the killed node again, on its own ledger (what an operator would run)."""
    result = subprocess.run([str(NETWORK_SH), "startNode", name], env=net.env, capture_output=True, text=True,
                            timeout=120)
    if result.returncode != 0:
        raise NetworkError(f"startNode {name}: {result.stdout[-2000:]} {result.stderr[-2000:]}")


def raft_leader(net) -> str:
    label = f'channel="{net.channel}"'
    for orderer in net.orderers:
        samples = net.orderer_metric(orderer["name"], "consensus_etcdraft_is_leader")
        if any(label in labels and value == 1.0 for labels, value in samples.items()):
            return orderer["name"]
    raise AssertionError("no Raft leader")


def register(stack, name: str, tmp_path) -> tuple[str, dict[str, MeterKey]]:
    """A site owned by a new account, one generator per meter, each meter with its own key (REST, admin key)."""
    owner = f"Org1MSP:owner-{name}"
    site = f"{name}-site"
    stack.api.call("POST", "/sites", json={"site_id": site, "location": "Delft", "owner": owner})
    keys = {}

    def one(index: int) -> None:
        meter = f"{name}-m{index:02d}"
        api = Api(stack.gateway.url, stack.api_key)   # a session per thread
        api.call("POST", f"/sites/{site}/assets", json={"asset_id": f"{meter}-pv", "kind": "generator",
                                                        "max_power_w": 10_000})
        made = provision(tmp_path / "keys", meter)
        api.call("POST", f"/assets/{meter}-pv/meters", json={"meter_id": meter, "interval_s": INTERVAL,
                                                             "public_key_pem": made.public_pem})
        keys[meter] = MeterKey.load(made.private_path, meter)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(5) as pool:
        list(pool.map(one, range(METERS)))
    return site, dict(sorted(keys.items()))


async def start_run(stack, name: str, tmp_path) -> Run:
    site, keys = await asyncio.to_thread(register, stack, name, tmp_path)
    supply_before = await asyncio.to_thread(stack.api.call, "GET", "/supply")
    first_start = (int(time.time()) // DAY - 5) * DAY   # the load's simulated time stays days behind the clock
    load = EdgeLoad(tmp_path / "edge", site, keys, broker_settings(stack.broker.port), rate=RATE,
                    first_start=first_start)
    submitter = RecordingSubmitter(stack.gateway.url, stack.api_key)
    bridge = Bridge(submitter, broker_settings(stack.broker.port), tmp_path / "dead.db", client_id=f"bridge-{name}",
                    batch_size=200, batch_wait_s=0.2, backoff_initial_s=0.5, backoff_max_s=5, state_every_s=1)
    await bridge.start()
    await wait_for(lambda: bridge.subscribed.is_set(), 15, "the bridge's subscription")
    load.start()
    run = Run(name, stack.api, load, bridge, submitter, list(keys), f"Org1MSP:owner-{name}", supply_before)
    await wait_for(lambda: load.waiting() >= 0 and bridge.stats["accepted"] >= 5 * METERS, 60,
                   "the first readings on the ledger")
    await asyncio.sleep(3)   # steady state before the fault
    run.warm_latency_s = median_latency(run, 0.0, time.monotonic())
    return run


def commit_times(run: Run) -> dict[tuple[str, int], float]:
    """When each reading was first answered by a committed POST."""
    done: dict[tuple[str, int], float] = {}
    for post in run.submitter.posts:
        if post.ok:
            for key in post.readings:
                done.setdefault(key, post.ended)
    return done


def median_latency(run: Run, since: float, until: float) -> float:
    done = commit_times(run)
    latencies = sorted(done[k] - p.made_at for k, p in run.load.snapshot().items()
                       if k in done and since <= p.made_at <= until)
    return latencies[len(latencies) // 2] if latencies else float("nan")


def recovered_at(run: Run) -> float | None:
    """The first commit of a reading made after the fault."""
    done = commit_times(run)
    times = [done[k] for k, p in run.load.snapshot().items() if p.made_at > run.fault_at and k in done]
    return min(times) if times else None


async def recover_and_finish(stack, run: Run, after_s: float = 5, within: float = 150) -> dict:
    await wait_for(lambda: recovered_at(run), within, f"{run.name}: a reading made after the fault committed")
    recovery = recovered_at(run) - run.fault_at
    await asyncio.sleep(after_s)   # the load goes on after the recovery
    run.load.stop_producing()
    produced = set(run.load.snapshot())
    await wait_for(lambda: run.load.waiting() == 0, 60, f"{run.name}: the edge's outbox acknowledged and empty")
    await wait_for(lambda: produced <= set(commit_times(run)), 120, f"{run.name}: every reading answered")
    await wait_for(lambda: run.bridge.backlog == 0, 30, f"{run.name}: the bridge's backlog drained")
    row = await asyncio.to_thread(audit, stack, run)
    row.update(recovery_s=round(recovery, 1), warm_latency_s=round(run.warm_latency_s, 2))
    stack.results.append(row)
    print(f"\n{run.name}: {row}")
    return row


def audit(stack, run: Run) -> dict:
    load, api = run.load, run.api
    end = load.closed_until
    produced = {k: p.wh for k, p in load.snapshot().items()}
    assert all(start < end for _, start in produced), "a reading beyond the closed intervals"
    ledger_total, per_day_ledger, per_day_minted, on_ledger = 0, defaultdict(int), defaultdict(int), 0
    writers: dict[tuple[str, int], str] = {}   # reading -> the transaction that wrote it
    for meter in run.meters:
        rows = api.readings(meter, load.first_start, end)
        starts = [r["start"] for r in rows]
        assert len(starts) == len(set(starts)), f"{meter}: a reading twice on the ledger"
        expected = {s: wh for (m, s), wh in produced.items() if m == meter}
        found = {r["start"]: r["values"]["wh"] for r in rows}
        missing = sorted(set(expected) - set(found))
        extra = sorted(set(found) - set(expected))
        assert not missing and not extra, f"{meter}: {len(missing)} acknowledged readings missing from the " \
                                          f"ledger ({missing[:5]}...), {len(extra)} never produced ({extra[:5]})"
        assert found == expected, f"{meter}: energy on the ledger differs from what the edge signed"
        for r in rows:
            per_day_ledger[(meter, r["start"] // DAY)] += r["values"]["wh"]
            per_day_minted[(meter, r["start"] // DAY)] += r["effects"]["minted_tgen"]
            writers[(meter, r["start"])] = r["tx_id"]
        on_ledger += len(rows)
        ledger_total += sum(found.values())
    samples = load.samples_by_day()
    assert samples == dict(per_day_ledger) == dict(per_day_minted), "per meter and day: samples ≠ intervals ≠ minted"

    balance = api.call("GET", f"/balances/{run.owner}")
    assert balance["Tgen"] == ledger_total, (balance, ledger_total)
    supply = api.call("GET", "/supply")
    assert supply["Tgen"]["minted"] - run.supply_before["Tgen"]["minted"] == ledger_total, "a double mint"
    assert supply["Tgen"]["conserved"] and supply["Tstorage"]["conserved"], supply

    statuses = asyncio.run(final_statuses(stack.net, run.submitter))
    posts = run.submitter.posts
    committed = {p.tx_id for p in posts if p.ok}
    for tx_id in committed:
        assert statuses[tx_id] == "VALID", (tx_id, statuses[tx_id])
    uncertain = {p.tx_id for p in posts if not p.ok and p.tx_id}
    # A transaction the bridge never learnt the id of (the connection broke, the POST timed out) may have committed:
    # each of its readings must then have been in such a POST and answered "duplicate" when sent again.
    orphans = {t for t in writers.values() if t not in committed and statuses.get(t) != "VALID"}
    for key, r_tx in writers.items():
        if r_tx in orphans:
            answers = [p.answers.get(key) for p in posts if p.ok and key in p.answers]
            assert answers and answers[0] == "duplicate", (key, r_tx, answers)
            assert any(not p.ok and p.tx_id is None and key in p.readings for p in posts), (key, r_tx)
    duplicates = defaultdict(int)
    for p in posts:
        for (meter, _), status in p.answers.items():
            if status == "duplicate":
                duplicates[meter.split("-")[0]] += 1
    failed = [p for p in posts if not p.ok]
    return {"fault": run.name, "rate_target": RATE, "rate_achieved": round(load.achieved_rate, 1),
            "acked": len(produced), "on_ledger": on_ledger, "duplicates_on_ledger": on_ledger - len(set(produced)),
            "resent_answered_duplicate": dict(duplicates), "failed_posts": len(failed),
            "failed_reasons": sorted({p.outcome[:80] for p in failed}),
            "uncertain_tx": dict(Counter(statuses[t] for t in uncertain)),
            "orphan_tx_committed": len(orphans), "tx_committed": len(committed), "wh": ledger_total,
            "down_s": round(run.restarted_at - run.fault_at, 1) if run.restarted_at else None,
            "bridge": dict(run.bridge.stats)}


async def final_statuses(net, submitter: RecordingSubmitter) -> dict[str, str]:
    """Each transaction id the POSTs produced, as both peers see it: its validation code on org1's peer (which
    must agree with org2's), or NOT_ORDERED when it is in no block."""
    from vpp_gateway.fabric import GatewayError

    ids = sorted({p.tx_id for p in submitter.posts if p.tx_id})
    found: dict[str, str] = {}
    async with net.gateway("org1") as g1, net.gateway("org2") as g2:
        n1, n2 = g1.get_network(net.channel), g2.get_network(net.channel)
        for tx_id in ids:
            try:
                s1 = await n1.commit_status(tx_id, timeout=8)
            except GatewayError:
                found[tx_id] = "NOT_ORDERED"
                continue
            s2 = await n2.commit_status(tx_id, timeout=8)
            assert (s1.code, s1.block_number) == (s2.code, s2.block_number), (tx_id, s1, s2)
            found[tx_id] = s1.code_name
    return found


async def stop_run(run: Run) -> None:
    run.load.close()
    await run.bridge.stop()
    run.submitter.close()
    # end the bridge's persistent session, or the broker keeps queueing every later test's readings for it
    ender = make_client(run.bridge.client_id, run.bridge.broker, protocol=mqtt.MQTTv5)
    ender.connect(run.bridge.broker.host, run.bridge.broker.port, clean_start=True)
    ender.loop_start()
    await asyncio.sleep(0.3)
    ender.disconnect()
    ender.loop_stop()


def heights_agree(net) -> None:
    """Both peers at the same height and hash; every orderer holds at least that many blocks."""
    deadline = time.monotonic() + 30
    while True:
        (h1, hash1), (h2, hash2) = net.height("org1"), net.height("org2")
        orderers = {o["name"]: net.osnadmin_channel(o["name"])["height"] for o in net.orderers}
        if h1 == h2 and hash1 == hash2 and all(h >= h1 for h in orderers.values()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"peers {h1}/{h2}, orderers {orderers}")
        time.sleep(0.5)


# -- the faults ------------------------------------------------------------------------------------------------------

async def test_orderer_raft_leader_killed_and_restarted(fault_stack, tmp_path):
    net = fault_stack.net
    run = await start_run(fault_stack, "ord", tmp_path)
    try:
        leader = raft_leader(net)
        run.fault_at = time.monotonic()
        os.kill(net.pid_of(leader), signal.SIGKILL)
        await asyncio.sleep(DOWN_S)
        await asyncio.to_thread(start_node, net, leader)
        run.restarted_at = time.monotonic()
        row = await recover_and_finish(fault_stack, run)
        row["node"] = leader
        await asyncio.to_thread(heights_agree, net)   # the restarted orderer caught up
        assert raft_leader(net)
    finally:
        await stop_run(run)


async def test_gateway_peer_killed_mid_submit(fault_stack, tmp_path):
    net = fault_stack.net
    run = await start_run(fault_stack, "peer", tmp_path)
    try:
        await wait_mid_submit(run.submitter)
        run.fault_at = time.monotonic()
        os.kill(net.pid_of("peer0.org1"), signal.SIGKILL)   # the peer the gateway talks to
        await asyncio.sleep(DOWN_S)
        await asyncio.to_thread(start_node, net, "peer0.org1")
        run.restarted_at = time.monotonic()
        await recover_and_finish(fault_stack, run)
        await asyncio.to_thread(heights_agree, net)
    finally:
        await stop_run(run)


async def test_chaincode_server_killed_mid_transaction(fault_stack, tmp_path):
    net = fault_stack.net
    run = await start_run(fault_stack, "cc", tmp_path)
    try:
        await wait_mid_submit(run.submitter, at_least_s=0.02)
        run.fault_at = time.monotonic()
        os.kill(net.chaincode_pids("vpp")["org1"], signal.SIGKILL)
        await asyncio.sleep(0.5)
        # meanwhile an integrator's transaction needs org1's endorsement: 503 with Retry-After, not a 502
        api = fault_stack.api
        refused = await asyncio.to_thread(api.http.post, api.base + "/sites", timeout=30, json={
            "site_id": "cc-down-site", "location": "Utrecht", "owner": "Org1MSP:cc-down"})
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "LEDGER_UNAVAILABLE" and refused.headers["Retry-After"] == "2"
        await asyncio.sleep(1.5)
        await asyncio.to_thread(start_node, net, "cc-vpp-org1")
        run.restarted_at = time.monotonic()
        await recover_and_finish(fault_stack, run)
    finally:
        await stop_run(run)


async def test_broker_killed_and_restarted_on_its_persistence(fault_stack, tmp_path):
    run = await start_run(fault_stack, "mqtt", tmp_path)
    try:
        run.fault_at = time.monotonic()
        fault_stack.broker.kill()   # SIGKILL
        await asyncio.sleep(3)
        await asyncio.to_thread(fault_stack.broker.start)   # same port, same persistence folder
        run.restarted_at = time.monotonic()
        row = await recover_and_finish(fault_stack, run)
        row["broker_autosave_s"] = fault_stack.broker.autosave_interval
    finally:
        await stop_run(run)


async def test_rest_gateway_killed_mid_submit(fault_stack, tmp_path):
    run = await start_run(fault_stack, "gw", tmp_path)
    try:
        await wait_mid_submit(run.submitter)
        run.fault_at = time.monotonic()
        fault_stack.gateway.kill9()
        await asyncio.sleep(3)
        await asyncio.to_thread(fault_stack.gateway.start)
        run.restarted_at = time.monotonic()
        await recover_and_finish(fault_stack, run)
    finally:
        await stop_run(run)
