"""The REST gateway with VPP_BACKEND=fabric on the native network: identities from the network's own org CAs,
owner self-service registration, meters by the admin, signed readings from an admin API key, Tgen on the owner's
balance, an offer accepted by the utility, a statement; every transaction endorsed by both orgs' peers."""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from vpp_contract.canonical import canonical
from vpp_gateway.accounts import AccountService, LogMailer

PASSWORD = "a long enough pass phrase 7"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _signed(key, meter: str, start: int, wh: int) -> dict:
    payload = {"meter": meter, "key": 1, "kind": "generation", "start": start, "interval": 900, "wh": wh}
    return {"payload": payload, "signature": base64.b64encode(key.sign(canonical(payload),
                                                                         ec.ECDSA(hashes.SHA256()))).decode()}


def test_rest_gateway_with_the_fabric_backend(fabric_network, tmp_path):
    net = fabric_network
    ca_dirs = {}
    for n in (1, 2):  # the network's own org CAs: the channel trusts what they issue
        org_ca = net.work_dir / "organizations" / "peerOrganizations" / f"org{n}.example.com" / "ca"
        folder = tmp_path / f"ca-org{n}"
        folder.mkdir()
        shutil.copy(org_ca / f"ca.org{n}.example.com-cert.pem", folder / "cert.pem")
        shutil.copy(org_ca / "priv_sk", folder / "key.pem")
        ca_dirs[f"Org{n}MSP"] = folder
    data = tmp_path / "gateway"
    accounts = AccountService.open(data / "accounts", mailer=LogMailer(),
                                   external_cas={m: (d / "cert.pem", d / "key.pem") for m, d in ca_dirs.items()})
    admin_info = accounts.bootstrap_admin("ops@operator.test", PASSWORD)
    admin = accounts.console_principal(admin_info.email)
    import asyncio

    asyncio.run(accounts.create_account(admin, "grid@utility.test", PASSWORD, "utility", "Org2MSP"))
    owner = asyncio.run(accounts.create_account(admin, "olga@owner.test", PASSWORD, "owner", "Org1MSP"))
    _, bridge_key = asyncio.run(accounts.create_api_key(admin, "edge bridge"))
    accounts.close()

    org1, org2 = net.info["orgs"]["org1"]["peer"], net.info["orgs"]["org2"]["peer"]
    port = _free_port()
    env = {**os.environ, "VPP_DATA_DIR": str(data), "VPP_PORT": str(port), "VPP_BACKEND": "fabric",
           "VPP_FABRIC_PEER": org1["address"], "VPP_FABRIC_TLS_CA": org1["tls_ca"], "VPP_FABRIC_TLS_NAME": org1["name"],
           "VPP_FABRIC_OTHER_PEERS": f"{org2['address']}|{org2['tls_ca']}|{org2['name']}",
           "VPP_FABRIC_CHANNEL": net.channel, "VPP_FABRIC_CA_DIR_ORG1": str(ca_dirs["Org1MSP"]),
           "VPP_FABRIC_CA_DIR_ORG2": str(ca_dirs["Org2MSP"]), "VPP_RATE_PER_MIN": "100000"}
    log = (tmp_path / "gateway.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "vpp_gateway.api"], env=env, stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        for _ in range(150):
            try:
                if requests.get(base + "/ready", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None, (tmp_path / "gateway.log").read_text()[-3000:]
            time.sleep(0.2)

        def session(email: str) -> requests.Session:
            s = requests.Session()
            token = s.post(base + "/auth/login", json={"email": email, "password": PASSWORD}, timeout=10)
            assert token.status_code == 200, token.text
            s.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            return s

        def ok(s: requests.Session, method: str, path: str, status: int = 200, **kw):
            response = s.request(method, base + path, timeout=60, **kw)
            assert response.status_code == status, (method, path, response.status_code, response.text)
            return response.json() if response.content else None

        olga, ops, grid = session("olga@owner.test"), session("ops@operator.test"), session("grid@utility.test")
        site = ok(olga, "POST", "/sites", 201, json={"site_id": "fab-site", "location": "Leiden"})
        assert site["owner"] == owner.ledger_account  # identities from the network's CA, the owner forced
        ok(olga, "POST", "/sites/fab-site/assets", 201, json={"asset_id": "fab-pv", "kind": "generator",
                                                              "max_power_w": 10_000})
        meter_key = ec.generate_private_key(ec.SECP256R1())
        pem = meter_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        ok(ops, "POST", "/assets/fab-pv/meters", 201, json={"meter_id": "fab-m", "interval_s": 900,
                                                            "public_key_pem": pem})
        now = int(time.time()) // 900 * 900
        readings = [_signed(meter_key, "fab-m", now - k * 900, 400 + k) for k in range(2, 10)]
        edge = requests.Session()
        edge.headers["X-API-Key"] = bridge_key
        batch = ok(edge, "POST", "/readings/batches", json={"readings": readings})
        assert batch["accepted"] == len(readings) and batch["block"] > 0
        replay = ok(edge, "POST", "/readings/batches", json={"readings": readings[:3]})
        assert replay["duplicates"] == 3
        minted = sum(r["payload"]["wh"] for r in readings)
        assert ok(olga, "GET", "/me/balance")["Tgen"] == minted

        offer = ok(olga, "POST", "/offers", 201, json={"token": "Tgen", "quantity_wh": 1000,
                                                       "rate_micro_per_kwh": 250_000, "valid_from": now - 3600,
                                                       "valid_until": now + 86_400})
        ok(ops, "POST", "/credit/deposits", json={"account": grid.get(base + "/me", timeout=10).json()
                                                      ["ledger_account"], "amount_micro": 10_000_000})
        trade = ok(grid, "POST", f"/offers/{offer['offer_id']}/accept", json={"quantity_wh": 600})
        assert trade["quantity_wh"] == 600
        # the whole offer was escrowed when it was made; 600 Wh left with the utility, 400 are still offered
        assert ok(olga, "GET", "/me/balance")["Tgen"] == minted - 1000
        assert ok(olga, "GET", f"/offers/{offer['offer_id']}")["remaining_wh"] == 400
        other = ok(grid, "GET", "/supply")
        assert other["Tgen"]["minted"] >= minted
        statement = olga.get(base + "/sites/fab-site/statement", params={"format": "csv", "from": now - 86_400,
                                                                         "to": now + 900}, timeout=60)
        assert statement.status_code == 200 and f"total,{minted}," in statement.text, statement.text[-300:]
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
