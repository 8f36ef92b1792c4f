"""Every transaction, with the ledger failing under it: a PEER_ERROR with the peer's message, and nothing written."""

import copy

import pytest
from fabric_ccaas.testing import InMemoryPeer

from vpp_contract.contract import chaincode

from .conftest import BATTERY, DAY0, World

T = DAY0 + 12 * 3600
NOW = DAY0 + 10 * 86_400


class FailingPeer(InMemoryPeer):
    failing = False

    def answer(self, message):
        if self.failing:
            return self._error(message, "state database unavailable")
        return super().answer(message)


CALLS = [
    ("RegisterSite", ["s9", "Org1MSP:bob", "x"], "admin"),
    ("RegisterAsset", ["a9", "s1", "generator", "100", "{}"], "admin"),
    ("RegisterAsset", ["b9", "s1", "battery", "100", BATTERY], "admin"),
    ("RegisterMeter", ["m9", "s1-gen", "900", "PEM"], "admin"),
    ("RotateMeterKey", ["m-s1-gen", "PEM"], "admin"),
    ("SetMeterActive", ["m-s1-gen", "false"], "admin"),
    ("SubmitReadings", ["READINGS"], "admin"),
    ("DepositCredit", ["Org1MSP:bob", "5"], "admin"),
    ("CreateOffer", ["Tgen", "10", "1000", str(NOW), str(NOW + 3600)], "alice"),
    ("CancelOffer", ["OFFER"], "alice"),
    ("AcceptOffer", ["OFFER", "5"], "bob"),
    ("SetStandingBid", ["1000", "true"], "utility"),
    ("SettleExpiredTgen", ["Org1MSP:alice", "3600"], "admin"),
    ("GetBalance", ["Org1MSP:alice"], "alice"),
    ("GetLots", ["Org1MSP:alice", "Tgen"], "alice"),
    ("GetSupply", [], "admin"),
    ("GetReadings", ["m-s1-gen", str(T), str(T + 3600)], "alice"),
    ("GetAssetEvents", ["s1-gen", str(T), str(T + 3600)], "alice"),
    ("GetSiteStatement", ["s1", str(T), str(T + 3600)], "alice"),
    ("GetBatteryState", ["s1-bat"], "alice"),
    ("GetAsset", ["s1-gen"], "alice"),
    ("GetSites", ["Org1MSP:alice"], "alice"),
    ("QuerySitesByLocation", ["Utrecht"], "admin"),
    ("QueryReadingsBySite", ["s1", str(T), str(T + 3600), "10", ""], "alice"),
    ("QueryOffers", ["active", "Tgen", "10", ""], "bob"),
    ("GetOffer", ["OFFER"], "bob"),
    ("GetTrades", ["OFFER"], "alice"),
]


def test_every_transaction_is_covered():
    declared = {t["name"] for t in chaincode.metadata["contracts"]["energy"]["transactions"]}
    assert declared == {name for name, _, _ in CALLS}


@pytest.mark.parametrize("fn, args, who", CALLS, ids=[f"{c[0]}-{i}" for i, c in enumerate(CALLS)])
async def test_a_failing_ledger_fails_the_transaction_and_writes_nothing(identities, fn, args, who):
    peer = FailingPeer("vppchannel")
    peer.install("vpp", chaincode)
    world = World(peer, identities["admin"], identities["utility"], {})
    meters = await world.site("s1", "alice")
    await world.submit(meters["gen"].sign("generation", T, wh=1000))
    await world.ok("DepositCredit", "Org1MSP:bob", "1000000")
    offer = await world.ok("CreateOffer", "Tgen", "100", "1000", str(NOW), str(NOW + 3600), who=identities["alice"])
    readings = [meters["gen"].sign("generation", T + 900, wh=10)]
    substitutions = {"OFFER": offer["offer_id"], "PEM": meters["gen"].public_pem, "READINGS": readings}
    real_args = [substitutions.get(a, a) if isinstance(a, str) else a for a in args]
    before = copy.deepcopy(peer.state)
    peer.failing = True
    result = await world.call(fn, *real_args, who=identities[who] if who != "admin" else world.admin)
    assert result.response.status == 500
    assert result.response.message.startswith("PEER_ERROR:"), result.response.message
    assert "state database unavailable" in result.response.message
    assert peer.state == before
