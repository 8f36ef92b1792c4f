"""The burn algorithm inside the contract: Tstorage stays backed by energy that is really in the battery."""

from vpp_contract.domain.battery import BatteryParams, deliverable_wh, tolerance_wh

from .conftest import BATTERY, DAY0

T = DAY0 + 6 * 3600


async def test_a_leaking_battery_burns_what_it_no_longer_holds(world, identities):
    meters = await world.site("s1", "alice")
    bat = meters["bat"]
    readings = [bat.sign("battery", T, charge_wh=0, discharge_wh=0, soc_permille=200),
                bat.sign("battery", T + 900, charge_wh=1250, discharge_wh=0, soc_permille=319)]
    # twelve idle hours in which the state of charge falls from 319 ‰ to 120 ‰: far more than self-discharge
    soc = 319
    for k in range(2, 90):
        soc = max(120, soc - 5)
        readings.append(bat.sign("battery", T + k * 900, charge_wh=0, discharge_wh=0, soc_permille=soc))
    for i in range(0, len(readings), 10):
        results = await world.submit(*readings[i:i + 10])
        assert {r["status"] for r in results} == {"accepted"}
    balance = await world.balance("alice")
    outstanding = balance["Tstorage"] + balance["TstorageReserved"]
    params = BatteryParams.from_registration(BATTERY, commissioned_at=0)
    assert await world.error("GetBatteryState", "s1-bat", who=identities["bob"]) == "FORBIDDEN"
    assert await world.error("GetBatteryState", "s1-gen") == "NOT_FOUND"
    battery = await world.ok("GetBatteryState", "s1-bat", who=identities["alice"])
    state = battery["state"]
    # DESIGN §6: after a verified boundary, outstanding Tstorage ≤ deliverable energy + tolerance
    assert state["verified_count"] > 10
    assert state["verified_outstanding_wh"] <= state["verified_deliverable_wh"] + tolerance_wh(params)
    assert state["verified_deliverable_wh"] < deliverable_wh(319, 1000, params) // 2  # it saw the energy go
    assert outstanding <= state["verified_outstanding_wh"]
    events = await world.ok("GetAssetEvents", "s1-bat", str(T), str(T + 90 * 900))
    burns = [e for e in events if e["type"] == "burn"]
    assert burns and {e["reason"] for e in burns} <= {"discharge", "self_discharge", "capacity_fade"}
    minted = 1250 * 95 * 95 // 10_000
    assert sum(e["amount"] for e in burns) == minted - outstanding
    supply = await world.ok("GetSupply")
    assert supply["Tstorage"]["conserved"] and supply["Tstorage"]["burned"] == minted - outstanding
