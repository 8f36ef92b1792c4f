"""The pieces of the end-to-end tests: an embedded ledger with the energy contract and a registered site, the edge
reader as a subprocess (so it can be killed with SIGKILL), the bridge in-process, and the final audit."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import yaml
from vpp_contract.contract import chaincode
from vpp_contract.domain.readings import canonical
from vpp_edge.clock import AcceleratedClock
from vpp_edge.keys import provision
from vpp_edge.mqtt.publisher import BrokerSettings
from vpp_edge.reader import ReaderStore
from vpp_gateway.embedded import EmbeddedLedger
from vpp_gateway.identity import LocalCA
from vpp_gateway.ledger_client import EmbeddedLedgerClient

TESTS_DIR = Path(__file__).resolve().parents[1]
ASSET_KINDS = {"generation": "generator", "battery": "battery", "load": "load", "grid": "grid"}
BATTERY = {"chemistry": "LFP", "capacity_wh": 20_000, "soc_min_permille": 100, "soc_max_permille": 950,
           "charge_eff_ppm": 950_000, "discharge_eff_ppm": 950_000}
OWNER = "Org1MSP:alice"


@dataclass
class SimTime:
    """Simulated time shared by the test, the reader subprocess and the bridge: start at wall time anchor."""

    factor: float
    start: int = 0
    anchor: float = 0.0

    def __post_init__(self) -> None:
        now = time.time()
        self.start = int(now - 86_400) // 900 * 900  # a day ago: intervals are never in the ledger's future
        self.anchor = now

    def now(self) -> float:
        return self.start + (time.time() - self.anchor) * self.factor

    def clock(self) -> AcceleratedClock:
        return AcceleratedClock(self.now(), self.factor)

    def config(self) -> dict:
        return {"kind": "accelerated", "start": self.start, "anchor": self.anchor, "factor": self.factor}


@dataclass
class MeterPlan:
    id: str
    kind: str
    interval: int
    driver: dict = field(default_factory=dict)
    deliberate: list[tuple[int, int]] = field(default_factory=list)   # windows where the test causes a gap


class LedgerWorld:
    def __init__(self, path: Path, ca: LocalCA) -> None:
        self.ledger = EmbeddedLedger.open(path, block_size=20, block_timeout=0.01)
        self.ledger.install("vpp", chaincode)
        self.client = EmbeddedLedgerClient(self.ledger, "vpp", owns_ledger=True)
        self.admin = ca.issue("operator", "admin")

    async def register(self, site: str, meters: list[MeterPlan], keys_dir: Path) -> dict[str, Path]:
        await self.client.submit("RegisterSite", [site, OWNER, "Utrecht"], self.admin)
        key_paths = {}
        for meter in meters:
            asset = f"{meter.id}-asset"
            battery = json.dumps(BATTERY if meter.kind == "battery" else {})
            await self.client.submit("RegisterAsset", [asset, site, ASSET_KINDS[meter.kind], "20000", battery],
                                     self.admin)
            made = provision(keys_dir, meter.id)
            await self.client.submit("RegisterMeter", [meter.id, asset, str(meter.interval), made.public_pem],
                                     self.admin)
            key_paths[meter.id] = made.private_path
        return key_paths

    async def readings(self, meter_id: str, from_start: int, to_start: int) -> list[dict]:
        raw = await self.client.evaluate("GetReadings", [meter_id, str(from_start), str(to_start)], self.admin)
        return json.loads(raw)

    async def close(self) -> None:
        await self.client.close()


def write_edge_config(directory: Path, site: str, meters: list[MeterPlan], key_paths: dict[str, Path],
                      broker_port: int, sim: SimTime, sample_period_s: int = 60) -> Path:
    doc = {
        "site": site,
        "sample_period_s": sample_period_s,
        "driver_factory": "pipeline.fake_meter:create_driver",
        "outbox_path": str(directory / "outbox.db"),
        "state_path": str(directory / "state.db"),
        "window": 1000,
        "broker": {"host": "127.0.0.1", "port": broker_port, "client_id": f"edge-{site}", "keepalive": 10,
                   "reconnect_min_s": 0.1, "reconnect_max_s": 0.5},
        "clock": sim.config(),
        "meters": [{"id": m.id, "kind": m.kind, "interval": m.interval, "key": str(key_paths[m.id]),
                    "driver": m.driver} for m in meters],
    }
    path = directory / "edge.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


class ReaderProcess:
    """``python -m vpp_edge reader`` as a child process; stopped or killed by its pid."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.process: subprocess.Popen | None = None
        self.log = config.parent / "reader.log"

    def start(self) -> ReaderProcess:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")])}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "vpp_edge", "--log-level", "INFO", "reader",
                                             "--config", str(self.config)], stdout=log, stderr=subprocess.STDOUT,
                                            env=env, stdin=subprocess.DEVNULL)
        return self

    def kill9(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def terminate(self, timeout: float = 15.0) -> int:
        os.kill(self.process.pid, signal.SIGTERM)
        return self.process.wait(timeout)

    def ensure_dead(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill9()


def outbox_size(path: Path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path, timeout=5) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def broker_settings(port: int) -> BrokerSettings:
    return BrokerSettings(port=port, keepalive=10, reconnect_min_s=0.1, reconnect_max_s=0.5)


async def wait_for(predicate, within: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + within
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(interval)


async def audit(world: LedgerWorld, state_path: Path, meters: list[MeterPlan], bridge, sim: SimTime) -> dict:
    """Every interval the reader emitted is on the ledger exactly once with the same payload; intervals and recorded
    gaps tile the reader's span without a hole; every gap overlaps a window where the test caused one."""
    store = ReaderStore(state_path)
    summary = {"emitted": 0, "gaps": 0}
    try:
        for meter in meters:
            emitted = {start: canonical(reading["payload"]).decode()
                       for start, reading in store.emitted(meter.id).items()}
            gaps = store.gaps(meter.id)
            assert emitted, f"{meter.id}: nothing emitted"
            last = max(emitted) + meter.interval

            async def complete(meter=meter, emitted=emitted, last=last):
                found = await world.readings(meter.id, sim.start, last)
                return found if len(found) >= len(emitted) else None

            on_ledger = await wait_for(complete, 20, f"{meter.id}: {len(emitted)} readings on the ledger")
            assert {r["start"]: r["payload"] for r in on_ledger} == emitted, f"{meter.id}: ledger != emitted"
            assert len(on_ledger) == len(emitted)
            spans = sorted([(s, s + meter.interval) for s in emitted] + [(g["start"], g["end"]) for g in gaps])
            for (_, end), (start, _) in pairwise(spans):
                assert end == start, f"{meter.id}: hole or overlap between {end} and {start}: {gaps}"
            for gap in gaps:
                assert any(gap["start"] < b and a < gap["end"] for a, b in meter.deliberate), \
                    f"{meter.id}: gap {gap} was not caused by the test ({meter.deliberate})"
            if meter.deliberate:
                assert gaps, f"{meter.id}: the deliberate outage left no recorded gap"
            summary["emitted"] += len(emitted)
            summary["gaps"] += len(gaps)
    finally:
        store.close()
    await wait_for(lambda: bridge.stats["accepted"] >= summary["emitted"], 20, "the bridge's accepted count")
    assert bridge.stats["accepted"] == summary["emitted"], bridge.stats  # each interval accepted exactly once
    assert bridge.stats["rejected"] == 0 and bridge.dead.count() == 0, bridge.dead.entries()
    return summary
