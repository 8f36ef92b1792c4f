"""The embedded ledger's evaluation cache: an answer is reused only while no committed block wrote what it read."""

from __future__ import annotations

import json
import random

import pytest
from conformance import chaincode as conformance
from fabric_ccaas.testing import TestCA
from vpp_gateway.embedded import EmbeddedLedger
from vpp_gateway.embedded.evaluations import EvaluationCache
from vpp_gateway.embedded.rwset import RangeRead, RWSet


@pytest.fixture(scope="module")
def alice():
    return TestCA("Org1MSP", "org1.example.com").issue("alice", {"role": "owner", "hf.EnrollmentID": "alice"})


@pytest.fixture
def ledger(tmp_path):
    ledger = EmbeddedLedger.open(tmp_path / "ledger.db", block_size=1, block_timeout=0.002)
    ledger.install("conformance", conformance)
    yield ledger
    ledger.close()


async def test_an_answer_is_reused_until_a_block_writes_a_key_it_read(ledger, alice):
    put = lambda k, v: ledger.submit("conformance", "Put", [k, v], alice.creator)  # noqa: E731
    get = lambda k: ledger.evaluate("conformance", "Get", [k], alice.creator)  # noqa: E731
    await put("a", "1")
    await put("b", "1")
    assert await get("a") == b"1"
    hits = ledger.evaluations.hits
    assert await get("a") == b"1" and ledger.evaluations.hits == hits + 1
    await put("b", "2")                        # another key: the answer stands
    assert await get("a") == b"1" and ledger.evaluations.hits == hits + 2
    await put("a", "2")                        # the key it read: recomputed
    assert await get("a") == b"2" and ledger.evaluations.hits == hits + 2


async def test_a_range_answer_goes_when_a_block_writes_inside_the_range_only(ledger, alice):
    await ledger.submit("conformance", "PutMany", ["r", "3"], alice.creator)
    scan = lambda: ledger.evaluate("conformance", "Range", ["r", "s"], alice.creator)  # noqa: E731
    first = json.loads(await scan())
    await ledger.submit("conformance", "Put", ["t", "outside"], alice.creator)
    hits = ledger.evaluations.hits
    assert json.loads(await scan()) == first and ledger.evaluations.hits == hits + 1
    await ledger.submit("conformance", "Put", ["r-new", "inside"], alice.creator)  # a new key: a phantom
    assert len(json.loads(await scan())) == len(first) + 1


async def test_answers_that_depend_on_the_proposal_or_unprotected_reads_are_never_kept(ledger, alice):
    await ledger.submit("conformance", "Put", ["k", "v"], alice.creator)
    for fn, args in [("TxInfo", []),                                   # tx id and timestamp
                     ("Query", ['{"selector": {}}']),                  # rich query: no read set
                     ("History", ["k"])]:                              # history: no read set
        first = await ledger.evaluate("conformance", fn, args, alice.creator)
        second = await ledger.evaluate("conformance", fn, args, alice.creator)
        assert ledger.evaluations.hits == 0, fn
        if fn == "TxInfo":
            assert json.loads(first)["tx_id"] != json.loads(second)["tx_id"]
    assert len(ledger.evaluations) == 0


async def test_cached_answers_equal_fresh_simulations_over_a_random_log(ledger, alice):
    """200 random writes (puts, deletes, composite keys); after each, every query answered through the cache
    equals a fresh simulation of it (endorse bypasses the cache)."""
    rng = random.Random(20261123)
    queries = [("Get", [f"k{n}"]) for n in range(6)] + [("Range", ["k", "l"]), ("Range", ["k2", "k4"]),
                                                         ("Partial", ["lot", "[]"]), ("Partial", ["lot", '["a"]'])]
    for step in range(200):
        n = rng.randrange(6)
        choice = rng.random()
        if choice < 0.5:
            await ledger.submit("conformance", "Put", [f"k{n}", f"v{step}"], alice.creator)
        elif choice < 0.7:
            await ledger.submit("conformance", "Delete", [f"k{n}"], alice.creator)
        else:
            owner = rng.choice("ab")
            await ledger.submit("conformance", "PutComposite", ["lot", json.dumps([owner, str(n)]), f"v{step}"],
                                alice.creator)
        for fn, args in rng.sample(queries, 4):
            try:
                cached = await ledger.evaluate("conformance", fn, args, alice.creator)
            except Exception as exc:  # e.g. NOT_FOUND for a deleted key: the fresh simulation must refuse too
                with pytest.raises(type(exc)):
                    await ledger.endorse("conformance", fn, args, alice.creator)
                continue
            fresh = (await ledger.endorse("conformance", fn, args, alice.creator)).response.payload
            assert cached == fresh, (step, fn, args)
    assert ledger.evaluations.hits > 100  # the cache was really used


def _rwset(keys=(), ranges=()) -> RWSet:
    rw = RWSet()
    for k in keys:
        rw.record_read(("cc", "", k), (1, 0))
    rw.ranges.extend(RangeRead("cc", "", start, end) for start, end in ranges)
    return rw


def test_range_bounds_are_half_open_and_an_empty_end_is_unbounded():
    cache = EvaluationCache()
    cache.put(("cc", (b"q1",), b""), b"1", _rwset(ranges=[("b", "d")]), cache.generation)
    cache.put(("cc", (b"q2",), b""), b"2", _rwset(ranges=[("m", "")]), cache.generation)
    cache.put(("cc", (b"q3",), b""), b"3", _rwset(keys=["x"]), cache.generation)
    cache.invalidate([("cc", "", "d"), ("cc", "", "a"), ("other", "", "c")])   # end excluded; other namespace
    assert len(cache) == 3
    cache.invalidate([("cc", "", "zzz")])        # inside the unbounded range
    assert cache.get(("cc", (b"q2",), b"")) is None and len(cache) == 2
    cache.invalidate([("cc", "", "b")])          # start included
    assert cache.get(("cc", (b"q1",), b"")) is None
    assert cache.get(("cc", (b"q3",), b"")) == b"3"


def test_a_store_from_before_an_invalidation_is_refused_and_the_size_is_bounded():
    cache = EvaluationCache(max_entries=2)
    generation = cache.generation
    cache.invalidate([("cc", "", "k")])
    cache.put(("cc", (b"late",), b""), b"x", _rwset(keys=["k"]), generation)
    assert len(cache) == 0
    for n in range(3):
        cache.put(("cc", (str(n).encode(),), b""), b"x", _rwset(keys=[str(n)]), cache.generation)
    assert len(cache) == 2 and cache.get(("cc", (b"0",), b"")) is None  # the least recently used went
