"""Credit, offers and trades."""

from .conftest import DAY0

T = DAY0 + 12 * 3600
NOW = DAY0 + 10 * 86_400  # the world's transaction time: offers open around it


async def funded_seller(world, tgen=1000):
    meters = await world.site("s1", "alice")
    await world.submit(meters["gen"].sign("generation", T, wh=tgen))
    await world.ok("DepositCredit", "Org1MSP:bob", "5000000")
    return meters


async def test_offer_escrows_tokens_and_a_partial_sale_pays_the_seller(world, identities):
    alice, bob = identities["alice"], identities["bob"]
    await funded_seller(world)
    offer = await world.ok("CreateOffer", "Tgen", "600", "250000", str(NOW), str(NOW + 86_400), who=alice)
    assert (await world.balance("alice"))["Tgen"] == 400  # 600 in escrow
    trade = await world.ok("AcceptOffer", offer["offer_id"], "200", who=bob)
    assert trade["price_micro"] == 200 * 250_000 // 1000 and trade["origins"] == ["s1-gen"]
    assert (await world.balance("bob"))["Tgen"] == 200
    assert (await world.balance("bob"))["credit_micro"] == 5_000_000 - 50_000
    assert (await world.balance("alice"))["credit_micro"] == 50_000
    assert (await world.ok("GetOffer", offer["offer_id"], who=bob))["remaining_wh"] == 400
    cancelled = await world.ok("CancelOffer", offer["offer_id"], who=alice)
    assert cancelled["status"] == "cancelled" and (await world.balance("alice"))["Tgen"] == 800
    assert await world.error("AcceptOffer", offer["offer_id"], "1", who=bob) == "OFFER_NOT_ACTIVE"
    supply = await world.ok("GetSupply")
    assert supply["Tgen"] == {"minted": 1000, "burned": 0, "outstanding": 1000, "conserved": True}


async def test_market_errors_by_code(world, identities):
    alice, bob = identities["alice"], identities["bob"]
    await funded_seller(world)
    assert await world.error("CreateOffer", "Tgen", "5000", "1", str(NOW), str(NOW + 99_999), who=alice) == \
        "INSUFFICIENT_BALANCE"
    assert await world.error("CreateOffer", "Tgen", "10", "1", str(NOW), str(NOW), who=alice) == "INVALID_ARGUMENT"
    assert await world.error("CreateOffer", "Tfoo", "10", "1", str(NOW), str(NOW + 99_999), who=alice) == \
        "INVALID_ARGUMENT"
    assert await world.error("CreateOffer", "Tgen", "10", "1", str(NOW), str(NOW + 99_999), who=world.admin) == \
        "FORBIDDEN"
    offer = await world.ok("CreateOffer", "Tgen", "100", "1000000000", str(NOW), str(NOW + 99_999), who=alice)
    assert await world.error("AcceptOffer", offer["offer_id"], "101", who=bob) == "OFFER_EXCEEDED"
    assert await world.error("AcceptOffer", offer["offer_id"], "100", who=bob) == "INSUFFICIENT_CREDIT"
    assert await world.error("AcceptOffer", offer["offer_id"], "1", who=alice) == "FORBIDDEN"
    assert await world.error("AcceptOffer", "nope", "1", who=bob) == "NOT_FOUND"
    assert await world.error("CancelOffer", offer["offer_id"], who=bob) == "FORBIDDEN"
    assert await world.error("DepositCredit", "Org1MSP:bob", "1", who=bob) == "FORBIDDEN"
    late = NOW + 100_000
    assert await world.error("AcceptOffer", offer["offer_id"], "1", who=bob, at=late) == "OFFER_NOT_ACTIVE"


async def test_the_utility_buys_and_the_energy_leaves_to_the_grid(world, identities):
    alice = identities["alice"]
    await funded_seller(world)
    await world.ok("DepositCredit", "Org2MSP:utility", "1000000", who=world.utility)
    offer = await world.ok("CreateOffer", "Tgen", "300", "100000", str(NOW), str(NOW + 86_400), who=alice)
    trade = await world.ok("AcceptOffer", offer["offer_id"], "300", who=world.utility)
    assert trade["delivered_to_grid"] and (await world.ok("GetOffer", offer["offer_id"]))["status"] == "sold"
    assert (await world.ok("GetBalance", "Org2MSP:utility", who=world.utility))["Tgen"] == 0
    supply = await world.ok("GetSupply", who=identities["auditor"])
    assert supply["Tgen"] == {"minted": 1000, "burned": 300, "outstanding": 700, "conserved": True}


async def test_trades_are_listed_for_the_seller_and_each_buyer_sees_its_own(world, identities):
    alice, bob = identities["alice"], identities["bob"]
    await funded_seller(world)
    await world.ok("DepositCredit", "Org2MSP:utility", "1000000", who=world.utility)
    offer = await world.ok("CreateOffer", "Tgen", "600", "1000", str(NOW), str(NOW + 3600), who=alice)
    await world.ok("AcceptOffer", offer["offer_id"], "100", who=bob)
    await world.ok("AcceptOffer", offer["offer_id"], "200", who=world.utility)
    assert sorted(t["quantity_wh"] for t in await world.ok("GetTrades", offer["offer_id"], who=alice)) == [100, 200]
    assert [t["quantity_wh"] for t in await world.ok("GetTrades", offer["offer_id"], who=bob)] == [100]
