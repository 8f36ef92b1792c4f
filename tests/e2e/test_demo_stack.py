"""``make demo`` end to end: the demo as a subprocess (temp data folder, free ports) over ten simulated days, stopped
with SIGINT half-way and started again, then audited through the REST API, the readers' journals, the samples seen
on MQTT and the embedded ledger file.

What must hold: every interval a reader signed is on the ledger exactly once with the same values, and no gap was
recorded (the restart continued the simulated time); per meter and full day, the energy the samples' counters say
(interpolated at the day's boundaries, as the reader does) = the sum of the day's intervals = what the ledger did
with it (Tgen minted; battery charge covered by Tgen or the grid; load covered by tokens or the grid); the supply
totals match the readings and GetSupply's conservation holds; the ledger file audits clean and grew across the
restart; no process the demo started is left.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import requests
from vpp_gateway.embedded.audit import audit

pytestmark = [pytest.mark.slow, pytest.mark.mqtt]

REPO = Path(__file__).resolve().parents[2]
MOSQUITTO = Path("/usr/sbin/mosquitto")
SITES = 3
DAYS_BACK = 10
SAMPLE_PERIOD_S = 600
CATCH_UP_WALL_S = 110          # the factor is chosen so that simulated time reaches now after about this long
DAY = 86_400
VALUE_FIELDS = {"generation": ("wh",), "load": ("wh",), "battery": ("charge_wh", "discharge_wh")}
COUNTER_OF = {"generated_wh": "wh", "consumed_wh": "wh", "charged_wh": "charge_wh", "discharged_wh": "discharge_wh"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DemoRun:
    """One ``python scripts/demo`` process; its stdout in a file the test reads as it grows."""

    def __init__(self, data: Path, args: list[str], name: str) -> None:
        self.out = data.parent / f"{name}.out"
        self.handle = self.out.open("wb")
        self.process = subprocess.Popen([sys.executable, str(REPO / "scripts" / "demo"), "--data", str(data), *args],
                                        cwd=REPO, stdout=self.handle, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_for(self, predicate, timeout_s: float, what: str) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = self.text()
            if predicate(text):
                return text
            if self.process.poll() is not None:
                pytest.fail(f"the demo exited ({self.process.returncode}) before {what}:\n{self.text()[-4000:]}")
            time.sleep(0.5)
        self.interrupt()
        pytest.fail(f"no {what} within {timeout_s:.0f} s:\n{self.text()[-4000:]}")

    def interrupt(self, timeout_s: float = 120) -> int:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout_s)
        finally:
            if self.process.poll() is None:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
            self.handle.close()


class SampleCollector:
    """Every sample the readers publish (QoS 1), across broker restarts."""

    def __init__(self, port: int) -> None:
        self.samples: dict[str, dict[int, dict]] = defaultdict(dict)
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="e2e-sample-collector")
        self.client.on_connect = lambda c, u, f, rc, p=None: c.subscribe("vpp/+/+/sample", qos=1)
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.05, 0.2)
        self.port = port

    def _on_message(self, client, userdata, message) -> None:
        doc = json.loads(message.payload)
        with self.lock:
            self.samples[doc["meter"]][doc["taken_at"]] = doc["counters"]

    def start(self) -> None:
        self.client.connect_async("127.0.0.1", self.port, 10)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def counter_at(samples: dict[int, dict], at: int, counter: str, max_span: int) -> int | None:
    """The counter at ``at`` interpolated between the samples around it and rounded down, as the reader does;
    None when the collector has no pair of samples close around it."""
    before = max((t for t in samples if t <= at), default=None)
    after = min((t for t in samples if t >= at), default=None)
    if before is None or after is None or after - before > max_span:
        return None
    a, b = samples[before][counter], samples[after][counter]
    return a if after == before else a + (b - a) * (at - before) // (after - before)


class Rest:
    def __init__(self, base_url: str, email: str, password: str) -> None:
        self.base = base_url + "/api/v1"
        answer = requests.post(f"{self.base}/auth/login", json={"email": email, "password": password}, timeout=30)
        assert answer.status_code == 200, answer.text
        self.headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def get(self, path: str, **params) -> dict:
        answer = requests.get(f"{self.base}{path}", params=params, headers=self.headers, timeout=60)
        assert answer.status_code == 200, f"GET {path}: {answer.status_code} {answer.text[:300]}"
        return answer.json()

    def readings(self, meter: str, start: int, end: int) -> list[dict]:
        found = []
        for lo in range(start, end, 20 * DAY):   # the gateway serves at most 3,000 intervals per range
            cursor = None
            while True:
                params = {"from": lo, "to": min(lo + 20 * DAY, end), "limit": 200}
                page = self.get(f"/meters/{meter}/readings", **params, **({"cursor": cursor} if cursor else {}))
                found += page["readings"]
                cursor = page["next_cursor"]
                if not cursor:
                    break
        return found


def journals(data: Path) -> tuple[dict[str, dict[int, dict]], dict[str, list]]:
    emitted, gaps = {}, {}
    for state in sorted((data / "edge").glob("*/state.db")):
        with sqlite3.connect(f"file:{state}?mode=ro", uri=True) as db:
            for meter, start, reading in db.execute("SELECT meter, start, reading FROM emitted"):
                emitted.setdefault(meter, {})[start] = json.loads(reading)["payload"]
            for meter, start, end in db.execute("SELECT meter, start, end FROM gaps"):
                gaps.setdefault(meter, []).append((start, end))
    return emitted, gaps


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(not MOSQUITTO.exists(), reason="needs Debian's Mosquitto at /usr/sbin/mosquitto")
def test_demo_runs_ten_days_restarts_and_balances(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    http_port, mqtt_port = free_port(), free_port()
    now = time.time()
    sim_start = (int(now) // DAY - DAYS_BACK) * DAY
    factor = math.ceil((now - sim_start) / CATCH_UP_WALL_S)
    args = ["--sites", str(SITES), "--factor", str(factor), "--days-back", str(DAYS_BACK), "--port", str(http_port),
            "--mqtt-port", str(mqtt_port), "--sample-period", str(SAMPLE_PERIOD_S), "--progress-every", "10",
            # at ~8,000x a 0.2 s pause of a reader on this 2-core machine is 30 simulated minutes: allow 2 h
            "--max-gap-intervals", "8"]
    collector = SampleCollector(mqtt_port)
    collector.start()
    pids_seen: set[int] = set()
    try:
        # run 1: half-way through the ten days, then Ctrl-C
        first = DemoRun(data, args, "run1")
        first.wait_for(lambda t: "Ctrl-C stops everything" in t, 120, "start")
        pids_seen |= set(json.loads((data / "pids.json").read_text()).values())
        half_way = sim_start + DAYS_BACK // 2 * DAY
        state = json.loads((data / "demo.json").read_text())["sim"]
        wall_half_way = state["anchor"] + (half_way - state["start"]) / state["factor"]
        time.sleep(max(0.0, wall_half_way - time.time()))
        assert first.interrupt() == 0, first.text()[-3000:]
        assert "stopped; the next start continues" in first.text()
        report = audit(data / "gateway" / "ledger.db")
        assert report.ok, report.summary()
        height_after_first = report.height

        # run 2: the same data folder continues (no re-registration) until simulated time has caught up
        second = DemoRun(data, args, "run2")
        text = second.wait_for(lambda t: "simulated time has caught up" in t, CATCH_UP_WALL_S + 120, "catch-up")
        assert "already registered ok" in text and "continuing the demo" in text, text
        assert "ALREADY_EXISTS" not in text and "error" not in text.lower(), text
        pids_seen |= set(json.loads((data / "pids.json").read_text()).values())
        assert second.interrupt() == 0, second.text()[-3000:]
        assert "bridge: drained" in second.text(), second.text()[-3000:]
    finally:
        collector.stop()
    left = sorted(pid for pid in pids_seen if alive(pid))
    assert not left, f"processes left running: {left}"

    report = audit(data / "gateway" / "ledger.db")
    assert report.ok, report.summary()
    assert report.height > height_after_first, (height_after_first, report.height)

    # a gateway on the final ledger (the demo is stopped), audited through its REST API
    accounts = {row.split()[0]: row.split() for row in (data / "ACCOUNTS.txt").read_text().splitlines()
                if row.strip() and not row.startswith("#") and row.split()[0] in ("admin",)}
    env = {**os.environ, "VPP_DATA_DIR": str(data / "gateway"), "VPP_PORT": str(http_port), "VPP_RATE_PER_MIN": "0",
           "PYTHONPATH": str(REPO / "chaincode"), "VPP_WEB_DIR": str(REPO / "web" / "dist")}
    with (tmp_path / "audit-gateway.log").open("wb") as log:
        gateway = subprocess.Popen([sys.executable, "-m", "vpp_gateway.api"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/api/v1/ready", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline and gateway.poll() is None, (tmp_path / "audit-gateway.log").read_text()
            time.sleep(0.3)
        check_ledger(Rest(base, accounts["admin"][1], accounts["admin"][2]), data, collector, sim_start)
        check_web_app_numbers(base, data, tmp_path)
    finally:
        os.kill(gateway.pid, signal.SIGTERM)
        gateway.wait(30)


def check_ledger(api: Rest, data: Path, collector: SampleCollector, sim_start: int,
                 max_span: int = 2 * SAMPLE_PERIOD_S) -> None:
    """``max_span``: the widest pair of samples (simulated seconds) the day boundaries are interpolated between; at
    most the readers' --max-gap-intervals (wider, a reader records a gap instead of interpolating)."""
    emitted, gaps = journals(data)
    assert len(emitted) == 3 * SITES, sorted(emitted)
    assert not any(gaps.values()), f"gaps recorded (the restart should continue without one): {gaps}"
    end = int(time.time()) + DAY
    totals = defaultdict(int)
    checked_days = {}
    for meter, journal in sorted(emitted.items()):
        kind = next(iter(journal.values()))["kind"]
        on_ledger = api.readings(meter, sim_start, end)
        starts = [r["start"] for r in on_ledger]
        assert len(starts) == len(set(starts)), f"{meter}: an interval is on the ledger twice"
        assert set(starts) == set(journal), (f"{meter}: signed but not on the ledger "
                                             f"{sorted(set(journal) - set(starts))[:5]}, on the ledger but never "
                                             f"signed {sorted(set(starts) - set(journal))[:5]}")
        assert (max(journal) - min(journal)) >= 9 * DAY, f"{meter}: only {len(journal)} intervals"
        by_day = defaultdict(lambda: defaultdict(int))
        for r in on_ledger:
            payload = journal[r["start"]]
            assert r["values"] == {k: payload[k] for k in r["values"]}, f"{meter} {r['start']}: values differ"
            effects, day = r["effects"], by_day[r["start"] // DAY * DAY]
            day["n"] += 1
            for field in VALUE_FIELDS[kind]:
                day[field] += r["values"][field]
            if kind == "generation":
                assert effects["minted_tgen"] == r["values"]["wh"]
                totals["tgen_minted"] += effects["minted_tgen"]
            elif kind == "battery":
                assert effects["burned_tgen"] + effects["grid_charge_wh"] == r["values"]["charge_wh"]
                day["tokens_or_grid"] += effects["burned_tgen"] + effects["grid_charge_wh"]
                totals["tgen_burned"] += effects["burned_tgen"]
                totals["tstorage_minted"] += effects["minted_tstorage"]
                totals["tstorage_burned"] += sum(a["amount"] for a in effects["algorithm"] if a["type"] == "burn")
            else:
                covered = effects["burned_tgen"] + effects["burned_tstorage"] + effects["grid_import_wh"]
                assert covered == r["values"]["wh"], f"{meter} {r['start']}: {effects}"
                day["tokens_or_grid"] += covered
                totals["tgen_burned"] += effects["burned_tgen"]
                totals["tstorage_burned"] += effects["burned_tstorage"]
        # per full day: the samples' counters at the day's boundaries = the day's intervals = the ledger's effects
        samples = collector.samples.get(meter, {})
        checked = 0
        for day_start, day in sorted(by_day.items()):
            if day["n"] != 96:
                continue  # the first and the last day are partial
            for counter, field in COUNTER_OF.items():
                if field not in VALUE_FIELDS[kind] or counter not in next(iter(samples.values()), {}):
                    continue
                lo = counter_at(samples, day_start, counter, max_span)
                hi = counter_at(samples, day_start + DAY, counter, max_span)
                if lo is None or hi is None:
                    continue
                assert hi - lo == day[field], f"{meter} day {day_start}: counters say {hi - lo} Wh, intervals " \
                                              f"{day[field]} Wh ({counter})"
                checked += 1
            primary = VALUE_FIELDS[kind][0]
            if kind != "generation":
                assert day["tokens_or_grid"] == day[primary], f"{meter} day {day_start}"
        checked_days[meter] = checked
    assert all(n >= 6 for n in checked_days.values()), f"too few days checked against samples: {checked_days}"
    print(f"\nreadings per meter: { {m: len(j) for m, j in sorted(emitted.items())} }\n"
          f"meter-days checked against the samples' counters: {checked_days}\ntotals: {dict(totals)}")

    supply = api.get("/supply")
    assert supply["Tgen"]["conserved"] and supply["Tstorage"]["conserved"], supply
    assert supply["Tgen"]["minted"] == totals["tgen_minted"] > 0, (supply, dict(totals))
    assert supply["Tgen"]["burned"] == totals["tgen_burned"], (supply, dict(totals))
    assert supply["Tstorage"]["minted"] == totals["tstorage_minted"] > 0, (supply, dict(totals))
    assert supply["Tstorage"]["burned"] == totals["tstorage_burned"], (supply, dict(totals))


def check_web_app_numbers(base: str, data: Path, tmp_path: Path) -> None:
    """The dashboard each demo owner sees in Chromium shows the ledger's balances (GET /me/balance)."""
    chromium = os.environ.get("VPP_CHROMIUM", "/usr/bin/chromium")
    node = shutil.which("node")
    assert node and Path(chromium).exists(), "node and Chromium are installed by make setup"
    assert (REPO / "web" / "dist" / "index.html").exists(), "web/dist is built by make setup"
    owners = [{"email": row.split()[1], "password": row.split()[2]}
              for row in (data / "ACCOUNTS.txt").read_text().splitlines()
              if row.strip() and not row.startswith("#") and row.split()[0] == "owner"]
    assert len(owners) == 3
    scenario = tmp_path / "dashboard.json"
    scenario.write_text(json.dumps({"base_url": base, "chromium": chromium, "owners": owners}))
    result = subprocess.run([node, str(REPO / "tests" / "e2e" / "dashboard.mjs"), str(scenario)],
                            capture_output=True, text=True, timeout=180, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    shown = {row["email"]: row for row in json.loads(result.stdout.strip().splitlines()[-1])}

    def whole(text: str) -> int:  # "12,345 Tgen" -> 12345
        return int(re.sub(r"[^0-9]", "", text.split()[0]))

    def micro(text: str) -> int:  # "10.00" (or "€10.00") -> 10_000_000
        number = Decimal(re.sub(r"[^0-9.]", "", text))
        return int(number * 1_000_000)

    for owner in owners:
        balance = Rest(base, owner["email"], owner["password"]).get("/me/balance")
        card = shown[owner["email"]]
        assert whole(card["tgen"]) == balance["Tgen"], (card, balance)
        assert whole(card["tstorage"]) == balance["Tstorage"] + balance["TstorageReserved"], (card, balance)
        assert micro(card["credit"]) == balance["credit_micro"], (card, balance)
    print(f"web app dashboards equal the ledger for {len(owners)} owners: {list(shown.values())}")
