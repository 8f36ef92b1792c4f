"""Every stub call, through the conformance contract, against the in-process peer (Fabric semantics)."""

import hashlib
import json

import pytest
from conformance import chaincode as conformance
from fabric_ccaas import ChaincodeStub, Context, Contract, ContractChaincode, transaction
from fabric_ccaas.endorsement import key_endorsement_policy
from fabric_ccaas.testing import InMemoryPeer
from fabric_protos.peer import chaincode_pb2
from fabric_protos.peer import chaincode_shim_pb2 as shim
from records import chaincode as records


@pytest.fixture
def peer(ledger):
    ledger.install("conformance", conformance)
    ledger.install("records", records)
    return ledger


async def ok(peer, fn, *args, **kw):
    result = await peer.invoke("conformance", fn, *args, **kw)
    assert result.ok, result.response.message
    return result


async def test_put_get_delete_and_history(peer):
    await ok(peer, "Put", "k", "v1", timestamp=1000)
    await ok(peer, "Put", "k", "v2", timestamp=2000)
    assert (await ok(peer, "Get", "k")).response.payload == b"v2"
    await ok(peer, "Delete", "k", timestamp=3000)
    missing = await peer.invoke("conformance", "Get", "k")
    assert missing.response.message.startswith("NOT_FOUND:")
    history = (await ok(peer, "History", "k")).json
    assert [(h["value"], h["is_delete"], h["seconds"]) for h in history] == [
        ("", True, 3000), ("v2", False, 2000), ("v1", False, 1000)]  # newest first, as Fabric returns it


async def test_a_failed_transaction_commits_nothing(peer):
    result = await peer.invoke("conformance", "Fail", "because")
    assert result.response.message == "REQUESTED_FAILURE: because"
    assert "must-not-commit" not in peer.state.get(("conformance", ""), {})


async def test_transactions_do_not_read_their_own_writes():
    class ReadBack(Contract):
        @transaction
        async def T(self, ctx: Context) -> str:
            await ctx.stub.put_state("x", b"new")
            return (await ctx.stub.get_state("x")).decode()

    peer = InMemoryPeer()
    peer.install("rb", ContractChaincode(ReadBack()))
    assert (await peer.invoke("rb", "T")).response.payload == b""  # committed state, as on Fabric
    assert (await peer.invoke("rb", "T")).response.payload == b"new"


async def test_range_crosses_batches_and_skips_composite_keys(peer):
    await ok(peer, "PutMany", "r", "25")
    await ok(peer, "PutComposite", "lot", '["a"]', "composite")
    rows = (await ok(peer, "Range", "", "")).json
    assert [r["key"] for r in rows] == [f"r{i:05d}" for i in range(25)]  # batch size 7: four batches
    assert [r["key"] for r in (await ok(peer, "Range", "r00003", "r00006")).json] == ["r00003", "r00004", "r00005"]


async def test_paginated_range_walks_every_page_with_bookmarks(peer):
    await ok(peer, "PutMany", "p", "23")
    seen, bookmark, pages = [], "", 0
    while True:
        page = (await ok(peer, "RangePage", "p", "q", "10", bookmark)).json
        pages += 1
        seen += [r["key"] for r in page["records"]]
        assert page["count"] == len(page["records"])
        bookmark = page["bookmark"]
        if not bookmark:
            break
    assert pages == 3 and seen == [f"p{i:05d}" for i in range(23)]


async def test_composite_keys_partial_queries_and_pages(peer):
    for owner, lot in [("alice", "1"), ("alice", "2"), ("bob", "1"), ("alice", "3")]:
        await ok(peer, "PutComposite", "lot", json.dumps([owner, lot]), f"{owner}-{lot}")
    rows = (await ok(peer, "Partial", "lot", '["alice"]')).json
    assert [r["attributes"] for r in rows] == [["alice", "1"], ["alice", "2"], ["alice", "3"]]
    first = (await ok(peer, "PartialPage", "lot", "[]", "3", "")).json
    assert first["count"] == 3 and first["bookmark"]
    second = (await ok(peer, "PartialPage", "lot", "[]", "3", first["bookmark"])).json
    assert second["attributes"] == [["bob", "1"]] and second["bookmark"] == ""
    bad = await peer.invoke("conformance", "PutComposite", "lot", '["a\\u0000b"]', "x")
    assert bad.response.message.startswith("INVALID_ARGUMENT:")


async def test_rich_queries_and_pages(peer):
    for i, owner in enumerate(["alice", "bob", "alice", "alice"]):
        await ok(peer, "Put", f"doc{i}", json.dumps({"owner": owner, "wh": i * 10}))
    rows = (await ok(peer, "Query", '{"selector":{"owner":"alice","wh":{"$gte":20}}}')).json
    assert [r["key"] for r in rows] == ["doc2", "doc3"]
    page = (await ok(peer, "QueryPage", '{"selector":{"owner":"alice"}}', "2", "")).json
    assert [r["key"] for r in page["records"]] == ["doc0", "doc2"] and page["bookmark"] == "doc3"


async def test_events_are_kept_for_successful_transactions(peer):
    result = await ok(peer, "Emit", "Minted", "42")
    assert result.event.event_name == "Minted" and result.event.payload == b"42"
    assert peer.events[-1].event_name == "Minted"


async def test_transaction_info_identity_and_binding(peer, alice):
    result = await ok(peer, "TxInfo", identity=alice, transient={"secret": b"s"}, timestamp=1_700_000_000,
                      tx_id="tx-info-1")
    info = result.json
    assert info["tx_id"] == "tx-info-1" and info["channel_id"] == peer.channel_id
    assert info["timestamp"] == [1_700_000_000, 0]
    assert info["msp_id"] == "Org1MSP" and info["attributes"]["role"] == "owner"
    assert info["id"] == "x509::CN=alice,OU=client::CN=ca.org1.example.com,O=org1.example.com,C=US"
    assert info["transient_keys"] == ["secret"] and info["has_signed_proposal"]
    assert len(bytes.fromhex(info["binding"])) == 32


async def test_private_data_round_trip(peer):
    need = await peer.invoke("conformance", "PutPrivate", "secrets", "k1")
    assert need.response.message.startswith("MISSING_TRANSIENT:")
    await ok(peer, "PutPrivate", "secrets", "k1", transient={"value": b"hidden"})
    await ok(peer, "PutPrivate", "secrets", "k2", transient={"value": b"also"})
    await ok(peer, "PutPrivateComposite", "secrets", "lot", '["alice","1"]', "p1")
    assert (await ok(peer, "GetPrivate", "secrets", "k1")).response.payload == b"hidden"
    assert (await ok(peer, "GetPrivateHash", "secrets", "k1")).response.payload.decode() == \
        hashlib.sha256(b"hidden").hexdigest()
    assert [r["key"] for r in (await ok(peer, "PrivateRange", "secrets", "k", "l")).json] == ["k1", "k2"]
    assert [r["value"] for r in (await ok(peer, "PrivatePartial", "secrets", "lot", '["alice"]')).json] == ["p1"]
    await ok(peer, "DeletePrivate", "secrets", "k1")
    await ok(peer, "PurgePrivate", "secrets", "k2")
    assert (await peer.invoke("conformance", "GetPrivate", "secrets", "k1")).response.message.startswith("NOT_FOUND")
    assert (await peer.invoke("conformance", "GetPrivate", "", "k1")).response.message.startswith("INVALID_ARGUMENT")


async def test_key_level_endorsement_policies(peer):
    await ok(peer, "Put", "guarded", "v")
    await ok(peer, "SetKeyPolicy", "guarded", '["Org2MSP","Org1MSP"]')
    assert (await ok(peer, "GetKeyPolicy", "guarded")).json == ["Org1MSP", "Org2MSP"]
    await ok(peer, "SetPrivateKeyPolicy", "secrets", "pk", '["Org1MSP"]')
    assert (await ok(peer, "GetPrivateKeyPolicy", "secrets", "pk")).json == []  # no value: Fabric keeps no metadata
    await ok(peer, "PutPrivate", "secrets", "pk", transient={"value": b"p"})
    await ok(peer, "SetPrivateKeyPolicy", "secrets", "pk", '["Org1MSP"]')
    assert (await ok(peer, "GetPrivateKeyPolicy", "secrets", "pk")).json == ["Org1MSP"]


async def test_calling_another_chaincode_commits_both_or_neither(peer):
    made = (await ok(peer, "Call", "records", '["CreateRecord","r1","7"]')).json
    assert made["status"] == 200
    assert json.loads(peer.state[("records", "")]["r1"]) == {"id": "r1", "value": "7"}
    again = (await ok(peer, "Call", "records", '["CreateRecord","r1","8"]')).json
    assert again["status"] == 500 and again["message"].startswith("RECORD_EXISTS:")
    missing = await peer.invoke("conformance", "Call", "nope", '["X"]')
    assert missing.response.message.startswith("PEER_ERROR:") and "not found" in missing.response.message


async def test_a_peer_error_reply_raises_with_the_peers_message(peer):
    class Failing(InMemoryPeer):
        def answer(self, message):
            if message.type == shim.ChaincodeMessage.GET_STATE:
                return self._error(message, "ledger is unavailable: disk I/O error")
            return super().answer(message)

    failing = Failing()
    failing.install("records", records)
    result = await failing.invoke("records", "ReadRecord", "r1")
    assert result.response.message == "PEER_ERROR: GET_STATE: peer error: ledger is unavailable: disk I/O error"


async def test_stub_rejects_invalid_keys_before_asking_the_peer():
    stub = ChaincodeStub(InMemoryPeer(), "ch", "tx", chaincode_pb2.ChaincodeInput())
    with pytest.raises(ValueError, match="empty"):
        await stub.get_state("")
    with pytest.raises(ValueError, match="null character"):
        await stub.get_state_by_range("\x00x", "")
    with pytest.raises(ValueError, match="event name"):
        stub.set_event("", b"")


class _Rewrites(Contract):
    @transaction
    async def Write(self, ctx: Context, count: int) -> None:
        for i in range(count):
            await ctx.stub.put_state(f"k{i:03d}", str(i).encode())
        await ctx.stub.put_state("a", b"1")
        await ctx.stub.put_state("a", b"2")  # the last write to a key wins
        await ctx.stub.put_state("b", b"x")
        await ctx.stub.del_state("b")  # put then delete: deleted
        await ctx.stub.del_state("c")
        await ctx.stub.put_state("c", b"3")  # delete then put: put
        await ctx.stub.set_state_validation_parameter("a", key_endorsement_policy(["Org1MSP"]))
        await ctx.stub.put_private_data("secrets", "p", b"s")

    @transaction
    async def WriteThenPage(self, ctx: Context) -> None:
        await ctx.stub.put_state("d", b"4")
        await ctx.stub.get_state_by_range_with_pagination("", "", 10, "")


async def test_writes_one_by_one_or_batched_commit_the_same_state(ledger):
    ledger.install("rw", ContractChaincode(_Rewrites()))
    ledger.state[("rw", "")] = {"b": b"old", "c": b"old"}
    assert (await ledger.invoke("rw", "Write", "250")).ok
    public = ledger.state[("rw", "")]
    assert public == {**{f"k{i:03d}": str(i).encode() for i in range(250)}, "a": b"2", "c": b"3"}
    assert ledger.state[("rw", "secrets")] == {"p": b"s"}
    assert set(ledger.metadata[("rw", "", "a")]) == {"VALIDATION_PARAMETER"}
    assert [v.value for v in ledger.history[("rw", "a")]] == [b"2"]
    if ledger.write_batch_size:  # 255 slots written, in batches of at most 100 records
        assert ledger.requests == {"WRITE_BATCH_STATE": 3}
    else:
        assert ledger.requests == {"PUT_STATE": 255, "DEL_STATE": 2, "PUT_STATE_METADATA": 1}


async def test_a_transaction_that_writes_and_pages_fails_either_way(ledger):
    # Fabric refuses a paginated query after a write; batched, the write reaches the peer after the query and
    # is refused instead. The transaction fails and commits nothing in both cases.
    ledger.install("rw", ContractChaincode(_Rewrites()))
    result = await ledger.invoke("rw", "WriteThenPage")
    assert not result.ok
    assert "PEER_ERROR" in result.response.message
    assert ("rw", "") not in ledger.state


async def test_a_failed_transaction_sends_no_writes(ledger):
    ledger.install("conformance", conformance)
    assert not (await ledger.invoke("conformance", "Fail", "because")).ok
    assert ledger.requests.get("WRITE_BATCH_STATE", 0) == 0
