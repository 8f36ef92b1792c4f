"""Settlement of unconsumed Tgen and the rich-query paths (CouchDB selectors; the in-process peer evaluates them)."""

from .conftest import DAY0

T = DAY0 + 12 * 3600
NOW = DAY0 + 10 * 86_400


async def test_expired_tgen_goes_to_the_standing_bid_then_burns_unsold(world, identities):
    meters = await world.site("s1", "alice")
    await world.submit(meters["gen"].sign("generation", T, wh=1000),
                       meters["gen"].sign("generation", NOW - 1800, wh=400))  # recent: not settled yet
    assert await world.error("SetStandingBid", "50000", "true", who=identities["alice"]) == "FORBIDDEN"
    await world.ok("SetStandingBid", "50000", "true", who=world.utility)
    await world.ok("DepositCredit", "Org2MSP:utility", "30000", who=world.utility)  # enough for 600 Wh
    assert await world.error("SettleExpiredTgen", "Org1MSP:alice", "60") == "INVALID_ARGUMENT"
    assert await world.error("SettleExpiredTgen", "Org1MSP:alice", "3600", who=identities["alice"]) == "FORBIDDEN"
    settled = await world.ok("SettleExpiredTgen", "Org1MSP:alice", "3600")
    assert settled == {"owner": "Org1MSP:alice", "expired_wh": 1000, "delivered_wh": 600, "unsold_wh": 400}
    balance = await world.balance("alice")
    assert (balance["Tgen"], balance["credit_micro"]) == (400, 30_000)
    supply = await world.ok("GetSupply")
    assert supply["Tgen"] == {"minted": 1400, "burned": 1000, "outstanding": 400, "conserved": True}
    events = await world.ok("GetAssetEvents", "s1-gen", str(T), str(T + 900))
    assert sorted((e["reason"], e["amount"]) for e in events if e["type"] == "burn") == [
        ("delivered_to_grid", 600), ("exported_unsold", 400)]
    again = await world.ok("SettleExpiredTgen", "Org1MSP:alice", "3600")
    assert again["expired_wh"] == 0


async def test_rich_queries_by_site_location_and_offer_status(world, identities):
    meters = await world.site("s1", "alice")
    await world.site("s2", "bob")
    for k in range(5):
        await world.submit(meters["gen"].sign("generation", T + k * 900, wh=100 + k))
    first = await world.ok("QueryReadingsBySite", "s1", str(T), str(T + 3 * 900), "2", "",
                           who=identities["alice"])
    assert [r["start"] for r in first["readings"]] == [T, T + 900] and first["bookmark"]
    rest = await world.ok("QueryReadingsBySite", "s1", str(T), str(T + 3 * 900), "2", first["bookmark"],
                          who=identities["alice"])
    assert [r["start"] for r in rest["readings"]] == [T + 1800]
    assert await world.error("QueryReadingsBySite", "s1", "0", str(NOW), "10", "", who=identities["bob"]) == \
        "FORBIDDEN"
    assert [s["site_id"] for s in await world.ok("QuerySitesByLocation", "Utrecht", who=identities["auditor"])] == \
        ["s1", "s2"]
    await world.ok("CreateOffer", "Tgen", "50", "1000", str(NOW), str(NOW + 3600), who=identities["alice"])
    offers = await world.ok("QueryOffers", "active", "Tgen", "10", "", who=identities["bob"])
    assert [o["seller"] for o in offers["offers"]] == ["Org1MSP:alice"]
