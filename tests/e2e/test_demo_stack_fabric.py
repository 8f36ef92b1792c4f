"""``make demo ARGS="--backend fabric"`` end to end: the same ten simulated days as test_demo_stack.py, with a SIGINT
restart half-way, on the native Fabric network the demo brings up in ``<data>/fabric`` (3 Raft orderers, a peer per
organisation, the energy contract served by one fabric-ccaas server per organisation).

The same checks as the embedded run (every signed interval on the ledger exactly once, per-day energy balances
against the samples seen on MQTT, supply totals and GetSupply's conservation, the web app's numbers, no process left)
and, instead of auditing the embedded ledger file: the restart started the same network again (both peers' heights
at the second start = at the first stop), the chain grew across the restart on both peers, and at the end both peers
have the same height and the same last block hash. Skipped, with the reason, when the Fabric binaries are absent.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.test_demo_stack import (
    DAY,
    MOSQUITTO,
    REPO,
    SAMPLE_PERIOD_S,
    SITES,
    DemoRun,
    Rest,
    SampleCollector,
    check_ledger,
    check_web_app_numbers,
    free_port,
)
from tests.fabric.locate import FabricMissingError, locate

sys.path.insert(0, str(REPO / "scripts"))
from demo.fabric import FabricNetwork, free_port_base  # scripts/demo is not an installed package

pytestmark = [pytest.mark.slow, pytest.mark.mqtt, pytest.mark.fabric]

DAYS_BACK = 10
# Fabric's ordering paces the bridge's batches (one SubmitReadings transaction of up to 200 readings each); at this
# pace the three sites produce about 80 readings/s, far below what the network commits (~1,000/s).
CATCH_UP_WALL_S = 110
MAX_GAP_INTERVALS = 16
FIRST_PORT_BASE = 27700     # the Fabric test fixture uses 27050, the demo's default 27300, the fault tests 31050
HEIGHTS_AT_STOP = re.compile(r"Fabric: peer0\.org1 height (\d+), peer0\.org2 height (\d+) at stop")
HEIGHTS_AT_START = re.compile(r"started again from .*peer0\.org1 height (\d+), peer0\.org2 height (\d+) ok")


def running(pids: set[int], grace_s: float = 10.0) -> list[int]:
    """The pids still running after up to ``grace_s``: the network's processes are children of init once netctl
    has started them, so a stopped one can stay a zombie for a moment until init reaps it."""
    deadline = time.monotonic() + grace_s
    while True:
        left = []
        for pid in sorted(pids):
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                left.append(pid)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def heights(pattern: re.Pattern, text: str) -> tuple[int, int]:
    found = pattern.findall(text)
    assert found, f"no block heights ({pattern.pattern}) in the demo's output:\n{text[-3000:]}"
    org1, org2 = (int(h) for h in found[-1])
    return org1, org2


@pytest.mark.skipif(not MOSQUITTO.exists(), reason="needs Debian's Mosquitto at /usr/sbin/mosquitto")
def test_demo_on_fabric_runs_ten_days_restarts_and_balances(tmp_path: Path) -> None:
    try:
        locate()
    except FabricMissingError as exc:
        pytest.skip(f"the demo's Fabric backend needs the Fabric 2.5 binaries: {exc}")
    data = tmp_path / "demo"
    http_port, mqtt_port = free_port(), free_port()
    now = time.time()
    sim_start = (int(now) // DAY - DAYS_BACK) * DAY
    factor = math.ceil((now - sim_start) / CATCH_UP_WALL_S)
    args = ["--backend", "fabric", "--fabric-port-base", str(free_port_base(FIRST_PORT_BASE)),
            "--sites", str(SITES), "--factor", str(factor), "--days-back", str(DAYS_BACK), "--port", str(http_port),
            "--mqtt-port", str(mqtt_port), "--sample-period", str(SAMPLE_PERIOD_S), "--progress-every", "10",
            # five Fabric nodes and two chaincode servers share the 2 cores with the readers: allow 4 h pauses
            "--max-gap-intervals", str(MAX_GAP_INTERVALS)]
    collector = SampleCollector(mqtt_port)
    collector.start()
    pids_seen: set[int] = set()
    fabric = FabricNetwork(data, tmp_path / "audit-network.log")
    try:
        # run 1: network up, contract deployed, half-way through the ten days, then Ctrl-C
        first = DemoRun(data, args, "run1")
        text = first.wait_for(lambda t: "Ctrl-C stops everything" in t, 300, "start")
        assert "[1/9] Fabric network" in text and "[2/9] energy contract" in text, text
        assert "with the Fabric network" in text and "on the fabric backend" in text, text
        pids = json.loads((data / "pids.json").read_text())
        assert {"fabric:orderer", "fabric:orderer2", "fabric:orderer3", "fabric:peer0.org1", "fabric:peer0.org2",
                "fabric:cc-vpp-org1", "fabric:cc-vpp-org2"} <= set(pids), pids
        pids_seen |= set(pids.values())
        half_way = sim_start + DAYS_BACK // 2 * DAY
        state = json.loads((data / "demo.json").read_text())["sim"]
        wall_half_way = state["anchor"] + (half_way - state["start"]) / state["factor"]
        time.sleep(max(0.0, wall_half_way - time.time()))
        assert first.interrupt() == 0, first.text()[-3000:]
        assert "stopped; the next start continues" in first.text()
        first_stop = heights(HEIGHTS_AT_STOP, first.text())
        assert first_stop[0] == first_stop[1] > 3, first_stop   # more than the config blocks and the deploy
        left = running(pids_seen)
        assert not left, f"processes left running after the first stop: {left}"

        # run 2: the same network started again from <data>/fabric (no --backend: the folder says fabric)
        second = DemoRun(data, [a for a in args if a not in ("--backend", "fabric")], "run2")
        text = second.wait_for(lambda t: "simulated time has caught up" in t, CATCH_UP_WALL_S + 240, "catch-up")
        assert "already registered ok" in text and "continuing the demo" in text, text
        assert "ALREADY_EXISTS" not in text and "error" not in text.lower(), text
        assert heights(HEIGHTS_AT_START, text) == first_stop, "the restart did not start the same ledgers"
        pids_seen |= set(json.loads((data / "pids.json").read_text()).values())
        assert second.interrupt() == 0, second.text()[-3000:]
        assert "bridge: drained" in second.text(), second.text()[-3000:]
        second_stop = heights(HEIGHTS_AT_STOP, second.text())
        assert second_stop[0] == second_stop[1] > first_stop[0], (first_stop, second_stop)
    finally:
        collector.stop()
    left = running(pids_seen)
    assert not left, f"processes left running: {left}"

    # the network once more (evaluate queries need no endorsement by both organisations), audited through a gateway
    gateway = None
    try:
        fabric.restart()
        final = fabric.heights()
        assert final["peer0.org1"] == final["peer0.org2"], final      # same height, same last block hash
        assert final["peer0.org1"][0] == second_stop[0], (final, second_stop)
        accounts = {row.split()[0]: row.split() for row in (data / "ACCOUNTS.txt").read_text().splitlines()
                    if row.strip() and not row.startswith("#") and row.split()[0] in ("admin",)}
        env = {**os.environ, "VPP_DATA_DIR": str(data / "gateway"), "VPP_PORT": str(http_port),
               "VPP_RATE_PER_MIN": "0", "PYTHONPATH": str(REPO / "chaincode"),
               "VPP_WEB_DIR": str(REPO / "web" / "dist"), **fabric.gateway_env()}
        with (tmp_path / "audit-gateway.log").open("wb") as log:
            gateway = subprocess.Popen([sys.executable, "-m", "vpp_gateway.api"], env=env, stdout=log,
                                       stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True)
        base = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{base}/api/v1/ready", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline and gateway.poll() is None, (tmp_path / "audit-gateway.log").read_text()
            time.sleep(0.3)
        # day boundaries interpolated between samples as far apart as the readers interpolate (no gap was recorded)
        check_ledger(Rest(base, accounts["admin"][1], accounts["admin"][2]), data, collector, sim_start,
                     max_span=MAX_GAP_INTERVALS * 900)
        check_web_app_numbers(base, data, tmp_path)
        assert fabric.heights() == final, "the audit's queries must not add blocks"
        print(f"Fabric heights: first stop {first_stop}, second stop {second_stop}, final {final}")
    finally:
        if gateway is not None:
            os.kill(gateway.pid, signal.SIGTERM)
            gateway.wait(30)
        network_pids = fabric.pids()
        fabric.stop()
    left = running(set(network_pids.values()))
    assert not left, f"network processes left running after the audit: {left}"
