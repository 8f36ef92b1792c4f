"""The web app end to end: a real gateway (embedded ledger, temp dir, free port) serving web/dist, driven in headless
Chromium by Playwright (tests/browser/e2e.mjs). A new owner signs up, verifies, logs in and registers a site and
assets; the admin registers the meters; the test plays the meter edge (signed readings, admin API key); the owner
sees Tgen, offers it, the utility accepts part, the owner cancels the rest and downloads statements whose totals
must equal the ledger's. axe-core runs on every page: no serious or critical violation is allowed.

Screenshots and the downloaded statements go to tests/browser/artifacts/ (git-ignored)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import secrets
import shutil
import subprocess
import time
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from .harness import REPO, MeterKey, aligned_start, console, start_gateway

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("VPP_CHROMIUM", "/usr/bin/chromium"))
WEB = REPO / "web"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
SCRIPT = Path(__file__).resolve().parent / "e2e.mjs"
INTERVALS = 4
GENERATION = (410, 520, 630, 740)  # Wh per interval, oldest first
CHARGE_WH = 100
LOAD_WH = 50


def _node() -> str | None:
    return shutil.which("node")


def _ensure_built() -> None:
    """web/dist is what the gateway serves; build it when it is missing or older than the sources."""
    dist_index = WEB / "dist" / "index.html"
    newest_source = max(p.stat().st_mtime for p in (WEB / "src").rglob("*") if p.is_file())
    if dist_index.exists() and dist_index.stat().st_mtime >= newest_source:
        return
    subprocess.run(["npm", "run", "build"], cwd=WEB, check=True, capture_output=True, timeout=180)


def _password() -> str:
    return secrets.token_urlsafe(18) + "-Aa1"


def _api(base: str, path: str, api_key: str) -> dict:
    request = urllib.request.Request(f"{base}/api/v1{path}", headers={"X-API-Key": api_key})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def _money(micro: int) -> str:
    """What the app shows for micro-units: exact, at least two decimals (web/src/lib/format.ts formatMoney)."""
    whole, fraction = divmod(micro, 1_000_000)
    digits = f"{fraction:06d}".rstrip("0").ljust(2, "0")
    return f"{whole:,}.{digits}"


@pytest.fixture
def prerequisites() -> str:
    node = _node()
    missing = [what for what, ok in (("Chromium at " + str(CHROMIUM), CHROMIUM.exists()), ("node", node is not None),
                                     ("web/node_modules (run: cd web && npm ci)",
                                      (WEB / "node_modules" / "playwright-core").is_dir()))
               if not ok]
    if missing:
        pytest.skip("needs " + ", ".join(missing))
    _ensure_built()
    return node  # type: ignore[return-value]


def test_owner_journey_in_the_browser(prerequisites: str, tmp_path: Path) -> None:
    node = prerequisites
    data = tmp_path / "data"
    data.mkdir()
    admin = {"email": "admin@vpp.test", "password": _password()}
    utility = {"email": "utility@vpp.test", "password": _password()}
    owner = {"email": f"owner-{secrets.token_hex(3)}@vpp.test", "password": _password()}
    console(data, "create-user", "--email", admin["email"], "--role", "admin", password=admin["password"])
    utility["ledger_account"] = console(data, "create-user", "--email", utility["email"], "--role", "utility",
                                        password=utility["password"])["ledger_account"]
    admin_key = console(data, "create-api-key", "--email", admin["email"], "--name", "meter-edge")["key"]

    assets = [{"asset_id": "pv-roof", "kind": "generator", "max_power_w": 6000},
              {"asset_id": "battery-1", "kind": "battery", "max_power_w": 5000, "capacity_kwh": "10"},
              {"asset_id": "house", "kind": "load", "max_power_w": 9000}]
    keys = {a["asset_id"]: MeterKey(f"m-{a['asset_id']}") for a in assets}
    now = time.time()
    readings = []
    for index, ago in enumerate(range(INTERVALS, 0, -1)):
        start = aligned_start(ago, 900, now)
        readings.append(keys["pv-roof"].sign({"meter": "m-pv-roof", "key": 1, "kind": "generation", "start": start,
                                              "interval": 900, "wh": GENERATION[index]}))
        readings.append(keys["battery-1"].sign({"meter": "m-battery-1", "key": 1, "kind": "battery", "start": start,
                                                "interval": 900, "charge_wh": CHARGE_WH, "discharge_wh": 0,
                                                "soc_permille": 400 + 10 * index}))
        readings.append(keys["house"].sign({"meter": "m-house", "key": 1, "kind": "load", "start": start,
                                            "interval": 900, "wh": LOAD_WH}))
    # Charges and loads are covered by Tgen (there is always enough): what stays is the owner's Tgen balance.
    expected_tgen = sum(GENERATION) - INTERVALS * (CHARGE_WH + LOAD_WH)
    first_day = dt.datetime.fromtimestamp(aligned_start(INTERVALS, 900, now), dt.UTC).date()
    period = {"from": first_day.isoformat(), "to": dt.datetime.now(dt.UTC).date().isoformat()}

    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.iterdir():
        if old.is_file():
            old.unlink()
    gateway = start_gateway(data, WEB / "dist", tmp_path / "gateway.log")
    try:
        scenario = {
            "base_url": gateway.url, "gateway_log": str(gateway.log_path), "chromium": str(CHROMIUM),
            "artifacts_dir": str(ARTIFACTS), "owner": owner, "admin": admin, "utility": utility,
            "admin_api_key": admin_key, "site_id": "home-delft", "assets": assets,
            "meters": [{"asset_id": a["asset_id"], "meter_id": keys[a["asset_id"]].meter_id, "interval_s": 900,
                        "public_key_pem": keys[a["asset_id"]].public_pem()} for a in assets],
            "readings": readings, "expected_tgen": expected_tgen, "utility_credit": "50",
            "offer": {"quantity_wh": 300, "rate": "0.25", "accept_wh": 120}, "period": period,
        }
        scenario_path = tmp_path / "scenario.json"
        scenario_path.write_text(json.dumps(scenario))
        run = subprocess.run([node, str(SCRIPT), str(scenario_path)], cwd=REPO, capture_output=True, text=True,
                             timeout=150)
        (ARTIFACTS / "e2e.log").write_text(run.stderr)
        lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
        assert lines, f"no result from the browser script (exit {run.returncode}):\n{run.stderr[-4000:]}"
        result = json.loads(lines[-1])
        assert "error" not in result, f"{result['error']}\n{run.stderr[-3000:]}"
        assert result["violations"] == [], json.dumps(result["violations"], indent=1)
        assert run.returncode == 0, run.stderr[-3000:]

        # Every page was checked by axe, with a screenshot.
        assert len(result["steps"]) >= 18
        for step in result["steps"]:
            assert (ARTIFACTS / step["screenshot"]).stat().st_size > 1000

        # The meter edge's readings, seen on the dashboard as the ledger holds them.
        assert result["batch"] == {"accepted": len(readings), "rejected": 0, "duplicates": 0}
        assert result["dashboard_tgen"] == f"{expected_tgen:,} Tgen"
        assert result["activity_mints"] >= INTERVALS

        # The market: 120 Wh sold at 0.25 per kWh = 30,000 micro-units on the owner's credit.
        price_micro = 120 * 250_000 // 1000
        assert result["credit_after_trade"] == _money(price_micro)
        trades = _api(gateway.url, f"/offers/{result['offer_id']}/trades", admin_key)["trades"]
        assert [(t["quantity_wh"], t["price_micro"], t["buyer"]) for t in trades] == \
            [(120, price_micro, utility["ledger_account"])]
        offer = _api(gateway.url, f"/offers/{result['offer_id']}", admin_key)
        assert (offer["status"], offer["quantity_wh"]) == ("cancelled", 300)
        # The 180 Wh nobody bought came back from escrow when the owner cancelled.
        balance = _api(gateway.url, f"/balances/{result['owner_account']}", admin_key)
        assert balance["Tgen"] == expected_tgen - 120 and balance["credit_micro"] == price_micro

        # The statements the owner downloaded equal the ledger's statement for the same period.
        ledger = _api(gateway.url, f"/sites/home-delft/statement?from={period['from']}&to={period['to']}", admin_key)
        assert ledger["totals"]["generation_wh"] == sum(GENERATION)
        assert ledger["totals"]["minted_tgen"] == sum(GENERATION)
        assert ledger["totals"]["burned_tgen"] == INTERVALS * (CHARGE_WH + LOAD_WH)
        with open(result["statement_csv"], newline="") as handle:
            rows = list(csv.reader(handle))
        header, total = rows[0], rows[-1]
        assert total[0] == "total"
        assert {name: int(value) for name, value in zip(header[1:], total[1:], strict=True)} == ledger["totals"]
        assert len(rows) - 2 == len(ledger["intervals"]) == INTERVALS
        xml_totals = ET.parse(result["statement_xml"]).getroot().find("totals")
        assert {child.tag: int(child.text or "") for child in xml_totals} == ledger["totals"]
        assert result["statement_shown"]["minted_tgen"] == f"{sum(GENERATION):,}"

        # API keys: the created one worked, the revoked one is refused; logging out clears the session.
        assert result["api_key_works"] is True
        assert result["revoked_key_status"] == 401
        assert result["tokens_after_logout"] is None
    finally:
        gateway.stop()
        if gateway.log_path.exists():
            shutil.copy(gateway.log_path, ARTIFACTS / "gateway.log")
