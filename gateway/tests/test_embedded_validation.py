"""Fabric's validation rules on the embedded ledger: MVCC and phantom conflicts, duplicate ids, block cutting."""

from __future__ import annotations

import asyncio

import pytest
from conformance import chaincode as conformance
from fabric_ccaas import Context, Contract, ContractChaincode, transaction
from fabric_ccaas.testing import TestCA
from records import chaincode as records
from vpp_gateway.embedded import CommitError, EmbeddedLedger, EndorsementError


@pytest.fixture(scope="module")
def alice():
    return TestCA().issue("alice", {"role": "owner"})


@pytest.fixture
def ledger(tmp_path):
    ledger = EmbeddedLedger.open(tmp_path / "ledger.db", block_size=50, block_timeout=0.02)
    ledger.install("records", records)
    ledger.install("conformance", conformance)
    yield ledger
    ledger.close()


async def in_one_block(ledger, *endorsed):
    """Order already-endorsed transactions in this order; with block_size=len(endorsed) they share a block."""
    ledger.block_size = len(endorsed)
    return await asyncio.gather(*(ledger.submit_endorsed(tx) for tx in endorsed), return_exceptions=True)


async def test_two_writers_of_one_key_in_one_block_one_valid_one_mvcc_conflict(ledger, alice):
    first = await ledger.endorse("records", "CreateRecord", ["r1", "1"], alice.creator)
    second = await ledger.endorse("records", "CreateRecord", ["r1", "2"], alice.creator)  # both read r1 absent
    committed, rejected = await in_one_block(ledger, first, second)
    assert committed.validation_code_name == "VALID"
    assert isinstance(rejected, CommitError) and rejected.code_name == "MVCC_READ_CONFLICT"
    assert rejected.validation_code == 11 and rejected.tx_id == second.tx_id
    assert committed.block_number == rejected.block_number == ledger.height - 1
    assert await ledger.evaluate("records", "ReadRecord", ["r1"], alice.creator) == b'{"id":"r1","value":"1"}'


async def test_a_read_made_stale_by_an_earlier_block_is_a_conflict(ledger, alice):
    stale = await ledger.endorse("records", "CreateRecord", ["r1", "1"], alice.creator)
    await ledger.submit("records", "CreateRecord", ["r1", "0"], alice.creator)
    with pytest.raises(CommitError) as raised:
        await ledger.submit_endorsed(stale)
    assert raised.value.code_name == "MVCC_READ_CONFLICT"


async def test_blind_writes_to_one_key_are_both_valid_and_the_last_wins(ledger, alice):
    one = await ledger.endorse("conformance", "Put", ["k", "1"], alice.creator)
    two = await ledger.endorse("conformance", "Put", ["k", "2"], alice.creator)
    results = await in_one_block(ledger, one, two)
    assert [r.validation_code for r in results] == [0, 0]
    assert await ledger.evaluate("conformance", "Get", ["k"], alice.creator) == b"2"


async def test_an_insert_into_a_range_read_earlier_in_the_block_is_a_phantom(ledger, alice):
    await ledger.submit("conformance", "PutMany", ["p", "3"], alice.creator)
    reader = await ledger.endorse("conformance", "Range", ["p", "q"], alice.creator)
    insert = await ledger.endorse("conformance", "Put", ["p00001a", "x"], alice.creator)
    inserted, phantom = await in_one_block(ledger, insert, reader)
    assert inserted.validation_code == 0
    assert isinstance(phantom, CommitError) and phantom.code_name == "PHANTOM_READ_CONFLICT"
    assert phantom.validation_code == 12


@pytest.mark.parametrize("change", [["Delete", ["p00001"]], ["Put", ["p00002", "changed"]]])
async def test_deleting_or_updating_a_key_inside_a_range_read_is_a_phantom(ledger, alice, change):
    await ledger.submit("conformance", "PutMany", ["p", "3"], alice.creator)
    reader = await ledger.endorse("conformance", "Range", ["p", "q"], alice.creator)
    writer = await ledger.endorse("conformance", change[0], change[1], alice.creator)
    _, phantom = await in_one_block(ledger, writer, reader)
    assert isinstance(phantom, CommitError) and phantom.code_name == "PHANTOM_READ_CONFLICT"


async def test_writes_outside_the_range_or_after_the_range_read_leave_it_valid(ledger, alice):
    await ledger.submit("conformance", "PutMany", ["p", "3"], alice.creator)
    reader = await ledger.endorse("conformance", "Range", ["p", "q"], alice.creator)
    outside = await ledger.endorse("conformance", "Put", ["q0", "x"], alice.creator)
    after = await ledger.endorse("conformance", "Put", ["p00001a", "x"], alice.creator)
    results = await in_one_block(ledger, outside, reader, after)  # `after` follows the reader in the block
    assert [r.validation_code for r in results] == [0, 0, 0]


async def test_a_page_that_stopped_early_is_checked_up_to_its_last_key_only(ledger, alice):
    await ledger.submit("conformance", "PutMany", ["p", "4"], alice.creator)
    page = await ledger.endorse("conformance", "RangePage", ["p", "q", "2", ""], alice.creator)  # p00000, p00001
    beyond = await ledger.endorse("conformance", "Put", ["p00002a", "x"], alice.creator)
    results = await in_one_block(ledger, beyond, page)
    assert [r.validation_code for r in results] == [0, 0]
    page = await ledger.endorse("conformance", "RangePage", ["p", "q", "2", ""], alice.creator)
    within = await ledger.endorse("conformance", "Put", ["p00000a", "x"], alice.creator)
    _, phantom = await in_one_block(ledger, within, page)
    assert isinstance(phantom, CommitError) and phantom.code_name == "PHANTOM_READ_CONFLICT"


async def test_a_reused_transaction_id_is_a_duplicate(ledger, alice):
    one = await ledger.endorse("conformance", "Put", ["a", "1"], alice.creator, tx_id="same-id")
    two = await ledger.endorse("conformance", "Put", ["b", "2"], alice.creator, tx_id="same-id")
    committed, duplicate = await in_one_block(ledger, one, two)
    assert committed.validation_code == 0
    assert isinstance(duplicate, CommitError) and duplicate.code_name == "DUPLICATE_TXID"
    with pytest.raises(EndorsementError, match="duplicate transaction"):  # the endorser checks the ledger too
        await ledger.endorse("conformance", "Put", ["c", "3"], alice.creator, tx_id="same-id")
    with pytest.raises(EndorsementError):
        await ledger.evaluate("conformance", "Get", ["b"], alice.creator)


async def test_a_chaincode_error_is_raised_at_endorsement_and_never_ordered(ledger, alice):
    height = ledger.height
    with pytest.raises(EndorsementError) as raised:
        await ledger.submit("conformance", "Fail", ["because"], alice.creator)
    assert raised.value.message == "REQUESTED_FAILURE: because" and raised.value.status == 500
    with pytest.raises(EndorsementError, match=r"^NOT_FOUND: no value for must-not-commit"):
        await ledger.evaluate("conformance", "Get", ["must-not-commit"], alice.creator)
    with pytest.raises(EndorsementError, match="not installed"):
        await ledger.submit("missing", "X", [], alice.creator)
    assert ledger.height == height


class PagedWriter(Contract):
    @transaction
    async def PageThenWrite(self, ctx: Context) -> None:
        await ctx.stub.get_state_by_range_with_pagination("", "", 10)
        await ctx.stub.put_state("x", b"1")

    @transaction
    async def WriteThenPage(self, ctx: Context) -> None:
        await ctx.stub.put_state("x", b"1")
        await ctx.stub.get_state_by_range_with_pagination("", "", 10)


async def test_paginated_queries_and_writes_do_not_mix_as_on_fabric(ledger, alice):
    ledger.install("paged", ContractChaincode(PagedWriter()))
    with pytest.raises(EndorsementError, match=r"^PEER_ERROR: PUT_STATE: .*write after a paginated query"):
        await ledger.submit("paged", "PageThenWrite", [], alice.creator)
    with pytest.raises(EndorsementError, match=r"^PEER_ERROR: GET_STATE_BY_RANGE: .*paginated queries after a write"):
        await ledger.submit("paged", "WriteThenPage", [], alice.creator)


async def test_transactions_do_not_read_their_own_writes(ledger, alice):
    class ReadBack(Contract):
        @transaction
        async def T(self, ctx: Context) -> str:
            await ctx.stub.put_state("x", b"new")
            return (await ctx.stub.get_state("x")).decode()

    ledger.install("rb", ContractChaincode(ReadBack()))
    assert (await ledger.submit("rb", "T", [], alice.creator)).result == b""
    assert (await ledger.submit("rb", "T", [], alice.creator)).result == b"new"


async def test_blocks_are_cut_by_count_then_by_timeout(tmp_path, alice):
    ledger = EmbeddedLedger.open(tmp_path / "cut.db", block_size=3, block_timeout=0.3)
    ledger.install("conformance", conformance)
    try:
        results = await asyncio.gather(*(ledger.submit("conformance", "Put", [f"k{i}", "v"], alice.creator)
                                         for i in range(7)))
        sizes = [sum(1 for r in results if r.block_number == b) for b in sorted({r.block_number for r in results})]
        assert sizes == [3, 3, 1] and ledger.height == 4  # genesis + three blocks; the last one cut by the timer
    finally:
        ledger.close()


async def test_fifty_concurrent_submits_of_distinct_keys_are_valid_in_few_blocks(tmp_path, alice):
    ledger = EmbeddedLedger.open(tmp_path / "many.db")  # defaults: 50 per block, 100 ms
    ledger.install("records", records)
    try:
        results = await asyncio.gather(*(ledger.submit("records", "CreateRecord", [f"r{i:02d}", str(i)], alice.creator)
                                         for i in range(50)))
        assert {r.validation_code_name for r in results} == {"VALID"}
        assert len({r.tx_id for r in results}) == 50
        assert len({r.block_number for r in results}) <= 3  # one when the host is not overloaded
    finally:
        ledger.close()


async def test_the_transaction_time_comes_from_the_injected_clock(tmp_path, alice):
    ticks = iter(range(1_700_000_000, 1_700_000_100))
    ledger = EmbeddedLedger.open(tmp_path / "clock.db", block_timeout=0.01,
                                 clock=lambda: next(ticks) * 1_000_000_000 + 5)
    ledger.install("conformance", conformance)
    try:
        info = await ledger.evaluate("conformance", "TxInfo", [], alice.creator)
        assert b'"timestamp":[1700000000,5]' in info
        await ledger.submit("conformance", "Put", ["k", "v"], alice.creator)
        assert b'"seconds":1700000001' in await ledger.evaluate("conformance", "History", ["k"], alice.creator)
        await ledger.submit("conformance", "Put", ["k", "w"], alice.creator, timestamp=42)  # an explicit time wins
        assert b'"seconds":42' in await ledger.evaluate("conformance", "History", ["k"], alice.creator)
    finally:
        ledger.close()
