"""The system under test (its own process, so it shares no GIL with the publisher): the real Bridge (MQTT 5
persistent session, manual acknowledgement, batched submits) → LedgerSubmitter → the embedded ledger in-process, or
native Fabric through the project's Gateway client (FabricLedgerClient).

The submitter is wrapped to note, per committed batch, the monotonic commit instant and the index of every reading
in it; those go to the orchestrator, which turns them into latencies. Every submit attempt is recorded with its
outcome, so "every submitted transaction reached a final status" can be checked afterwards.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

from .load import INTERVAL, MAX_POWER_W, load

log = logging.getLogger("soak.ledger")


class TimingSubmitter:
    """A Submitter around another: reports each committed batch and each failed attempt."""

    def __init__(self, inner, plan, reports) -> None:
        self.inner = inner
        self.plan = plan
        self.reports = reports
        self.attempts = 0
        self.finished = 0
        self.committed: list[tuple[str, int]] = []   # (tx_id, block)
        self.failures: list[str] = []

    async def submit(self, readings: list[dict]):
        self.attempts += 1
        try:
            result = await self.inner.submit(readings)
        except Exception as exc:
            self.finished += 1
            text = f"{type(exc).__name__}: {exc}"[:300]
            self.failures.append(text)
            self.reports.put(("failure", {"at": time.monotonic(), "error": text}))
            raise
        at = time.monotonic()
        self.finished += 1
        self.committed.append((result.tx_id, result.block))
        by_status: dict[str, list[int]] = {"accepted": [], "duplicate": [], "rejected": []}
        for reading, outcome in zip(readings, sorted(result.results, key=lambda r: r.index), strict=True):
            payload = reading["payload"]
            by_status[outcome.status].append(self.plan.index_of(payload["meter"], payload["start"]))
        self.reports.put(("batch", {"at": at, "tx_id": result.tx_id, "block": result.block, **by_status}))
        return result


async def _retrying(client, admin, fn: str, *args: str) -> None:
    from vpp_gateway.ledger_client import ConflictError, ContractError

    for _ in range(20):
        try:
            await client.submit(fn, list(args), admin)
            return
        except ConflictError:   # two assets of one site registered at once: endorse again
            continue
        except ContractError as exc:
            if exc.code == "ALREADY_EXISTS":
                return
            raise
    raise RuntimeError(f"{fn} {args[0]} kept conflicting")


async def register(client, admin, plan, keys: list[str], concurrency: int) -> float:
    began = time.monotonic()
    semaphore = asyncio.Semaphore(concurrency)

    async def call(fn: str, *args: str) -> None:
        async with semaphore:
            await _retrying(client, admin, fn, *args)

    await asyncio.gather(*(call("RegisterSite", f"site-{s:04d}", plan.owner_of_site(s), "NL")
                           for s in range(plan.sites)))
    await asyncio.gather(*(call("RegisterAsset", plan.asset_id(m), plan.site_of(m), "generator", str(MAX_POWER_W),
                                "{}") for m in range(plan.meters)))
    await asyncio.gather(*(call("RegisterMeter", plan.meter_id(m), plan.asset_id(m), str(INTERVAL), keys[m])
                           for m in range(plan.meters)))
    return time.monotonic() - began


class EmbeddedBackend:
    name = "embedded"

    def __init__(self, settings: dict) -> None:
        from fabric_ccaas.testing import TestCA
        from vpp_contract.contract import chaincode
        from vpp_gateway.embedded import EmbeddedLedger
        from vpp_gateway.ledger_client import EmbeddedLedgerClient

        # the gateway's defaults (VPP_BLOCK_SIZE 50, VPP_BLOCK_TIMEOUT_MS 25)
        self.ledger = EmbeddedLedger.open(Path(settings["workdir"]) / "ledger.db", block_size=50, block_timeout=0.025)
        self.ledger.install("vpp", chaincode)
        self.client = EmbeddedLedgerClient(self.ledger, "vpp", owns_ledger=True)
        self.register_client = self.client
        self.admin = TestCA("Org1MSP", "org1.example.com").issue("operator", {"role": "admin",
                                                                              "hf.EnrollmentID": "operator"})

    async def final_status(self, tx_ids: list[str]) -> dict[str, str]:
        """tx_id -> validation code name, from the ledger's transaction index."""
        from fabric_protos.peer import transaction_pb2

        db = self.ledger.store.db
        out = {}
        for tx_id in tx_ids:
            row = db.execute("SELECT validation_code FROM transactions WHERE tx_id = ?", (tx_id,)).fetchone()
            out[tx_id] = transaction_pb2.TxValidationCode.Name(row[0]) if row else "MISSING"
        return out

    async def close(self) -> None:
        await self.client.close()


class FabricBackend:
    name = "fabric"

    def __init__(self, settings: dict) -> None:
        from vpp_gateway.fabric import load_msp
        from vpp_gateway.ledger_client import FabricLedgerClient

        from tests.fabric.harness import FabricNetwork

        net = FabricNetwork(Path(settings["fabric_work"]), settings["fabric_port_base"], log=log.info)
        msp = Path(settings["fabric_admin_msp"])
        self.net, self.msp = net, msp
        self.admin = load_msp(msp, "Org1MSP")
        self.client = FabricLedgerClient(lambda who: net.gateway_as(msp, "org1"), net.channel, "vpp")
        # registrations are read by both orgs' endorsers right after: wait until org2's peer has each one too
        self.register_client = FabricLedgerClient(lambda who: net.gateway_as(msp, "org1"), net.channel, "vpp",
                                                  also_committed_on=[lambda who: net.gateway_as(msp, "org2")])

    async def final_status(self, tx_ids: list[str]) -> dict[str, str]:
        gateway = await self.client.gateway_for(self.admin)
        network = gateway.get_network(self.net.channel)
        out = {}
        for tx_id in tx_ids:
            status = await network.commit_status(tx_id, timeout=30)
            out[tx_id] = status.code_name
        return out

    async def close(self) -> None:
        await self.client.close()
        await self.register_client.close()


async def _main(settings: dict, commands, reports) -> None:
    from vpp_edge.bridge import Bridge, LedgerSubmitter
    from vpp_edge.mqtt.publisher import BrokerSettings

    from .checks import nothing_lost

    plan = load(settings["plan"])
    backend = (FabricBackend if settings["backend"] == "fabric" else EmbeddedBackend)(settings)
    keys = json.loads(Path(settings["keys"]).read_text())
    seconds = await register(backend.register_client, backend.admin, plan, keys, settings["register_concurrency"])
    timing = TimingSubmitter(LedgerSubmitter(backend.client, backend.admin), plan, reports)
    broker = BrokerSettings(port=settings["port"], reconnect_min_s=0.1, reconnect_max_s=1)
    bridge = Bridge(timing, broker, Path(settings["workdir"]) / "dead-letters.db", client_id="soak-bridge",
                    batch_size=settings["batch_size"], batch_wait_s=settings["batch_wait_s"],
                    backoff_initial_s=0.5, backoff_max_s=10)
    await bridge.start()
    await asyncio.wait_for(bridge.subscribed.wait(), 30)
    reports.put(("ready", {"registered": plan.meters, "sites": plan.sites, "register_s": round(seconds, 1)}))
    loop = asyncio.get_running_loop()
    published = None
    while True:   # state once a second, until told how many were published, then until all are through
        command = await loop.run_in_executor(None, _poll, commands)
        if command is not None and command[0] == "drain":
            published, drain_deadline = command[1], time.monotonic() + command[2]
        done = bridge.stats["accepted"] + bridge.stats["duplicate"] + bridge.stats["rejected"]
        reports.put(("bridge", {"at": time.monotonic(), "backlog": bridge.backlog, "done": done,
                                **{k: bridge.stats[k] for k in ("received", "batches", "retries", "acknowledged")}}))
        if published is not None and (done >= published or time.monotonic() > drain_deadline):
            break
    await asyncio.sleep(0.5)                  # the last MQTT acknowledgements go out
    stats, dead = dict(bridge.stats), bridge.dead.entries()
    await bridge.stop()
    began = time.monotonic()
    statuses = await backend.final_status([tx for tx, _ in timing.committed])
    checks = await nothing_lost(backend.client, backend.admin, plan, published)
    checks["final_status"] = {
        "attempts": timing.attempts, "finished": timing.finished, "committed": len(timing.committed),
        "failed_attempts": len(timing.failures), "not_valid": {t: c for t, c in statuses.items() if c != "VALID"},
        "ok": timing.attempts == timing.finished and all(c == "VALID" for c in statuses.values()),
    }
    checks["seconds"] = round(time.monotonic() - began, 1)
    reports.put(("done", {"bridge": stats, "dead_letters": dead[:20], "dead_letter_count": len(dead),
                          "failures": timing.failures[:20], "checks": checks}))
    await backend.close()


def _poll(commands):
    import queue

    try:
        return commands.get(timeout=1.0)
    except queue.Empty:
        return None


def ledger_main(settings: dict, commands, reports) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s ledger-side %(levelname)s %(name)s: %(message)s")
    try:
        try:
            asyncio.run(_main(settings, commands, reports))
        except BaseException as exc:
            reports.put(("crashed", {"error": f"{type(exc).__name__}: {exc}"[:2000]}))
            raise
    finally:
        # the contract's signature-verifying pool stops at atexit, but a multiprocessing child joins its own
        # children before atexit runs: without this the process waits for the pool forever
        from vpp_contract import signatures

        signatures.shutdown()
