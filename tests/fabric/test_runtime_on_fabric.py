"""fabric-ccaas on a real Fabric network (2.5, or 3.x): every stub call through `peer chaincode invoke/query`, then
load."""

import asyncio
import hashlib
import json
import time

import pytest
import yaml
from vpp_gateway.fabric import GatewayError

from .harness import parse_invoke_payload, transactions_in

VALID, ENDORSEMENT_POLICY_FAILURE = 0, 10


def test_state_history_and_failures(fabric_network):
    net = fabric_network
    net.invoke("conformance", "Put", "k", "v1")
    net.invoke("conformance", "Put", "k", "v2")
    for org in ("org1", "org2"):
        assert net.query("conformance", "Get", "k", org=org).stdout.strip() == "v2"
    history = json.loads(net.query("conformance", "History", "k").stdout)
    assert [h["value"] for h in history] == ["v2", "v1"]  # newest first
    net.invoke("conformance", "Delete", "k")
    missing = net.query("conformance", "Get", "k", check=False)
    assert missing.returncode != 0 and 'message:"NOT_FOUND: no value for k"' in missing.stderr
    failed = net.invoke("conformance", "Fail", "on purpose", check=False)
    assert failed.returncode != 0 and "REQUESTED_FAILURE: on purpose" in failed.stderr
    assert net.query("conformance", "Get", "must-not-commit", check=False).returncode != 0


def test_range_queries_batches_and_pages(fabric_network):
    net = fabric_network
    assert parse_invoke_payload(net.invoke("conformance", "PutMany", "p", "250").stderr) == "250"
    rows = json.loads(net.query("conformance", "Range", "p", "q").stdout)
    assert [r["key"] for r in rows] == [f"p{i:05d}" for i in range(250)]  # crosses the peer's 100-row batches
    keys, bookmark, pages = [], "", 0
    while True:
        page = json.loads(net.query("conformance", "RangePage", "p", "q", "100", bookmark, org="org2").stdout)
        keys += [r["key"] for r in page["records"]]
        pages += 1
        assert page["count"] == len(page["records"])
        bookmark = page["bookmark"]
        if not bookmark:
            break
    assert pages == 3 and keys == [f"p{i:05d}" for i in range(250)]


def peer_batches_writes(fabric_install) -> bool:
    """Whether these peers take WRITE_BATCH_STATE: Fabric 3.1 or later with chaincode.runtimeParams.useWriteBatch."""
    major, minor = (int(part) for part in fabric_install.version.split(".")[:2])
    core = yaml.safe_load((fabric_install.config_dir / "core.yaml").read_text())
    params = (core.get("chaincode") or {}).get("runtimeParams") or {}
    return (major, minor) >= (3, 1) and bool(params.get("useWriteBatch"))


def test_writes_reach_the_peer_in_the_messages_its_version_takes(fabric_network, fabric_install):
    net = fabric_network
    before = net.shim_requests()
    assert parse_invoke_payload(net.invoke("conformance", "PutMany", "w", "250").stderr) == "250"
    sent = {k: v - before.get(k, 0) for k, v in net.shim_requests().items() if v != before.get(k, 0)}
    if peer_batches_writes(fabric_install):  # both endorsing peers get the 250 writes in one message each
        assert sent == {"WRITE_BATCH_STATE": 2}
    else:  # Fabric 2.5: a round trip per write and peer
        assert sent == {"PUT_STATE": 500}
    rows = json.loads(net.query("conformance", "Range", "w", "x", org="org2").stdout)
    assert [(r["key"], r["value"]) for r in rows] == [(f"w{i:05d}", str(i)) for i in range(250)]


def test_composite_keys_and_partial_queries(fabric_network):
    net = fabric_network
    for owner, lot in [("alice", "1"), ("alice", "2"), ("bob", "1")]:
        net.invoke("conformance", "PutComposite", "lot", json.dumps([owner, lot]), f"{owner}-{lot}")
    rows = json.loads(net.query("conformance", "Partial", "lot", '["alice"]').stdout)
    assert rows == [{"attributes": ["alice", "1"], "value": "alice-1"},
                    {"attributes": ["alice", "2"], "value": "alice-2"}]
    first = json.loads(net.query("conformance", "PartialPage", "lot", "[]", "2", "").stdout)
    assert first["attributes"] == [["alice", "1"], ["alice", "2"]] and first["bookmark"]
    second = json.loads(net.query("conformance", "PartialPage", "lot", "[]", "2", first["bookmark"]).stdout)
    assert second["attributes"] == [["bob", "1"]]


def test_a_peer_error_reaches_the_contract_with_the_peers_message(fabric_network):
    # LevelDB peers refuse rich queries: the peer's ERROR reply must surface as an exception, not as a value.
    result = fabric_network.query("conformance", "Query", '{"selector":{"owner":"alice"}}', check=False)
    assert result.returncode != 0
    assert "PEER_ERROR: GET_QUERY_RESULT: peer error:" in result.stderr
    assert "ExecuteQuery not supported for leveldb" in result.stderr


def test_events_and_block_height_agree_on_both_peers(fabric_network):
    net = fabric_network
    tx_id = parse_invoke_payload(net.invoke("conformance", "Emit", "Minted", '{"wh":1500}').stderr)
    (height1, hash1), (height2, hash2) = net.height("org1"), net.height("org2")
    assert height1 == height2 and hash1 == hash2
    for org in ("org1", "org2"):
        found = [t for t in transactions_in(net.block(org, height1 - 1)) if t.tx_id == tx_id]
        assert len(found) == 1
        assert (found[0].validation_code, found[0].event_name, found[0].event_payload) == (
            VALID, "Minted", b'{"wh":1500}')


def test_client_identity_and_proposal_fields(fabric_network):
    info = json.loads(fabric_network.query("conformance", "TxInfo").stdout)
    assert info["msp_id"] == "Org1MSP" and info["channel_id"] == fabric_network.channel
    # Go's cid form for cryptogen's User1 certificate (subject and issuer as cryptogen writes them)
    assert info["id"] == ("x509::CN=User1@org1.example.com,OU=client,L=San Francisco,ST=California,C=US"
                          "::CN=ca.org1.example.com,O=org1.example.com,L=San Francisco,ST=California,C=US")
    assert info["has_signed_proposal"] and len(bytes.fromhex(info["binding"])) == 32
    assert abs(info["timestamp"][0] - time.time()) < 120
    org2 = json.loads(fabric_network.query("conformance", "TxInfo", org="org2").stdout)
    assert org2["msp_id"] == "Org2MSP" and "CN=User1@org2.example.com" in org2["id"]


def test_private_data_through_a_collection(fabric_network):
    net = fabric_network
    net.invoke("conformance", "PutPrivate", "secrets", "s1", transient={"value": b"hidden"})
    net.invoke("conformance", "PutPrivate", "secrets", "s2", transient={"value": b"also hidden"})
    net.invoke("conformance", "PutPrivateComposite", "secrets", "lot", '["alice","9"]', "private-lot")
    for org in ("org1", "org2"):
        assert net.query("conformance", "GetPrivate", "secrets", "s1", org=org).stdout.strip() == "hidden"
    assert net.query("conformance", "GetPrivateHash", "secrets", "s1").stdout.strip() == \
        hashlib.sha256(b"hidden").hexdigest()
    assert [r["key"] for r in json.loads(net.query("conformance", "PrivateRange", "secrets", "s", "t").stdout)] \
        == ["s1", "s2"]
    assert [r["value"] for r in json.loads(
        net.query("conformance", "PrivatePartial", "secrets", "lot", '["alice"]').stdout)] == ["private-lot"]
    net.invoke("conformance", "DeletePrivate", "secrets", "s1")
    net.invoke("conformance", "PurgePrivate", "secrets", "s2")
    for key in ("s1", "s2"):
        assert net.query("conformance", "GetPrivate", "secrets", key, check=False).returncode != 0
    absent = net.invoke("conformance", "PutPrivate", "secrets", "s3", check=False)
    assert "MISSING_TRANSIENT" in absent.stderr


def test_key_level_endorsement_overrides_the_chaincode_policy(fabric_network):
    net = fabric_network
    net.invoke("conformance", "Put", "guarded", "v0")
    net.invoke("conformance", "SetKeyPolicy", "guarded", '["Org1MSP"]')
    assert json.loads(net.query("conformance", "GetKeyPolicy", "guarded").stdout) == ["Org1MSP"]
    # Endorsed by org1 alone: enough for the guarded key, not for an ordinary key (the chaincode needs both orgs).
    net.invoke("conformance", "Put", "guarded", "v1", endorsers=("org1",))
    assert net.query("conformance", "Get", "guarded", org="org2").stdout.strip() == "v1"
    plain = net.invoke("conformance", "Put", "plain", "x", endorsers=("org1",), check=False)
    assert plain.returncode != 0 and "ENDORSEMENT_POLICY_FAILURE" in plain.stderr
    net.invoke("conformance", "PutPrivate", "secrets", "pk", transient={"value": b"p"})
    net.invoke("conformance", "SetPrivateKeyPolicy", "secrets", "pk", '["Org2MSP"]')
    assert json.loads(net.query("conformance", "GetPrivateKeyPolicy", "secrets", "pk").stdout) == ["Org2MSP"]


def test_chaincode_to_chaincode_calls(fabric_network):
    net = fabric_network
    made = json.loads(parse_invoke_payload(
        net.invoke("conformance", "Call", "records", '["CreateRecord","c2c-1","7"]').stderr))
    assert made["status"] == 200
    assert json.loads(net.query("records", "ReadRecord", "c2c-1", org="org2").stdout) == {"id": "c2c-1", "value": "7"}
    read = json.loads(net.query("conformance", "CallEvaluate", "records", '["ReadRecord","c2c-1"]').stdout)
    assert read["status"] == 200 and json.loads(read["payload"])["value"] == "7"
    again = json.loads(parse_invoke_payload(
        net.invoke("conformance", "Call", "records", '["CreateRecord","c2c-1","8"]').stderr))
    assert again["status"] == 500 and again["message"].startswith("RECORD_EXISTS:")


def test_metadata_is_served(fabric_network):
    meta = json.loads(fabric_network.query("records", "org.hyperledger.fabric:GetMetadata").stdout)
    txs = {t["name"]: t["tag"] for t in meta["contracts"]["RecordsContract"]["transactions"]}
    assert txs == {"CreateRecord": ["SUBMIT", "submitTx"], "ReadRecord": ["EVALUATE"]}


@pytest.mark.slow
async def test_concurrency_32_for_30_seconds_without_a_failure(fabric_network):
    """32 clients submit through the peer's Gateway for 30 s; every submit commits, on both peers."""
    net = fabric_network
    deadline = time.monotonic() + 30
    committed: list[str] = []
    failures: list[str] = []

    async with net.gateway("org1") as gateway:
        contract = gateway.get_network(net.channel).get_contract("records")

        async def client(n: int) -> None:
            i = 0
            while time.monotonic() < deadline:
                record = f"load-{n}-{i}"
                try:
                    await contract.submit("CreateRecord", [record, str(i)])
                    committed.append(record)
                except GatewayError as exc:
                    failures.append(f"{record}: {exc}")
                i += 1

        await asyncio.gather(*(client(n) for n in range(32)))
    assert failures == []
    assert len(committed) > 300, f"only {len(committed)} transactions in 30 s"
    print(f"\n32 clients, 30 s: {len(committed)} transactions committed, {len(failures)} failures")

    async with net.gateway("org2") as gateway:
        contract = gateway.get_network(net.channel).get_contract("records")
        semaphore = asyncio.Semaphore(32)

        async def read(record: str) -> str:
            async with semaphore:
                return json.loads(await contract.evaluate("ReadRecord", [record]))["id"]

        assert await asyncio.gather(*(read(r) for r in committed)) == committed
    assert net.height("org1") == net.height("org2")
