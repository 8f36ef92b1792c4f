"""Registry and readings: each transaction's success, its business errors by code, roles and ownership."""

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_protos.peer import chaincode_shim_pb2 as shim

from vpp_contract.contract import chaincode

from .conftest import BATTERY, DAY0, Meter

T = DAY0 + 12 * 3600  # noon, day 0


async def test_only_the_operator_registers(world, identities):
    assert await world.error("RegisterSite", "s1", "Org1MSP:alice", "x", who=identities["alice"]) == "FORBIDDEN"
    assert await world.error("RegisterSite", "s1", "Org1MSP:alice", "x", who=identities["nobody"]) == "UNKNOWN_ROLE"
    site = await world.ok("RegisterSite", "s1", "Org1MSP:alice", "Utrecht")
    assert site["owner"] == "Org1MSP:alice"
    assert await world.error("RegisterSite", "s1", "Org1MSP:bob", "x") == "ALREADY_EXISTS"
    assert await world.error("RegisterSite", "a/b", "Org1MSP:bob", "x") == "INVALID_ARGUMENT"


async def test_asset_and_meter_registration_checks(world):
    await world.ok("RegisterSite", "s1", "Org1MSP:alice", "Utrecht")
    assert await world.error("RegisterAsset", "g", "nope", "generator", "100", {}) == "NOT_FOUND"
    assert await world.error("RegisterAsset", "g", "s1", "windmill", "100", {}) == "INVALID_ARGUMENT"
    assert await world.error("RegisterAsset", "g", "s1", "generator", "0", {}) == "INVALID_ARGUMENT"
    bad_battery = {**BATTERY, "soc_min_permille": 960}
    assert await world.error("RegisterAsset", "b", "s1", "battery", "100", bad_battery) == "INVALID_ARGUMENT"
    assert await world.error("RegisterAsset", "b", "s1", "battery", "100", {"capacity_wh": 1}) == "INVALID_ARGUMENT"
    await world.ok("RegisterAsset", "g", "s1", "generator", "100", {})
    meter = Meter("m1", ec.generate_private_key(ec.SECP256R1()))
    assert await world.error("RegisterMeter", "m1", "g", "600", meter.public_pem) == "INVALID_ARGUMENT"
    assert await world.error("RegisterMeter", "m1", "g", "900", "not a key") == "INVALID_ARGUMENT"
    other_curve = Meter("m1", ec.generate_private_key(ec.SECP384R1()))
    assert await world.error("RegisterMeter", "m1", "g", "900", other_curve.public_pem) == "INVALID_ARGUMENT"
    registered = await world.ok("RegisterMeter", "m1", "g", "900", meter.public_pem)
    assert registered["kind"] == "generation" and registered["owner"] == "Org1MSP:alice"
    asset = await world.ok("GetAsset", "g")
    assert (asset["site_id"], asset["owner"], asset["kind"], asset["max_power_w"], asset["meters"]) == (
        "s1", "Org1MSP:alice", "generator", 100, ["m1"])
    assert await world.error("GetAsset", "nope") == "NOT_FOUND"


async def test_generation_mints_tgen_exactly_once(world):
    meters = await world.site("s1", "alice")
    reading = meters["gen"].sign("generation", T, wh=1200)
    [first] = await world.submit(reading)
    assert first["status"] == "accepted"
    [again] = await world.submit(reading)
    assert again["status"] == "duplicate"
    assert (await world.balance("alice"))["Tgen"] == 1200
    conflicting = meters["gen"].sign("generation", T, wh=1100)
    [conflict] = await world.submit(conflicting)
    assert (conflict["status"], conflict["code"]) == ("rejected", "CONFLICTING_READING")
    assert (await world.balance("alice"))["Tgen"] == 1200


async def test_a_bad_reading_never_loses_the_others(world):
    meters = await world.site("s1", "alice")
    gen = meters["gen"]
    forged = gen.sign("generation", T + 900, key=ec.generate_private_key(ec.SECP256R1()), wh=100)
    resigned = gen.sign("generation", T + 1800, wh=100)
    resigned["payload"]["wh"] = 1000  # altered after signing
    batch = [
        gen.sign("generation", T, wh=1000),
        forged,
        resigned,
        gen.sign("generation", T + 100, wh=10),                    # not aligned to 900 s
        gen.sign("generation", world.now, wh=10),                  # interval not over yet
        gen.sign("generation", T + 2700, wh=5000 * 900 // 3600 + 1),  # above 5 kW for 15 minutes
        gen.sign("load", T + 3600, wh=10),                         # a generator meter reporting load
        {"payload": {"meter": "ghost", "key": 1, "kind": "generation", "start": T, "interval": 900, "wh": 1},
         "signature": "AA=="},
        {"payload": {"meter": gen.meter_id}, "signature": "x"},
        {"payload": {**gen.sign("generation", T + 4500, wh=1)["payload"], "wh": 1.5}, "signature": "AA=="},
        gen.sign("generation", T + 5400, wh=250),
        gen.sign("generation", T + 5400, wh=250),                  # the same reading twice in one batch
    ]
    results = await world.submit(*batch)
    assert [(r["status"], r.get("code")) for r in results] == [
        ("accepted", None), ("rejected", "BAD_SIGNATURE"), ("rejected", "BAD_SIGNATURE"),
        ("rejected", "MISALIGNED_INTERVAL"), ("rejected", "FUTURE_INTERVAL"), ("rejected", "PHYSICAL_LIMIT"),
        ("rejected", "WRONG_KIND"), ("rejected", "UNKNOWN_METER"), ("rejected", "INVALID_ARGUMENT"),
        ("rejected", "INVALID_ARGUMENT"), ("accepted", None), ("duplicate", None)]
    assert (await world.balance("alice"))["Tgen"] == 1250


async def test_inactive_meters_and_key_rotation(world):
    meters = await world.site("s1", "alice")
    gen = meters["gen"]
    await world.ok("SetMeterActive", gen.meter_id, "false")
    [r] = await world.submit(gen.sign("generation", T, wh=1))
    assert r["code"] == "METER_INACTIVE"
    await world.ok("SetMeterActive", gen.meter_id, "true")
    old_key = gen.key
    rotation_time = T + 3600
    gen.key = ec.generate_private_key(ec.SECP256R1())
    rotated = await world.ok("RotateMeterKey", gen.meter_id, gen.public_pem, at=rotation_time)
    assert [k["version"] for k in rotated["keys"]] == [1, 2] and rotated["keys"][0]["retired_at"] == rotation_time
    before = Meter(gen.meter_id, old_key, version=1).sign("generation", T, wh=5)
    after_with_old = Meter(gen.meter_id, old_key, version=1).sign("generation", rotation_time, wh=5)
    gen.version = 2
    after = gen.sign("generation", rotation_time + 900, wh=7)
    unknown_version = Meter(gen.meter_id, gen.key, version=9).sign("generation", T + 900, wh=1)
    results = await world.submit(before, after_with_old, after, unknown_version)
    assert [r.get("code", r["status"]) for r in results] == ["accepted", "UNKNOWN_KEY", "accepted", "UNKNOWN_KEY"]


async def test_only_the_operator_submits_and_batches_are_bounded(world, identities):
    meters = await world.site("s1", "alice")
    reading = meters["gen"].sign("generation", T, wh=1)
    assert await world.error("SubmitReadings", [reading], who=identities["alice"]) == "FORBIDDEN"
    assert await world.error("SubmitReadings", [reading] * 1001) == "BATCH_TOO_LARGE"


async def test_battery_charge_exchanges_tgen_for_tstorage_with_origin(world):
    meters = await world.site("s1", "alice")
    await world.submit(meters["gen"].sign("generation", T, wh=1000))
    [r] = await world.submit(meters["bat"].sign("battery", T + 900, charge_wh=1200, discharge_wh=0,
                                                soc_permille=300))
    assert r["status"] == "accepted"
    balance = await world.balance("alice")
    stored = 1200 * 95 * 95 // 10_000  # charge × charge efficiency × discharge efficiency, rounded down
    # with no verified history yet, the burn algorithm sets the new Tstorage aside (reserved, still the owner's)
    assert (balance["Tgen"], balance["Tstorage"] + balance["TstorageReserved"]) == (0, stored)
    assert balance["TstorageReserved"] > 0
    [lot] = await world.ok("GetLots", "Org1MSP:alice", "TstorageReserved")
    assert dict(map(tuple, lot["shares"])) == {"s1-gen": stored * 1000 // 1200, "grid": stored - stored * 1000 // 1200}
    events = await world.ok("GetAssetEvents", "s1-bat", str(T), str(T + 86_400))
    assert events[0]["type"] == "reading" and events[0]["effects"]["grid_charge_wh"] == 200


async def test_load_burns_tgen_then_tstorage_then_imports(world):
    meters = await world.site("s1", "alice")
    await world.submit(meters["gen"].sign("generation", T, wh=1000),
                       meters["bat"].sign("battery", T, charge_wh=400, discharge_wh=0, soc_permille=300))
    # generation is applied before the battery within an interval, whatever the order in the batch
    balance = await world.balance("alice")
    assert (balance["Tgen"], balance["Tstorage"] + balance["TstorageReserved"]) == (600, 400 * 95 * 95 // 10_000)
    await world.submit(meters["load"].sign("load", T + 900, wh=1200))
    after = await world.balance("alice")
    assert (after["Tgen"], after["Tstorage"], after["TstorageReserved"]) == (0, 0, 0)
    [reading] = await world.ok("GetReadings", meters["load"].meter_id, str(T + 900), str(T + 1800))
    assert reading["effects"] == {"burned_tgen": 600, "burned_tstorage": 361, "grid_import_wh": 239}


async def test_owners_see_only_their_own_data(world, identities):
    alice, bob = identities["alice"], identities["bob"]
    meters = await world.site("s1", "alice")
    await world.site("s2", "bob")
    await world.submit(meters["gen"].sign("generation", T, wh=10))
    assert (await world.ok("GetBalance", "Org1MSP:alice", who=alice))["Tgen"] == 10
    assert await world.error("GetBalance", "Org1MSP:alice", who=bob) == "FORBIDDEN"
    assert await world.error("GetLots", "Org1MSP:alice", "Tgen", who=bob) == "FORBIDDEN"
    assert await world.error("GetReadings", meters["gen"].meter_id, "0", str(T + 900), who=bob) == "FORBIDDEN"
    assert await world.error("GetAssetEvents", "s1-gen", "0", str(T + 900), who=bob) == "FORBIDDEN"
    assert await world.error("GetAsset", "s1-gen", who=bob) == "FORBIDDEN"
    assert (await world.ok("GetAsset", "s1-gen", who=alice))["owner"] == "Org1MSP:alice"
    assert await world.error("GetSites", "Org1MSP:alice", who=bob) == "FORBIDDEN"
    assert await world.error("GetSites", "", who=bob) == "FORBIDDEN"
    assert [s["site_id"] for s in await world.ok("GetSites", "Org1MSP:bob", who=bob)] == ["s2"]
    assert [s["site_id"] for s in await world.ok("GetSites", "", who=identities["auditor"])] == ["s1", "s2"]
    assert await world.error("GetSupply", who=bob) == "FORBIDDEN"


async def test_a_failing_ledger_call_fails_the_transaction_with_peer_error(identities):
    from fabric_ccaas.testing import InMemoryPeer

    class Broken(InMemoryPeer):
        def answer(self, message):
            if message.type == shim.ChaincodeMessage.GET_STATE:
                return self._error(message, "state database unavailable")
            return super().answer(message)

    peer = Broken("vppchannel")
    peer.install("vpp", chaincode)
    result = await peer.invoke("vpp", "RegisterSite", "s1", "Org1MSP:alice", "x", identity=identities["admin"])
    assert result.response.message.startswith("PEER_ERROR:") and "state database unavailable" in result.response.message
    assert peer.state == {}


@pytest.mark.parametrize("bad", ['{"not": "a list"}', "[1, 2"])
async def test_malformed_batches_are_invalid_arguments(world, bad):
    result = await world.peer.invoke("vpp", "SubmitReadings", bad, identity=world.admin, timestamp=world.now)
    assert result.response.message.startswith("INVALID_ARGUMENT")


@pytest.mark.parametrize("field", ["meter", "key", "kind", "start", "interval", "wh"])
async def test_any_json_type_in_any_payload_field_is_rejected_per_reading(world, field):
    """Found by schemathesis through the REST gateway: {"kind": {}} crashed the whole batch (unhashable)."""
    meters = await world.site("s1", "alice")
    gen = meters["gen"]
    bad = [{"payload": {**gen.sign("generation", T + 900 * n, wh=1)["payload"], field: value}, "signature": "AA=="}
           for n, value in enumerate([{}, [], ["generation"], None, True, "x", -1, 2**64], start=1)]
    results = await world.submit(gen.sign("generation", T, wh=7), *bad)
    assert results[0]["status"] == "accepted"
    for result in results[1:]:
        assert result["status"] == "rejected" and result["code"] in ("INVALID_ARGUMENT", "UNKNOWN_METER",
                                                                     "WRONG_KIND", "UNKNOWN_KEY",
                                                                     "MISALIGNED_INTERVAL", "BAD_SIGNATURE"), result
