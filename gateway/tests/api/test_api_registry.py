"""Sites, assets and meters: admin registration, owner self-service, and the three levels of authorization."""

from __future__ import annotations

from api_support import MeterKey, World, error_code


def test_admin_registers_for_any_owner(world: World):
    alice_account = world.me["alice"]["ledger_account"]
    response = world.admin.post("/sites", json={"site_id": "reg-a1", "location": "Utrecht", "owner": alice_account})
    assert response.status_code == 201, response.text
    assert response.json()["owner"] == alice_account
    assert len(response.headers["X-Tx-Id"]) == 64 and int(response.headers["X-Block"]) >= 1
    missing_owner = world.admin.post("/sites", json={"site_id": "reg-a2", "location": "Utrecht"})
    assert (missing_owner.status_code, error_code(missing_owner)) == (422, "VALIDATION_ERROR")
    again = world.admin.post("/sites", json={"site_id": "reg-a1", "location": "Utrecht", "owner": alice_account})
    assert (again.status_code, error_code(again)) == (409, "ALREADY_EXISTS")
    assert world.alice.ok("GET", "/sites/reg-a1")["location"] == "Utrecht"


def test_owner_self_service_site_asset_meter(world: World):
    alice = world.alice
    site = alice.ok("POST", "/sites", 201, json={"site_id": "reg-self", "location": "Delft"})
    assert site["owner"] == world.me["alice"]["ledger_account"]  # forced to the caller
    asset = alice.ok("POST", "/sites/reg-self/assets", 201, json={"asset_id": "reg-self-pv", "kind": "generator",
                                                                  "max_power_w": 5000})
    assert asset["owner"] == site["owner"] and asset["site_id"] == "reg-self"
    battery = alice.ok("POST", "/sites/reg-self/assets", 201, json={
        "asset_id": "reg-self-bat", "kind": "battery", "max_power_w": 3000,
        "battery": {"chemistry": "lfp", "capacity_wh": 10000}})
    assert battery["battery"]["capacity_wh"] == 10000 and battery["battery"]["chemistry"] == "lfp"
    key = MeterKey()
    own_meter = alice.post("/assets/reg-self-pv/meters", json={"meter_id": "reg-self-m0", "interval_s": 900,
                                                              "public_key_pem": key.public_pem})
    assert (own_meter.status_code, error_code(own_meter)) == (403, "FORBIDDEN")  # meters: the operator's alone
    meter = world.admin.ok("POST", "/assets/reg-self-pv/meters", 201, json={
        "meter_id": "reg-self-m1", "interval_s": 900, "public_key_pem": key.public_pem})
    assert meter["active"] is True and meter["keys"][0]["from"] == 0 and meter["owner"] == site["owner"]

    listed = alice.ok("GET", "/sites")
    assert "reg-self" in [s["site_id"] for s in listed["sites"]]
    assets = alice.ok("GET", "/sites/reg-self/assets", params={"limit": 1})
    assert len(assets["assets"]) == 1 and assets["next_cursor"]
    rest = alice.ok("GET", "/sites/reg-self/assets", params={"limit": 1, "cursor": assets["next_cursor"]})
    assert {a["asset_id"] for a in assets["assets"] + rest["assets"]} == {"reg-self-pv", "reg-self-bat"}
    status = alice.ok("GET", "/meters/reg-self-m1")
    assert status["meter_id"] == "reg-self-m1" and status["last_reading"] is None
    pv = alice.ok("GET", "/assets/reg-self-pv")
    assert (pv["site_id"], pv["owner"], pv["kind"], pv["max_power_w"], pv["meters"]) == (
        "reg-self", site["owner"], "generator", 5000, ["reg-self-m1"])
    assert alice.ok("GET", "/assets/reg-self-bat")["battery"]["capacity_wh"] == 10000
    missing = alice.get("/assets/reg-self-nothing")
    assert (missing.status_code, error_code(missing)) == (404, "NOT_FOUND")


def test_owner_cannot_set_owner_property(world: World):
    response = world.alice.post("/sites", json={"site_id": "reg-x", "location": "Delft",
                                                "owner": world.me["bob"]["ledger_account"]})
    assert (response.status_code, error_code(response)) == (403, "PROPERTY_FORBIDDEN")
    assert world.alice.get("/sites/reg-x").status_code == 404  # nothing was registered


def test_owner_cannot_see_or_change_another_owners_registry(world: World):
    alice, bob = world.alice, world.bob
    alice.ok("POST", "/sites", 201, json={"site_id": "reg-alice", "location": "Gouda"})
    alice.ok("POST", "/sites/reg-alice/assets", 201, json={"asset_id": "reg-alice-pv", "kind": "generator",
                                                           "max_power_w": 4000})
    world.admin.ok("POST", "/assets/reg-alice-pv/meters", 201, json={"meter_id": "reg-alice-m", "interval_s": 900,
                                                                      "public_key_pem": MeterKey().public_pem})
    # object level: bob gets 404 (the site is not his to learn about) or the contract's 403
    for path in ("/sites/reg-alice", "/sites/reg-alice/assets"):
        response = bob.get(path)
        assert (response.status_code, error_code(response)) == (404, "NOT_FOUND"), path
    assert "reg-alice" not in [s["site_id"] for s in bob.ok("GET", "/sites")["sites"]]
    others = bob.get("/sites", params={"owner": world.me["alice"]["ledger_account"]})
    assert (others.status_code, error_code(others)) == (403, "FORBIDDEN")
    meter = bob.get("/meters/reg-alice-m")
    assert (meter.status_code, error_code(meter)) == (403, "FORBIDDEN")
    other_asset = bob.get("/assets/reg-alice-pv")
    assert (other_asset.status_code, error_code(other_asset)) == (403, "FORBIDDEN")
    assert world.utility.ok("GET", "/assets/reg-alice-pv")["owner"] == world.me["alice"]["ledger_account"]
    asset = bob.post("/sites/reg-alice/assets", json={"asset_id": "bob-sneaks", "kind": "load", "max_power_w": 1})
    assert (asset.status_code, error_code(asset)) == (404, "NOT_FOUND")
    sneak = bob.post("/assets/reg-alice-pv/meters", json={"meter_id": "bob-m", "interval_s": 900,
                                                          "public_key_pem": MeterKey().public_pem})
    assert (sneak.status_code, error_code(sneak)) == (403, "FORBIDDEN")
    # function level: meter keys and activation are the operator's
    rotate = alice.put("/meters/reg-alice-m/key", json={"public_key_pem": MeterKey().public_pem})
    assert (rotate.status_code, error_code(rotate)) == (403, "FORBIDDEN")
    deactivate = alice.put("/meters/reg-alice-m/active", json={"active": False})
    assert (deactivate.status_code, error_code(deactivate)) == (403, "FORBIDDEN")
    utility_site = world.utility.post("/sites", json={"site_id": "u-site", "location": "x"})
    assert (utility_site.status_code, error_code(utility_site)) == (403, "FORBIDDEN")
    # the utility and the operator see every site
    assert "reg-alice" in [s["site_id"] for s in world.utility.ok("GET", "/sites", params={"limit": 200})["sites"]]


def test_meter_key_rotation_and_activation_by_admin(world: World):
    admin = world.admin
    admin.ok("POST", "/sites", 201, json={"site_id": "reg-rot", "location": "Ede",
                                          "owner": world.me["bob"]["ledger_account"]})
    admin.ok("POST", "/sites/reg-rot/assets", 201, json={"asset_id": "reg-rot-pv", "kind": "generator",
                                                         "max_power_w": 1000})
    admin.ok("POST", "/assets/reg-rot-pv/meters", 201, json={"meter_id": "reg-rot-m", "interval_s": 300,
                                                              "public_key_pem": MeterKey().public_pem})
    rotated = admin.ok("PUT", "/meters/reg-rot-m/key", json={"public_key_pem": MeterKey().public_pem})
    assert [k["version"] for k in rotated["keys"]] == [1, 2] and rotated["keys"][0]["retired_at"] > 0
    assert admin.ok("PUT", "/meters/reg-rot-m/active", json={"active": False})["active"] is False
    unknown = admin.put("/meters/nope/active", json={"active": True})
    assert (unknown.status_code, error_code(unknown)) == (404, "UNKNOWN_METER")


def test_registry_validation_errors(world: World):
    admin, owner = world.admin, world.me["alice"]["ledger_account"]
    admin.ok("POST", "/sites", 201, json={"site_id": "reg-val", "location": "Zwolle", "owner": owner})
    cases = [
        ("/sites", {"site_id": "a/b", "location": "x", "owner": owner}, "body.site_id"),
        ("/sites", {"site_id": "", "location": "x", "owner": owner}, "body.site_id"),
        ("/sites/reg-val/assets", {"asset_id": "v1", "kind": "reactor", "max_power_w": 5}, "body.kind"),
        ("/sites/reg-val/assets", {"asset_id": "v1", "kind": "generator", "max_power_w": 5.5}, "body.max_power_w"),
        ("/sites/reg-val/assets", {"asset_id": "v1", "kind": "generator", "max_power_w": "5"}, "body.max_power_w"),
        ("/sites/reg-val/assets", {"asset_id": "v1", "kind": "generator", "max_power_w": 0}, "body.max_power_w"),
        ("/sites/reg-val/assets", {"asset_id": "v1", "kind": "battery", "max_power_w": 5}, "body.battery"),
        ("/sites/reg-val/assets", {"asset_id": "v1", "kind": "battery", "max_power_w": 5,
                                   "battery": {"capacity_wh": 1000.5}}, "body.battery.capacity_wh"),
        ("/assets/x/meters", {"meter_id": "m", "interval_s": 60, "public_key_pem": "x"}, "body.interval_s"),
    ]
    for path, body, field in cases:
        response = admin.post(path, json=body)
        assert (response.status_code, error_code(response)) == (422, "VALIDATION_ERROR"), (body, response.text)
        assert field in [f["field"] for f in response.json()["error"]["fields"]], (body, response.text)
    admin.ok("POST", "/sites/reg-val/assets", 201, json={"asset_id": "reg-val-pv", "kind": "generator",
                                                         "max_power_w": 100})
    bad_key = admin.post("/assets/reg-val-pv/meters", json={"meter_id": "reg-val-m", "interval_s": 900,
                                                             "public_key_pem": "-----BEGIN PUBLIC KEY-----\nxx\n"})
    assert (bad_key.status_code, error_code(bad_key)) == (422, "INVALID_ARGUMENT")  # the contract's verdict
    no_asset = admin.post("/assets/none/meters", json={"meter_id": "reg-val-m2", "interval_s": 900,
                                                        "public_key_pem": MeterKey().public_pem})
    assert (no_asset.status_code, error_code(no_asset)) == (404, "NOT_FOUND")
    no_site = admin.post("/sites/none/assets", json={"asset_id": "v9", "kind": "load", "max_power_w": 5})
    assert (no_site.status_code, error_code(no_site)) == (404, "NOT_FOUND")
