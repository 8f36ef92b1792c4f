"""Issue 7 end to end on the demo stack: a NEW owner is onboarded onto the running demo (embedded ledger) in headless
Chromium (tests/browser/onboarding.mjs) and trades what the simulated meters produced.

The demo runs as a subprocess (temp data folder, free ports, one site of its own) at 900x, still catching up, so a
simulated quarter-hour passes every wall second. The owner signs up, verifies, registers a site with PV, battery
and load; the test runs the installer's command (``python scripts/demo attach``); the admin registers the meters in
the browser; the demo starts a simulator and an edge reader for the site. The owner's live dashboard must show Tgen
within a minute, then Tstorage; the owner offers Tstorage, the utility accepts, the owner downloads the day's CSV
and XML statements, whose totals must equal the ledger's statement and the edge reader's signed intervals. SIGINT
then stops the demo, every process it started included.

Screenshots (one per step, axe-core on each), the statements and the logs go to tests/browser/artifacts/onboarding/.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import pytest
import requests
from vpp_edge.simulators.sites import BATTERY_UNIT, LOAD_UNIT, PV_UNIT, build_site

from .harness import PYTHON, REPO, free_port
from .test_web_e2e import CHROMIUM, prerequisites  # noqa: F401  (the fixture: Chromium, node, a built web/dist)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.mqtt]

ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "onboarding"
SCRIPT = Path(__file__).resolve().parent / "onboarding.mjs"
MOSQUITTO = Path("/usr/sbin/mosquitto")
DAY = 86_400
FACTOR = 900                # a 15-minute interval every wall second while simulated time catches up
DEMO_SITES = 1              # the demo's own sites; the new owner's site gets the next simulated devices
SEED = 1                    # the demo's default seed (demo.json)
SITE = "new-owner-home"
ASSETS = {"generator": "roof-pv", "battery": "garage-battery", "load": "house-load"}
RATE = "0.30"               # per kWh: 300,000 micro-units


def clear_day_back(index: int) -> int:
    """Days back (≥ 12) to a simulated day on which site ``index``'s PV covers its load and the battery's charging in
    some morning interval: on an overcast day the owner would never hold Tgen, every Wh going to the load or the
    battery at once. The devices are the demo's own (vpp_edge.simulators.sites, same seed), counters read as the
    meters would be."""
    today = int(time.time()) // DAY * DAY
    for back in range(12, 80):
        start = today - back * DAY
        devices = {d.unit_id: d.sim for d in build_site(index, SEED, start)}
        previous = _counters(devices, start + 7 * 3600)
        for k in range(1, 16):   # 07:00-11:00 UTC
            now = _counters(devices, start + 7 * 3600 + k * 900)
            generated, charged, consumed = (a - b for a, b in zip(now, previous, strict=True))
            if generated > charged + consumed + 50:
                return back
            previous = now
    raise AssertionError("no clear simulated morning in 80 days")


def _counters(devices: dict, t: float) -> tuple[int, int, int]:
    """Generated, charged and consumed Wh counters of a simulated site at simulated time ``t``."""
    return (devices[PV_UNIT].values_at(t)["WH"], devices[BATTERY_UNIT].values_at(t)["TotWhAbs"],
            int(devices[LOAD_UNIT].values_at(t)["import_kwh"] * 1000))


class DemoProcess:
    """``python scripts/demo`` with its output in a file the test reads as it grows."""

    def __init__(self, data: Path, args: list[str], out: Path) -> None:
        self.out = out
        self.handle = out.open("wb")
        self.process = subprocess.Popen([str(PYTHON), str(REPO / "scripts" / "demo"), "--data", str(data), *args],
                                        cwd=REPO, stdout=self.handle, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_for(self, needle: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if needle in (text := self.text()):
                return text
            assert self.process.poll() is None, f"the demo exited before {needle!r}:\n{self.text()[-4000:]}"
            time.sleep(0.3)
        raise AssertionError(f"no {needle!r} within {timeout_s:.0f} s:\n{self.text()[-4000:]}")

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


def installer(data: Path, *args: str) -> subprocess.CompletedProcess:
    """``python scripts/demo attach --data <data> ...``: the installer's command."""
    return subprocess.run([str(PYTHON), "scripts/demo", "attach", "--data", str(data), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def accounts(data: Path) -> dict[str, dict]:
    rows = [line.split() for line in (data / "ACCOUNTS.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    return {role: {"email": email, "password": password, "ledger_account": account}
            for role, email, password, account in rows if role in ("admin", "utility")}


def owner_api(base: str, email: str, password: str) -> requests.Session:
    session = requests.Session()
    answer = session.post(f"{base}/api/v1/auth/login", json={"email": email, "password": password}, timeout=30)
    assert answer.status_code == 200, answer.text
    session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    return session


def get(session: requests.Session, base: str, path: str, **params) -> dict:
    answer = session.get(f"{base}/api/v1{path}", params=params, timeout=60)
    assert answer.status_code == 200, f"GET {path}: {answer.status_code} {answer.text[:300]}"
    return answer.json()


def signed_intervals(data: Path, site: str) -> dict[str, dict[int, dict]]:
    """What the site's edge reader signed (its journal): meter -> start -> payload."""
    found: dict[str, dict[int, dict]] = defaultdict(dict)
    with sqlite3.connect(f"file:{data / 'edge' / site / 'state.db'}?mode=ro", uri=True) as db:
        for meter, start, reading in db.execute("SELECT meter, start, reading FROM emitted"):
            found[meter][start] = json.loads(reading)["payload"]
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(not MOSQUITTO.exists(), reason="needs Debian's Mosquitto at /usr/sbin/mosquitto")
def test_new_owner_onboarded_onto_the_demo(prerequisites: str, tmp_path: Path) -> None:  # noqa: F811
    node = prerequisites
    data = tmp_path / "demo"
    port = free_port()
    days_back = clear_day_back(DEMO_SITES)
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    demo_args = ["--sites", str(DEMO_SITES), "--factor", str(FACTOR), "--days-back", str(days_back),
                 "--port", str(port), "--sample-period", "300", "--max-gap-intervals", "8", "--progress-every", "10"]
    demo = DemoProcess(data, demo_args, tmp_path / "demo.out")
    pids_seen: set[int] = set()
    try:
        demo.wait_for("Ctrl-C stops everything", 120)
        sim_start = int(json.loads((data / "demo.json").read_text())["model_start"])  # midnight UTC, days_back ago
        statement_day = time.strftime("%Y-%m-%d", time.gmtime(sim_start))
        pids_seen |= set(json.loads((data / "pids.json").read_text()).values())
        base = f"http://127.0.0.1:{port}"
        demo_accounts = accounts(data)

        # what the owner registers: the devices the installer will fit (the next simulated site)
        preview = json.loads(installer(data, "--preview", "--json").stdout)
        assert preview["index"] == DEMO_SITES
        # nothing to attach before the owner has registered the site: a clear refusal, nothing recorded
        refused = installer(data, "--site", SITE, "--pv", "a", "--battery", "b", "--load", "c")
        assert (refused.returncode, refused.stderr.split(":")[0]) == (2, "error SITE_NOT_FOUND"), refused.stderr
        assert not (data / "attached.json").exists()
        assets = [{"asset_id": ASSETS["generator"], "kind": "generator",
                   "max_power_w": preview["generator"]["max_power_w"]},
                  {"asset_id": ASSETS["battery"], "kind": "battery", "max_power_w": preview["battery"]["max_power_w"],
                   "capacity_kwh": str(preview["battery"]["capacity_wh"] / 1000).rstrip("0").rstrip(".")},
                  {"asset_id": ASSETS["load"], "kind": "load", "max_power_w": preview["load"]["max_power_w"]}]
        owner = {"email": f"new-owner-{secrets.token_hex(3)}@vpp.test", "password": secrets.token_urlsafe(18) + "-Aa1"}
        scenario = {
            "base_url": base, "repo": str(REPO), "gateway_log": str(data / "logs" / "gateway.log"),
            "chromium": str(CHROMIUM), "artifacts_dir": str(ARTIFACTS), "owner": owner,
            "admin": demo_accounts["admin"], "utility": demo_accounts["utility"], "site_id": SITE, "assets": assets,
            "attach_command": [str(PYTHON), "scripts/demo", "attach", "--data", str(data), "--site", SITE,
                               "--pv", ASSETS["generator"], "--battery", ASSETS["battery"], "--load", ASSETS["load"],
                               "--json"],
            "tgen_within_s": 60, "tstorage_within_s": 90, "min_free_tstorage": 200, "rate": RATE,
            "statement_day": statement_day, "day_complete_within_s": 150,
        }
        scenario_path = tmp_path / "scenario.json"
        scenario_path.write_text(json.dumps(scenario))
        run = subprocess.run([node, str(SCRIPT), str(scenario_path)], cwd=REPO, capture_output=True, text=True,
                             timeout=280)
        (ARTIFACTS / "onboarding.log").write_text(run.stderr)
        lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
        assert lines, f"no result from the browser script (exit {run.returncode}):\n{run.stderr[-4000:]}"
        result = json.loads(lines[-1])
        assert "error" not in result, f"{result['error']}\n{run.stderr[-3000:]}\n{demo.text()[-2000:]}"
        assert result["violations"] == [], json.dumps(result["violations"], indent=1)
        assert run.returncode == 0, run.stderr[-3000:]
        assert len(result["steps"]) == 12
        for step in result["steps"]:
            assert (ARTIFACTS / step["screenshot"]).stat().st_size > 1000

        # the installer's command: three meters of the right kinds, sized from the devices, keys 0600
        assert sorted((m["kind"], m["asset_id"]) for m in result["attach"]) == sorted(ASSETS.items())
        for meter in result["attach"]:
            assert meter["max_power_w"] == preview[meter["kind"]]["max_power_w"]
            key = data / "edge" / "keys" / f"{meter['meter_id']}.key.pem"
            assert key.stat().st_mode & 0o777 == 0o600
        # the running demo started the site once the admin had registered its meters
        text = demo.text()
        assert f"site {SITE} attached: 3 meters, reader pid" in text, text[-3000:]
        pids = json.loads((data / "pids.json").read_text())
        assert {f"reader-{SITE}", f"simulators-{SITE}"} <= set(pids), pids
        pids_seen |= set(pids.values())
        # the attachment cannot be changed or undone once its meters are registered
        again = installer(data, "--site", SITE, "--pv", ASSETS["battery"], "--battery", ASSETS["generator"],
                          "--load", ASSETS["load"])
        assert (again.returncode, again.stderr.split(":")[0]) == (2, "error ALREADY_ATTACHED"), again.stderr
        undo = installer(data, "--site", SITE, "--cancel")
        assert (undo.returncode, undo.stderr.split(":")[0]) == (2, "error METERS_REGISTERED"), undo.stderr

        # Tgen within a minute of wall time after the meters were registered (15 simulated hours at 900x)
        assert result["tgen_seconds"] <= 60, result["tgen_seconds"]
        session = owner_api(base, owner["email"], owner["password"])
        meters = {m["kind"]: m["meter_id"] for m in result["attach"]}

        # the sale: all the offered Tstorage went to the utility at the rate
        quantity = result["offer_quantity"]
        assert quantity >= 100
        offer = get(session, base, f"/offers/{result['offer_id']}")
        assert (offer["token"], offer["seller"], offer["status"]) == ("Tstorage", result["owner_account"], "sold")
        trades = get(session, base, f"/offers/{result['offer_id']}/trades")["trades"]
        price = quantity * 300_000 // 1000
        assert [(t["quantity_wh"], t["price_micro"], t["buyer"]) for t in trades] == \
            [(quantity, price, demo_accounts["utility"]["ledger_account"])]
        assert get(session, base, "/me/balance")["credit_micro"] == price

        # the statements the owner downloaded = the ledger's statement of the day = what the edge reader signed
        ledger = get(session, base, f"/sites/{SITE}/statement", **{"from": statement_day, "to": statement_day})
        with open(result["statement_csv"], newline="") as handle:
            rows = list(csv.reader(handle))
        header, total = rows[0], rows[-1]
        assert total[0] == "total"
        assert {name: int(value) for name, value in zip(header[1:], total[1:], strict=True)} == ledger["totals"]
        assert len(rows) - 2 == len(ledger["intervals"])
        xml_totals = ET.parse(result["statement_xml"]).getroot().find("totals")
        assert {child.tag: int(child.text or "") for child in xml_totals} == ledger["totals"]
        assert result["statement_shown"]["generation_wh"] == f"{ledger['totals']['generation_wh']:,}"

        signed = signed_intervals(data, SITE)
        day_end = sim_start + DAY
        on_day = {meter: {s: p for s, p in by_start.items() if sim_start <= s < day_end}
                  for meter, by_start in signed.items()}
        assert set(on_day) == set(meters.values()), sorted(on_day)
        for meter, by_start in on_day.items():  # every interval the reader signed that day is on the ledger
            readings = get(session, base, f"/meters/{meter}/readings", **{"from": sim_start, "to": day_end,
                                                                          "limit": 200})
            assert readings["next_cursor"] is None
            assert {r["start"] for r in readings["readings"]} == set(by_start), meter
        totals = ledger["totals"]
        assert totals["generation_wh"] == totals["minted_tgen"] == \
            sum(p["wh"] for p in on_day[meters["generator"]].values()) > 0
        assert totals["charge_wh"] == sum(p["charge_wh"] for p in on_day[meters["battery"]].values()) > 0
        assert totals["load_wh"] == sum(p["wh"] for p in on_day[meters["load"]].values()) > 0
        assert totals["minted_tstorage"] >= quantity
        # the site's readings started the day the meters were registered, from the first full interval on
        assert len(ledger["intervals"]) == len({s for by_start in on_day.values() for s in by_start})
        print(f"\nonboarded {SITE}: Tgen on the dashboard after {result['tgen_seconds']:.1f} s, Tstorage held "
              f"{result['tstorage_held']} after {result['tstorage_seconds']:.1f} s, sold {quantity} Wh Tstorage; "
              f"statement {statement_day}: {len(ledger['intervals'])} intervals, totals {totals}")
    finally:
        status = demo.interrupt()
        keep_artifacts(tmp_path / "demo.out", data)
    assert status == 0, demo.text()[-3000:]
    check_stopped(demo.text(), pids_seen)

    # a restart starts the attached site with the demo's own (before simulated time resumes): no gap, more intervals
    signed_before = sum(len(by_start) for by_start in signed_intervals(data, SITE).values())
    again = DemoProcess(data, demo_args, tmp_path / "restart.out")  # --days-back counts at the first start only
    try:
        text = again.wait_for("Ctrl-C stops everything", 120)
        step5, step7 = text.split("[5/7]")[1].split("[6/7]")[0], text.split("[7/7]")[1].split("VPP Ledger demo")[0]
        assert f"attached site {SITE}: simulator on port" in step5, text
        assert f"site {SITE} attached: 3 meters, reader pid" in step7, text
        pids_seen |= set(json.loads((data / "pids.json").read_text()).values())
        deadline = time.monotonic() + 30
        while sum(len(b) for b in signed_intervals(data, SITE).values()) < signed_before + 3 * 8:
            assert time.monotonic() < deadline, "the attached site's reader signed nothing after the restart"
            time.sleep(0.5)
    finally:
        status = again.interrupt()
        keep_artifacts(tmp_path / "restart.out", data)
    assert status == 0, again.text()[-3000:]
    check_stopped(again.text(), pids_seen)
    with sqlite3.connect(f"file:{data / 'edge' / SITE / 'state.db'}?mode=ro", uri=True) as db:
        assert db.execute("SELECT COUNT(*) FROM gaps").fetchone()[0] == 0
    restarted = (data / "logs" / f"reader-{SITE}.log").read_text().rsplit("===== ", 1)[-1]
    assert "expect a gap" not in restarted, restarted  # it was polling when simulated time resumed


def keep_artifacts(out: Path, data: Path) -> None:
    """The demo's output (without the passwords it prints once) and the logs of the onboarded site's path."""
    kept, skipping = [], False
    for line in out.read_text(errors="replace").splitlines():
        skipping = (skipping or "these passwords are printed once" in line) and line.startswith("      ")
        if not skipping:
            kept.append(line)
    (ARTIFACTS / out.name).write_text("\n".join(kept) + "\n")
    for log in ("gateway", "bridge", f"reader-{SITE}", f"simulators-{SITE}"):
        if (data / "logs" / f"{log}.log").exists():
            shutil.copy(data / "logs" / f"{log}.log", ARTIFACTS / f"{log}.log")


def check_stopped(text: str, pids_seen: set[int]) -> None:
    """SIGINT stopped every process the demo started, the attached site's included, in order."""
    stopping = text.split("stopping ...")[-1]
    for name in (f"reader-{SITE}", "bridge", "gateway", "simulators", f"simulators-{SITE}", "broker"):
        assert f"  {name} (pid " in stopping, (name, stopping)
    assert stopping.index(f"reader-{SITE}") < stopping.index("  bridge (pid") < stopping.index(f"simulators-{SITE}")
    assert "bridge: drained" in stopping, stopping
    left = sorted(pid for pid in pids_seen if alive(pid))
    assert not left, f"processes left running: {left}"
