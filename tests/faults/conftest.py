"""One native Fabric network (3 Raft orderers, the vpp contract with one chaincode server per organisation), one
REST gateway on it, one Mosquitto, shared by the fault tests of a module. Its own port block (31050+, override with
VPP_TEST_FAULTS_PORT_BASE): the session network of tests/fabric is never touched.

Skipped with the reason when the Fabric binaries are missing; fails when Mosquitto is missing (set-up installs it).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from vpp_edge.mqtt.mosquitto import Mosquitto

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "meter-edge" / "tests"))   # the pipeline helpers (pipeline.harness)

from tests.fabric.harness import CONTRACT_DIR, FabricNetwork, contract_chaincode_command  # noqa: E402
from tests.fabric.locate import FabricMissingError, locate  # noqa: E402

from .stack import Api, FabricGatewayProcess, copy_org_cas  # noqa: E402

PASSWORD = "a long enough pass phrase for faults 7"
# Mosquitto writes what it holds every this many seconds (and at a clean stop): a kill -9 loses what the edge saw
# acknowledged since then unless the bridge already holds it. The product's default is 60 s (compose: 30 s);
# `autosave_on_changes` is no cure: on Mosquitto 2.0.11 it made the broker re-send 1,000 acknowledged messages.
BROKER_AUTOSAVE_S = int(os.environ.get("VPP_FAULTS_BROKER_AUTOSAVE", "1"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class FaultStack:
    net: FabricNetwork
    gateway: FabricGatewayProcess
    broker: Mosquitto
    api: Api
    api_key: str
    work: Path
    results: list[dict]


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory):
    try:
        locate()
    except FabricMissingError as exc:
        pytest.skip(f"fault tests need Fabric 2.5 binaries: {exc}")
    if shutil.which("/usr/sbin/mosquitto") is None:
        pytest.fail("Mosquitto is not installed at /usr/sbin/mosquitto (make setup installs it)")
    from vpp_gateway.accounts import AccountService, LogMailer

    work = tmp_path_factory.mktemp("faults")
    net = FabricNetwork(work / "fabric", int(os.environ.get("VPP_TEST_FAULTS_PORT_BASE", "31050")))
    net.env["ORDERER_COUNT"] = "3"   # a Raft majority survives one orderer
    gateway = broker = None
    results: list[dict] = []
    started = time.monotonic()
    try:
        net.up(batch_timeout="250ms", max_message_count=10)
        net.deploy("vpp", contract_chaincode_command(), workdir=CONTRACT_DIR / "vpp_contract", per_org=True)
        net.wait_until_endorsable("vpp")
        print(f"\nfault network up with the vpp contract in {time.monotonic() - started:.0f} s")

        ca_dirs = copy_org_cas(net.work_dir, work / "cas")
        data = work / "gateway"
        accounts = AccountService.open(data / "accounts", mailer=LogMailer(),
                                       external_cas={m: (d / "cert.pem", d / "key.pem") for m, d in ca_dirs.items()})
        admin = accounts.console_principal(accounts.bootstrap_admin("ops@operator.test", PASSWORD).email)
        _, api_key = asyncio.run(accounts.create_api_key(admin, "edge bridge"))
        accounts.close()

        gateway = FabricGatewayProcess(data, _free_port(), net.info, net.channel, ca_dirs).start()
        broker = Mosquitto(work / "mosquitto", autosave_interval=BROKER_AUTOSAVE_S).start()
        yield FaultStack(net, gateway, broker, Api(gateway.url, api_key), api_key, work, results)
    finally:
        if gateway is not None:
            gateway.stop()
        if broker is not None:
            broker.stop()
        report = os.environ.get("VPP_FAULTS_REPORT")
        if report and results:
            Path(report).write_text(json.dumps(results, indent=2) + "\n")
        net.down()
