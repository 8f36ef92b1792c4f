"""The whole reading path for fault tests, each part a real process or a real connection that a test can kill:

edge outbox + publisher (in-process, the edge's own classes) ─MQTT→ Mosquitto (child process) ─MQTT→ bridge
(in-process, RestSubmitter) ─HTTP→ REST gateway (child process, VPP_BACKEND=fabric) ─gRPC→ Fabric (native network).

The load is made the way the edge makes it: cumulative counter samples per meter, closed into 5-minute intervals by
the edge's aggregator (``vpp_edge.intervals.advance``), signed with each meter's key, put in the durable outbox.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import requests
from vpp_edge.bridge import RestSubmitter, SubmitUnavailableError
from vpp_edge.intervals import Interval, MeterSpec, advance
from vpp_edge.keys import MeterKey
from vpp_edge.mqtt import topics
from vpp_edge.mqtt.outbox import NewMessage, Outbox
from vpp_edge.mqtt.publisher import BrokerSettings, OutboxPublisher
from vpp_edge.sample import COUNTERS, Sample
from vpp_edge.signing import sign_interval

DAY = 86_400
INTERVAL = 300
SAMPLES_PER_INTERVAL = 3
COUNTER = next(iter(COUNTERS["generation"]))   # the generator's cumulative Wh register


# -- the REST gateway ------------------------------------------------------------------------------------------------

def copy_org_cas(network_dir: Path, target: Path) -> dict[str, Path]:
    """The network's own org CAs as the gateway's VPP_FABRIC_CA_DIR_ORG* folders (cert.pem, key.pem)."""
    dirs = {}
    for n in (1, 2):
        org_ca = network_dir / "organizations" / "peerOrganizations" / f"org{n}.example.com" / "ca"
        folder = target / f"ca-org{n}"
        folder.mkdir(parents=True)
        shutil.copy(org_ca / f"ca.org{n}.example.com-cert.pem", folder / "cert.pem")
        shutil.copy(org_ca / "priv_sk", folder / "key.pem")
        (folder / "key.pem").chmod(0o600)
        dirs[f"Org{n}MSP"] = folder
    return dirs


class FabricGatewayProcess:
    """``python -m vpp_gateway.api`` with VPP_BACKEND=fabric on a fixed port and data folder; killed by pid."""

    def __init__(self, data: Path, port: int, info: dict, channel: str, ca_dirs: dict[str, Path]) -> None:
        self.data, self.port = data, port
        self.url = f"http://127.0.0.1:{port}"
        org1, org2 = info["orgs"]["org1"]["peer"], info["orgs"]["org2"]["peer"]
        self.env = {**os.environ, "VPP_DATA_DIR": str(data), "VPP_PORT": str(port), "VPP_HOST": "127.0.0.1",
                    "VPP_BACKEND": "fabric", "VPP_FABRIC_PEER": org1["address"], "VPP_FABRIC_TLS_CA": org1["tls_ca"],
                    "VPP_FABRIC_TLS_NAME": org1["name"],
                    "VPP_FABRIC_OTHER_PEERS": f"{org2['address']}|{org2['tls_ca']}|{org2['name']}",
                    "VPP_FABRIC_CHANNEL": channel, "VPP_FABRIC_CA_DIR_ORG1": str(ca_dirs["Org1MSP"]),
                    "VPP_FABRIC_CA_DIR_ORG2": str(ca_dirs["Org2MSP"]), "VPP_RATE_PER_MIN": "0",
                    "VPP_MAX_PAGE": "500"}
        self.process: subprocess.Popen | None = None
        self.log = data / "gateway.log"

    def start(self, timeout: float = 60) -> FabricGatewayProcess:
        module, env = "vpp_gateway.api", self.env
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", module], stdout=log, stderr=subprocess.STDOUT,
                                            env=env, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/api/v1/ready", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            time.sleep(0.1)
        raise AssertionError("the gateway did not become ready: " + self.log.read_text()[-3000:])

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.alive:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill9()


class Api:
    """The gateway's REST API as the admin API key (the edge bridge's key)."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base = base_url.rstrip("/") + "/api/v1"
        self.http = requests.Session()
        self.http.headers["X-API-Key"] = api_key

    def call(self, method: str, path: str, expect: tuple[int, ...] = (200, 201), attempts: int = 6, **kw) -> dict:
        """One call; 409 MVCC_CONFLICT and 503 (a concurrent registration, a node restarting) are tried again."""
        for attempt in range(attempts):
            response = self.http.request(method, self.base + path, timeout=60, **kw)
            if response.status_code in expect:
                return response.json()
            code = response.json().get("error", {}).get("code") if response.content else None
            if code not in ("MVCC_CONFLICT", "LEDGER_UNAVAILABLE") or attempt == attempts - 1:
                raise AssertionError(f"{method} {path}: {response.status_code} {response.text[:500]}")
            time.sleep(0.5 * (attempt + 1))
        raise AssertionError("unreachable")

    def readings(self, meter: str, start: int, end: int) -> list[dict]:
        """Every reading of ``meter`` in [start, end), following next_cursor."""
        rows, cursor = [], None
        while True:
            params = {"from": start, "to": end, "limit": 500, **({"cursor": cursor} if cursor else {})}
            page = self.call("GET", f"/meters/{meter}/readings", params=params)
            rows += page["readings"]
            cursor = page.get("next_cursor")
            if not cursor:
                return rows


# -- the edge's load ------------------------------------------------------------------------------------------------

@dataclass
class Produced:
    wh: int
    made_at: float      # time.monotonic() when it went into the outbox


class EdgeLoad:
    """Signed intervals for ``keys``' meters at ``rate`` readings per second, through the edge's outbox.

    Each round advances every meter by one interval: ``SAMPLES_PER_INTERVAL`` counter samples, the aggregator
    closes the interval they complete, the interval is signed and all of the round's readings go into the outbox in
    one transaction. ``sample_energy[(meter, t)]`` is the counter increment from the sample at t to the next one (the
    "samples" side of the audit), ``produced[(meter, start)]`` every reading put into the outbox.
    """

    def __init__(self, directory: Path, site: str, keys: dict[str, MeterKey], broker: BrokerSettings, *,
                 rate: float, first_start: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.site = site
        self.keys = keys
        self.rate = rate
        self.first_start = first_start
        self.outbox = Outbox(directory / "outbox.db")
        self.publisher = OutboxPublisher(self.outbox, f"edge-{site}", broker, window=1000)
        self.specs = {m: MeterSpec(m, "generation", INTERVAL) for m in keys}
        self.states: dict[str, object] = dict.fromkeys(keys)
        self.counters = dict.fromkeys(keys, 0)
        self.produced: dict[tuple[str, int], Produced] = {}
        self.sample_energy: dict[tuple[str, int], int] = {}
        self.rounds = 0
        self.error: BaseException | None = None
        self._lock = threading.Lock()   # produced is read by the test while the load thread adds to it
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started_at = 0.0
        self.stopped_at = 0.0

    def start(self) -> EdgeLoad:
        self.publisher.start()
        self.started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"load-{self.site}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        per_round = len(self.keys)
        try:
            while not self._stop.is_set():
                due = int((time.monotonic() - self.started_at) * self.rate / per_round) + 1
                while self.rounds < due and not self._stop.is_set():
                    self._round()
                self._stop.wait(0.02)
        except BaseException as exc:  # surfaced by waiting(): a broken load must fail the test, not stall it
            self.error = exc
            raise

    @staticmethod
    def power_w(meter: str, at: int) -> int:
        return 500 + zlib.crc32(f"{meter}:{at}".encode()) % 2500   # deterministic, never above the asset's limit

    def _round(self) -> None:
        base = self.first_start + self.rounds * INTERVAL
        step = INTERVAL // SAMPLES_PER_INTERVAL
        messages, made = [], []
        for meter, key in self.keys.items():
            samples = []
            for k in range(SAMPLES_PER_INTERVAL):
                at = base + k * step
                if self.states[meter] is not None or k or self.rounds:
                    wh = self.power_w(meter, at) * step // 3600
                    self.counters[meter] += wh
                    self.sample_energy[(meter, at - step)] = wh   # the energy of [at - step, at)
                samples.append(Sample(meter, "generation", at, {COUNTER: self.counters[meter]}))
            self.states[meter], records = advance(self.specs[meter], self.states[meter], samples)
            for record in records:
                assert isinstance(record, Interval), record   # no gap, no discarded sample in this load
                reading = sign_interval(record, key, 1)
                messages.append(NewMessage(topics.interval(self.site, meter), _json(reading),
                                           key=f"{meter}:{record.start}"))
                made.append((meter, record.start, reading["payload"]["wh"]))
        self.outbox.put_many(messages)
        now = time.monotonic()
        with self._lock:
            for meter, start, wh in made:
                self.produced[(meter, start)] = Produced(wh, now)
        self.publisher.notify()
        self.rounds += 1

    def stop_producing(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self.stopped_at = time.monotonic()

    def snapshot(self) -> dict[tuple[str, int], Produced]:
        with self._lock:
            return dict(self.produced)

    @property
    def closed_until(self) -> int:
        """The end of the last interval the aggregator closed (it needs the sample at an interval's end)."""
        return self.first_start + max(self.rounds - 1, 0) * INTERVAL

    def samples_by_day(self) -> dict[tuple[str, int], int]:
        """Per (meter, UTC day): the counter increments between consecutive samples up to :attr:`closed_until`."""
        totals: defaultdict[tuple[str, int], int] = defaultdict(int)
        for (meter, since), wh in self.sample_energy.items():
            if since < self.closed_until:
                totals[(meter, since // DAY)] += wh
        return dict(totals)

    @property
    def achieved_rate(self) -> float:
        end = self.stopped_at or time.monotonic()
        return len(self.produced) / max(end - self.started_at, 1e-9)

    def waiting(self) -> int:
        """Readings in the outbox not yet acknowledged by the broker."""
        if self.error is not None:
            raise AssertionError(f"the load failed: {self.error!r}")
        return len(self.outbox)

    def close(self) -> None:
        self._stop.set()
        self.publisher.stop()
        self.outbox.close()


def _json(obj: dict) -> bytes:
    import json

    return json.dumps(obj, separators=(",", ":")).encode()


# -- the bridge's submitter, with a record of every POST --------------------------------------------------------------

@dataclass
class Post:
    started: float
    ended: float
    ok: bool
    tx_id: str | None
    readings: list[tuple[str, int]]
    outcome: str
    answers: dict[tuple[str, int], str] = field(default_factory=dict)   # reading -> accepted | duplicate | ...


class RecordingSubmitter(RestSubmitter):
    """The bridge's RestSubmitter; also keeps each POST's timing, outcome and transaction id (the gateway puts the
    tx_id of an uncertain submit into its 503 body), so the audit can ask the peers what became of each."""

    def __init__(self, base_url: str, api_key: str) -> None:
        super().__init__(base_url, api_key)
        self.posts: list[Post] = []
        self.in_flight_since: float | None = None
        self._last_body: dict = {}
        original = self._session.post

        def post(*args, **kwargs):
            response = original(*args, **kwargs)
            try:
                self._last_body = response.json()
            except ValueError:
                self._last_body = {}
            return response

        self._session.post = post

    def _post(self, readings: list[dict]):
        keys = [(r["payload"]["meter"], r["payload"]["start"]) for r in readings]
        started = self.in_flight_since = time.monotonic()
        self._last_body = {}
        try:
            result = super()._post(readings)
        except SubmitUnavailableError as exc:
            body = self._last_body if isinstance(self._last_body, dict) else {}
            tx_id = (body.get("error") or {}).get("tx_id") if isinstance(body.get("error"), dict) else None
            self.posts.append(Post(started, time.monotonic(), False, tx_id, keys, exc.reason))
            raise
        finally:
            self.in_flight_since = None
        answers = {keys[o.index]: o.status for o in result.results}
        self.posts.append(Post(started, time.monotonic(), True, result.tx_id, keys, "committed", answers))
        return result


async def wait_mid_submit(submitter: RecordingSubmitter, at_least_s: float = 0.1, within: float = 30) -> None:
    """Until a POST has been in flight for ``at_least_s`` (its transaction is being endorsed or ordered)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        since = submitter.in_flight_since
        if since is not None and time.monotonic() - since >= at_least_s:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no POST in flight")
