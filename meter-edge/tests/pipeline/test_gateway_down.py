"""The bridge against the real REST gateway process: the gateway is killed (SIGKILL) and stays down for ten minutes of
simulated time, then comes back on the same data; every interval the reader emitted ends up on the ledger exactly once
and the only hole is none (no gap was caused). Audited through the gateway's own REST API."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from vpp_contract.domain.readings import canonical
from vpp_edge.bridge import Bridge, RestSubmitter
from vpp_edge.keys import provision
from vpp_edge.reader import ReaderStore
from vpp_gateway.accounts import AccountService, LogMailer

from pipeline.harness import MeterPlan, ReaderProcess, SimTime, broker_settings, wait_for, write_edge_config

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]
FACTOR = 300
OWNER = "Org1MSP:alice"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GatewayProcess:
    """``python -m vpp_gateway.api`` on a fixed loopback port and data folder, killed and restarted by pid."""

    def __init__(self, data: Path, port: int) -> None:
        self.data, self.port = data, port
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None
        self.log = data / "gateway.log"

    def start(self) -> GatewayProcess:
        env = {**os.environ, "VPP_DATA_DIR": str(self.data), "VPP_PORT": str(self.port), "VPP_HOST": "127.0.0.1",
               "VPP_RATE_PER_MIN": "100000"}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "vpp_gateway.api"], stdout=log,
                                            stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/api/v1/ready", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            assert self.process.poll() is None, self.log.read_text()[-2000:]
            time.sleep(0.1)
        raise AssertionError("the gateway did not become ready: " + self.log.read_text()[-2000:])

    def kill9(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()


async def test_gateway_killed_for_ten_simulated_minutes(mosquitto, tmp_path):
    sim = SimTime(FACTOR)
    data = tmp_path / "gateway"
    data.mkdir()
    accounts = AccountService.open(data / "accounts", mailer=LogMailer())  # the directory the gateway opens
    admin_info = accounts.bootstrap_admin("ops@example.org", "correct horse battery staple")
    admin = accounts.console_principal(admin_info.email)
    _, api_key = await accounts.create_api_key(admin, "edge bridge")
    accounts.close()

    gateway = GatewayProcess(data, _free_port()).start()
    meters = [MeterPlan("gw-pv", "generation", 300, {"origin": sim.start, "base": 1_000_000, "rate_w": 3600}),
              MeterPlan("gw-load", "load", 300, {"origin": sim.start, "base": 500_000, "rate_w": 700})]
    http = requests.Session()
    http.headers["X-API-Key"] = api_key

    def ok(method: str, path: str, **kw) -> dict:
        response = http.request(method, gateway.url + "/api/v1" + path, timeout=10, **kw)
        assert response.status_code in (200, 201), (path, response.status_code, response.text)
        return response.json()

    ok("POST", "/sites", json={"site_id": "gw-site", "location": "Zwolle", "owner": OWNER})
    keys = {}
    for meter in meters:
        ok("POST", "/sites/gw-site/assets", json={"asset_id": f"{meter.id}-asset", "max_power_w": 20_000,
                                                   "kind": "generator" if meter.kind == "generation" else "load"})
        made = provision(tmp_path / "keys", meter.id)
        ok("POST", f"/assets/{meter.id}-asset/meters", json={"meter_id": meter.id, "interval_s": meter.interval,
                                                              "public_key_pem": made.public_pem})
        keys[meter.id] = made.private_path

    config = write_edge_config(tmp_path, "gw-site", meters, keys, mosquitto.port, sim)
    bridge = Bridge(RestSubmitter(gateway.url, api_key), broker_settings(mosquitto.port), tmp_path / "dead.db",
                    client_id="bridge-rest", batch_size=100, batch_wait_s=0.1, clock=sim.clock(),
                    backoff_initial_s=5, backoff_max_s=60, state_every_s=0.5)
    await bridge.start()
    reader = ReaderProcess(config).start()
    try:
        await wait_for(lambda: bridge.stats["accepted"] >= 4, 30, "the first readings through the gateway")
        gateway.kill9()
        down_until = sim.now() + 600
        await wait_for(lambda: sim.now() > down_until, 10, "ten simulated minutes with the gateway down")
        assert bridge.backlog > 0 or bridge.stats["retries"] > 0  # intervals waited for the gateway
        await asyncio.to_thread(gateway.start)
        await wait_for(lambda: sim.now() > down_until + 900, 20, "intervals after the gateway came back")
        assert reader.terminate() == 0
        store = ReaderStore(tmp_path / "state.db")
        try:
            emitted = {m.id: {start: canonical(r["payload"]).decode() for start, r in store.emitted(m.id).items()}
                       for m in meters}
            gaps = {m.id: store.gaps(m.id) for m in meters}
        finally:
            store.close()
        total = sum(len(v) for v in emitted.values())
        await wait_for(lambda: bridge.stats["accepted"] >= total, 30, "every emitted interval accepted")
        for meter in meters:
            assert gaps[meter.id] == [], gaps  # the gateway outage is not a meter gap
            last = max(emitted[meter.id]) + meter.interval
            found = ok("GET", f"/meters/{meter.id}/readings", params={"from": sim.start, "to": last,
                                                                      "limit": 200})
            rows = found.get("readings", found) if isinstance(found, dict) else found
            assert {r["start"]: r["payload"] for r in rows} == emitted[meter.id]
            assert len(rows) == len(emitted[meter.id])
        assert bridge.stats["accepted"] == total and bridge.stats["rejected"] == 0, bridge.stats
        print(f"gateway down: {total} intervals once each, bridge {bridge.stats}")
    finally:
        reader.ensure_dead()
        await bridge.stop()
        gateway.stop()
