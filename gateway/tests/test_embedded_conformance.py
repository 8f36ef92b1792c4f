"""The conformance contract through the embedded ledger: every stub call, as test_stub.py runs it on InMemoryPeer."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest
from conformance import chaincode as conformance
from fabric_ccaas.testing import TestCA
from records import chaincode as records
from vpp_gateway.embedded import EmbeddedLedger, EndorsementError, audit


@pytest.fixture(scope="module")
def alice():
    return TestCA("Org1MSP", "org1.example.com").issue("alice", {"role": "owner", "hf.EnrollmentID": "alice"})


@pytest.fixture
def ledger(tmp_path):
    ledger = EmbeddedLedger.open(tmp_path / "ledger.db", block_timeout=0.005)
    ledger._simulator.batch_size = 7  # small batches make every range walk cross batch boundaries
    ledger.install("conformance", conformance)
    ledger.install("records", records)
    yield ledger
    path = ledger.store.path
    ledger.close()
    assert audit(path).ok  # every test leaves a ledger that audits clean


@pytest.fixture
def call(ledger, alice):
    async def call(fn, *args, submit=True, **kw):
        if submit:
            return (await ledger.submit("conformance", fn, list(args), alice.creator, **kw)).result
        return await ledger.evaluate("conformance", fn, list(args), alice.creator, **kw)
    return call


def rows(raw):
    return json.loads(raw)


async def test_put_get_delete_and_history(call):
    await call("Put", "k", "v1", timestamp=1000)
    await call("Put", "k", "v2", timestamp=2000)
    assert await call("Get", "k", submit=False) == b"v2"
    await call("Delete", "k", timestamp=3000)
    with pytest.raises(EndorsementError, match=r"^NOT_FOUND:"):
        await call("Get", "k", submit=False)
    history = rows(await call("History", "k", submit=False))
    assert [(h["value"], h["is_delete"], h["seconds"]) for h in history] == [
        ("", True, 3000), ("v2", False, 2000), ("v1", False, 1000)]


async def test_range_crosses_batches_and_skips_composite_keys(call):
    await call("PutMany", "r", "25")
    await call("PutComposite", "lot", '["a"]', "composite")
    assert [r["key"] for r in rows(await call("Range", "", "", submit=False))] == [f"r{i:05d}" for i in range(25)]
    assert [r["key"] for r in rows(await call("Range", "r00003", "r00006", submit=False))] == \
        ["r00003", "r00004", "r00005"]


async def test_a_submitted_range_walk_across_batches_stays_valid(call):
    await call("PutMany", "r", "25")
    assert len(rows(await call("Range", "", ""))) == 25  # submitted: four batches recorded in the read set


async def test_paginated_range_walks_every_page_with_bookmarks(call):
    await call("PutMany", "p", "23")
    seen, bookmark, pages = [], "", 0
    while True:
        page = rows(await call("RangePage", "p", "q", "10", bookmark, submit=False))
        pages += 1
        seen += [r["key"] for r in page["records"]]
        assert page["count"] == len(page["records"])
        bookmark = page["bookmark"]
        if not bookmark:
            break
    assert pages == 3 and seen == [f"p{i:05d}" for i in range(23)]


async def test_composite_keys_partial_queries_and_pages(call):
    for owner, lot in [("alice", "1"), ("alice", "2"), ("bob", "1"), ("alice", "3")]:
        await call("PutComposite", "lot", json.dumps([owner, lot]), f"{owner}-{lot}")
    found = rows(await call("Partial", "lot", '["alice"]', submit=False))
    assert [r["attributes"] for r in found] == [["alice", "1"], ["alice", "2"], ["alice", "3"]]
    first = rows(await call("PartialPage", "lot", "[]", "3", "", submit=False))
    assert first["count"] == 3 and first["bookmark"]
    second = rows(await call("PartialPage", "lot", "[]", "3", first["bookmark"], submit=False))
    assert second["attributes"] == [["bob", "1"]] and second["bookmark"] == ""


async def test_rich_queries_and_pages(call):
    for i, owner in enumerate(["alice", "bob", "alice", "alice"]):
        await call("Put", f"doc{i}", json.dumps({"owner": owner, "wh": i * 10}))
    found = rows(await call("Query", '{"selector":{"owner":"alice","wh":{"$gte":20}}}', submit=False))
    assert [r["key"] for r in found] == ["doc2", "doc3"]
    page = rows(await call("QueryPage", '{"selector":{"owner":"alice"}}', "2", "", submit=False))
    assert [r["key"] for r in page["records"]] == ["doc0", "doc2"] and page["bookmark"] == "doc3"


async def test_private_data_round_trip(call):
    with pytest.raises(EndorsementError, match=r"^MISSING_TRANSIENT:"):
        await call("PutPrivate", "secrets", "k1")
    await call("PutPrivate", "secrets", "k1", transient={"value": b"hidden"})
    await call("PutPrivate", "secrets", "k2", transient={"value": b"also"})
    await call("PutPrivateComposite", "secrets", "lot", '["alice","1"]', "p1")
    assert await call("GetPrivate", "secrets", "k1", submit=False) == b"hidden"
    digest = (await call("GetPrivateHash", "secrets", "k1", submit=False)).decode()
    assert digest == hashlib.sha256(b"hidden").hexdigest()
    assert [r["key"] for r in rows(await call("PrivateRange", "secrets", "k", "l", submit=False))] == ["k1", "k2"]
    assert [r["value"] for r in rows(await call("PrivatePartial", "secrets", "lot", '["alice"]', submit=False))] == \
        ["p1"]
    await call("DeletePrivate", "secrets", "k1")
    await call("PurgePrivate", "secrets", "k2")
    for key in ("k1", "k2"):
        with pytest.raises(EndorsementError, match=r"^NOT_FOUND"):
            await call("GetPrivate", "secrets", key, submit=False)
    assert await call("GetPrivateHash", "secrets", "k2", submit=False) == b""


async def test_key_level_endorsement_policies(call):
    await call("Put", "guarded", "v")
    await call("SetKeyPolicy", "guarded", '["Org2MSP","Org1MSP"]')
    assert rows(await call("GetKeyPolicy", "guarded", submit=False)) == ["Org1MSP", "Org2MSP"]
    await call("SetPrivateKeyPolicy", "secrets", "pk", '["Org1MSP"]')
    assert rows(await call("GetPrivateKeyPolicy", "secrets", "pk", submit=False)) == []  # no value, no metadata
    await call("PutPrivate", "secrets", "pk", transient={"value": b"p"})
    await call("SetPrivateKeyPolicy", "secrets", "pk", '["Org1MSP"]')
    assert rows(await call("GetPrivateKeyPolicy", "secrets", "pk", submit=False)) == ["Org1MSP"]
    await call("Put", "guarded", "v2")  # a value update keeps the key's metadata
    assert rows(await call("GetKeyPolicy", "guarded", submit=False)) == ["Org1MSP", "Org2MSP"]


async def test_transaction_info_identity_and_binding(ledger, alice):
    info = json.loads(await ledger.evaluate("conformance", "TxInfo", [], alice.creator, {"secret": b"s"},
                                            timestamp=1_700_000_000))
    assert info["channel_id"] == "vppchannel" and info["timestamp"] == [1_700_000_000, 0]
    assert len(info["tx_id"]) == 64  # SHA-256(nonce ‖ creator), hex, as Fabric computes it
    assert info["msp_id"] == "Org1MSP" and info["attributes"]["role"] == "owner"
    assert info["id"] == "x509::CN=alice,OU=client::CN=ca.org1.example.com,O=org1.example.com,C=US"
    assert info["transient_keys"] == ["secret"] and info["has_signed_proposal"]
    assert len(bytes.fromhex(info["binding"])) == 32


async def test_calling_another_chaincode_commits_both_or_neither(ledger, call):
    made = rows(await call("Call", "records", '["CreateRecord","r1","7"]'))
    assert made["status"] == 200
    assert json.loads(await ledger.evaluate("records", "ReadRecord", ["r1"])) == {"id": "r1", "value": "7"}
    again = rows(await call("Call", "records", '["CreateRecord","r1","8"]'))
    assert again["status"] == 500 and again["message"].startswith("RECORD_EXISTS:")
    with pytest.raises(EndorsementError, match=r"^PEER_ERROR:.*not found"):
        await call("Call", "nope", '["X"]')


async def test_a_callees_reads_are_validated_too(ledger, alice):
    first = await ledger.endorse("conformance", "Call", ["records", '["CreateRecord","r1","1"]'], alice.creator)
    second = await ledger.endorse("records", "CreateRecord", ["r1", "2"], alice.creator)
    ledger.block_size = 2
    results = await asyncio.gather(ledger.submit_endorsed(second), ledger.submit_endorsed(first),
                                   return_exceptions=True)
    assert results[0].validation_code == 0 and results[1].code_name == "MVCC_READ_CONFLICT"


async def test_events_of_valid_transactions_resume_from_a_block(ledger, call, alice):
    await call("Emit", "Minted", "1")
    await call("Put", "quiet", "x")
    second = await ledger.submit("conformance", "Emit", ["Minted", "2"], alice.creator)
    await ledger.submit("records", "CreateRecord", ["r1", "1"], alice.creator)  # another chaincode's event

    async def take(n, start=0):
        out = []
        async for event in ledger.events("conformance", start_block=start):
            out.append(event)
            if len(out) == n:
                return out

    events = await asyncio.wait_for(take(2), 2)
    assert [(e.event_name, e.payload) for e in events] == [("Minted", b"1"), ("Minted", b"2")]
    assert events[1].tx_id == second.tx_id and events[1].block_number == second.block_number
    resumed = await asyncio.wait_for(take(1, start=second.block_number), 2)
    assert resumed[0].payload == b"2"
    waiting = asyncio.ensure_future(take(1, start=ledger.height))  # a live subscriber sees the next block
    await asyncio.sleep(0.01)
    await call("Emit", "Burned", "3")
    assert (await asyncio.wait_for(waiting, 2))[0].event_name == "Burned"



async def test_in_process_state_calls_record_what_the_messages_record(ledger, alice, monkeypatch):
    """The stub's in-process GET_STATE/PUT_STATE (no message encoding) leave the same read/write set and answer as
    the ChaincodeMessage exchange, which the Simulator still serves for stubs on other transports."""
    from vpp_gateway.embedded.simulator import Simulator

    await ledger.submit("conformance", "Put", ["k", "v1"], alice.creator)
    messages_seen: list[int] = []
    dispatch = Simulator._dispatch
    monkeypatch.setattr(Simulator, "_dispatch", lambda self, ctx, m: messages_seen.append(m.type) or dispatch(
        self, ctx, m))

    async def endorse():
        read = await ledger.endorse("conformance", "Get", ["k"], alice.creator, nonce=b"r" * 24, timestamp=5)
        write = await ledger.endorse("conformance", "Put", ["k2", "v2"], alice.creator, nonce=b"w" * 24, timestamp=5)
        return read.response.payload, read.rwset, write.rwset

    local = await endorse()
    assert messages_seen == []  # neither call went through a message
    monkeypatch.delattr(Simulator, "get_state_local")
    monkeypatch.delattr(Simulator, "put_state_local")
    by_message = await endorse()
    assert len(messages_seen) == 2
    assert local == by_message
    payload, read_set, write_set = local
    assert payload == b"v1" and list(read_set.reads.values()) == [(1, 0)] and not read_set.writes
    assert [(k[2], w.value) for k, w in write_set.writes.items()] == [("k2", b"v2")]


async def test_in_process_range_queries_record_what_the_messages_record(ledger, alice, monkeypatch):
    """Public range queries served in-process (no QUERY_STATE_NEXT messages) hand out the same batches and leave
    the same read set: a walk across batches, one closed early in the middle of a batch, an empty range and a
    partial composite key query."""
    from vpp_gateway.embedded.simulator import Simulator

    await ledger.submit("conformance", "PutMany", ["r", "25"], alice.creator)
    await ledger.submit("conformance", "PutComposite", ["lot", '["a"]', "composite"], alice.creator)
    messages_seen: list[int] = []
    dispatch = Simulator._dispatch
    monkeypatch.setattr(Simulator, "_dispatch", lambda self, ctx, m: messages_seen.append(m.type) or dispatch(
        self, ctx, m))
    calls = [("Range", ["", ""]), ("RangeFirst", ["r00003", "r00020", "9"]), ("RangeFirst", ["r", "s", "7"]),
             ("Range", ["x", "y"]), ("Partial", ["lot", "[]"])]

    async def endorse():
        out = []
        for n, (fn, args) in enumerate(calls):
            tx = await ledger.endorse("conformance", fn, args, alice.creator, nonce=bytes([n]) * 24, timestamp=5)
            out.append((tx.response.payload, tx.rwset))
        return out

    local = await endorse()
    assert messages_seen == []
    monkeypatch.delattr(Simulator, "range_local")
    by_message = await endorse()
    assert len(messages_seen) > len(calls)  # GET_STATE_BY_RANGE, QUERY_STATE_NEXT and QUERY_STATE_CLOSE
    assert local == by_message
    (_, walk), (_, first9), (_, first7), (_, empty), _ = local
    assert [len(r.results) for r in walk.ranges] == [25] and walk.ranges[0].exhausted
    # 9 taken from a range of 17: two batches of 7 were handed out, so 14 keys are in the read set
    assert [len(r.results) for r in first9.ranges] == [14] and not first9.ranges[0].exhausted
    assert [len(r.results) for r in first7.ranges] == [7] and not first7.ranges[0].exhausted
    assert empty.ranges[0].results == [] and empty.ranges[0].exhausted
