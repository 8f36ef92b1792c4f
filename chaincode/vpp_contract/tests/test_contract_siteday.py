"""A whole simulated day of one site on the in-process peer: the reference the Fabric run is compared with."""

from .conftest import DAY0
from .siteday import SiteDay


async def run_day(world, day: SiteDay, batch_size: int = 48) -> dict:
    for fn, args in day.registrations():
        await world.ok(fn, *[a if isinstance(a, (str, dict, list)) else str(a) for a in args])
    readings = day.readings()
    for i in range(0, len(readings), batch_size):
        results = await world.submit(*readings[i:i + batch_size])
        assert {r["status"] for r in results} == {"accepted"}, results
    return {"balance": await world.ok("GetBalance", day.owner), "supply": await world.ok("GetSupply")}


async def test_a_site_day_balances(world):
    day = SiteDay("day1", "Org1MSP:alice", DAY0)
    outcome = await run_day(world, day)
    generated = sum(r["payload"]["wh"] for r in day.readings() if r["payload"]["kind"] == "generation")
    supply = outcome["supply"]
    assert supply["Tgen"]["minted"] == generated > 20_000
    assert supply["Tgen"]["conserved"] and supply["Tstorage"]["conserved"]
    assert supply["Tstorage"]["minted"] > 0 and supply["Tgen"]["burned"] > 0  # stored at noon, consumed
    assert outcome["balance"]["Tgen"] == supply["Tgen"]["outstanding"]


async def test_the_site_statement_adds_up_to_the_ledger(world, identities):
    day = SiteDay("day1", "Org1MSP:alice", DAY0)
    outcome = await run_day(world, day)
    statement = await world.ok("GetSiteStatement", "day1", str(DAY0), str(DAY0 + 86_400), who=identities["alice"])
    assert len(statement["intervals"]) == 96
    totals = statement["totals"]
    readings = day.readings()
    assert totals["generation_wh"] == sum(r["payload"]["wh"] for r in readings if r["payload"]["kind"] == "generation")
    assert totals["load_wh"] == sum(r["payload"]["wh"] for r in readings if r["payload"]["kind"] == "load")
    assert totals["minted_tgen"] == outcome["supply"]["Tgen"]["minted"]
    assert totals["burned_tgen"] == outcome["supply"]["Tgen"]["burned"]
    assert totals["minted_tstorage"] == outcome["supply"]["Tstorage"]["minted"]
    assert totals["burned_tstorage"] == outcome["supply"]["Tstorage"]["burned"]
    assert await world.error("GetSiteStatement", "day1", str(DAY0), str(DAY0 + 900), who=identities["bob"]) == \
        "FORBIDDEN"
