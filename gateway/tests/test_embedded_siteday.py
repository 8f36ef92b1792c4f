"""The energy contract's simulated site-day through the embedded ledger ends as it does on the in-process peer."""

from __future__ import annotations

import pytest
from fabric_ccaas.testing import InMemoryPeer, Result, TestCA
from fabric_protos.peer import proposal_response_pb2
from vpp_contract import ledger as vpp_ledger
from vpp_contract.contract import chaincode as vpp
from vpp_contract.tests.conftest import DAY0, World
from vpp_contract.tests.siteday import SiteDay
from vpp_gateway.embedded import EmbeddedLedger, EndorsementError, audit
from vpp_gateway.embedded.rwset import WorldStateHasher


class EmbeddedPeer:
    """InMemoryPeer's ``invoke`` on the embedded ledger, so the contract tests' World helpers run unchanged.

    Transactions tagged EVALUATE in the contract metadata are evaluated, the others submitted and committed.
    Transaction ids follow InMemoryPeer's sequence (``tx00000001``, ...): the contract derives lot ids from them,
    so the same input log with the same ids must give the same world state.
    """

    def __init__(self, ledger: EmbeddedLedger, name: str, chaincode):
        self.ledger = ledger
        self.count = 0
        ledger.install(name, chaincode)
        self.evaluate_only = {tx["name"] for contract in chaincode.metadata["contracts"].values()
                              for tx in contract["transactions"] if "EVALUATE" in tx["tag"]}

    async def invoke(self, chaincode, function, *args, identity=None, transient=None, timestamp=None) -> Result:
        creator = identity.creator if identity else b""
        self.count += 1
        tx_id = f"tx{self.count:08d}"
        try:
            if function in self.evaluate_only:
                payload = await self.ledger.evaluate(chaincode, function, args, creator, transient, timestamp=timestamp,
                                                     tx_id=tx_id)
                return Result(proposal_response_pb2.Response(status=200, payload=payload), None, "")
            committed = await self.ledger.submit(chaincode, function, args, creator, transient, timestamp=timestamp,
                                                 tx_id=tx_id)
            return Result(proposal_response_pb2.Response(status=200, payload=committed.result), None, committed.tx_id)
        except EndorsementError as exc:
            return Result(proposal_response_pb2.Response(status=exc.status, message=exc.message), None, exc.tx_id)


def in_memory_state_hash(peer: InMemoryPeer) -> str:
    hasher = WorldStateHasher()
    entries = sorted(((ns, coll, key, value) for (ns, coll), space in peer.state.items()
                      for key, value in space.items()), key=lambda e: (e[0].encode(), e[1].encode(), e[2].encode()))
    for entry in entries:
        hasher.add(*entry)
    return hasher.hexdigest()


async def run_day(world: World, day: SiteDay, readings: list[dict], batch_size: int = 48) -> dict:
    """test_contract_siteday.run_day, with the signed readings passed in so both backends get the same bytes."""
    for fn, args in day.registrations():
        await world.ok(fn, *[a if isinstance(a, (str, dict, list)) else str(a) for a in args])
    for i in range(0, len(readings), batch_size):
        results = await world.submit(*readings[i:i + batch_size])
        assert {r["status"] for r in results} == {"accepted"}, results
    return {"balance": await world.ok("GetBalance", day.owner), "supply": await world.ok("GetSupply")}


@pytest.mark.parametrize("scan_page", [10_000, 7])  # 7: GetSupply reads its lots and supply rows over many pages
async def test_a_site_day_ends_with_the_same_supply_balance_and_state_as_on_the_in_process_peer(tmp_path, scan_page,
                                                                                              monkeypatch):
    monkeypatch.setattr(vpp_ledger, "SCAN_PAGE", scan_page)
    org1, org2 = TestCA("Org1MSP", "org1.example.com"), TestCA("Org2MSP", "org2.example.com")
    admin = org1.issue("operator", {"role": "admin", "hf.EnrollmentID": "operator"})
    utility = org2.issue("utility", {"role": "utility", "hf.EnrollmentID": "utility"})
    owners = {"alice": org1.issue("alice", {"role": "owner", "hf.EnrollmentID": "alice"})}
    day = SiteDay("day1", "Org1MSP:alice", DAY0)
    readings = day.readings()

    reference_peer = InMemoryPeer("vppchannel")
    reference_peer.install("vpp", vpp)
    reference = await run_day(World(reference_peer, admin, utility, owners), day, readings)

    path = tmp_path / "vpp.db"
    ledger = EmbeddedLedger.open(path, block_timeout=0.002)
    try:
        embedded = await run_day(World(EmbeddedPeer(ledger, "vpp", vpp), admin, utility, owners), day, readings)
        assert embedded == reference
        assert reference["supply"]["Tgen"]["minted"] > 20_000 and reference["supply"]["Tgen"]["conserved"]
        assert ledger.state_hash() == in_memory_state_hash(reference_peer)  # the same world state, byte for byte
    finally:
        ledger.close()
    report = audit(path)
    assert report.ok and report.valid_transactions == report.transactions
