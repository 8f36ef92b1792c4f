"""Balances, lots, supply, offers, trades, credit, the standing bid and settlement through the real server."""

from __future__ import annotations

import time

import pytest
from api_support import MeterKey, World, aligned_past, error_code, generation


@pytest.fixture(scope="module")
def minted(world: World) -> dict:
    """Alice holds 1,000 Tgen from two readings of her meter mkt-m."""
    alice = world.alice
    alice.ok("POST", "/sites", 201, json={"site_id": "mkt-site", "location": "Breda"})
    alice.ok("POST", "/sites/mkt-site/assets", 201, json={"asset_id": "mkt-pv", "kind": "generator",
                                                          "max_power_w": 8000})
    key = MeterKey()
    world.admin.ok("POST", "/assets/mkt-pv/meters", 201, json={"meter_id": "mkt-m", "interval_s": 900,
                                                          "public_key_pem": key.public_pem})
    batch = [generation("mkt-m", key, aligned_past(n), 500) for n in (3, 2)]
    assert world.admin.ok("POST", "/readings/batches", json={"readings": batch})["accepted"] == 2
    return {"alice": world.me["alice"]["ledger_account"], "bob": world.me["bob"]["ledger_account"]}


def test_balances_lots_and_supply(world: World, minted: dict):
    mine = world.alice.ok("GET", f"/balances/{minted['alice']}")
    assert mine["Tgen"] >= 1000 and mine == world.alice.ok("GET", "/me/balance")
    other = world.bob.get(f"/balances/{minted['alice']}")
    assert (other.status_code, error_code(other)) == (403, "FORBIDDEN")
    lots = world.alice.ok("GET", f"/lots/{minted['alice']}", params={"token": "Tgen", "limit": 1})
    assert len(lots["lots"]) == 1 and lots["next_cursor"]
    rest = world.alice.ok("GET", f"/lots/{minted['alice']}", params={"token": "Tgen", "limit": 200,
                                                                     "cursor": lots["next_cursor"]})
    assert sum(lot["amount"] for lot in lots["lots"] + rest["lots"]) == mine["Tgen"]
    missing_token = world.alice.get(f"/lots/{minted['alice']}")
    assert (missing_token.status_code, error_code(missing_token)) == (422, "VALIDATION_ERROR")
    supply = world.utility.ok("GET", "/supply")
    assert supply["Tgen"]["conserved"] and supply["Tgen"]["minted"] >= 1000
    owner_supply = world.alice.get("/supply")
    assert (owner_supply.status_code, error_code(owner_supply)) == (403, "FORBIDDEN")


def test_offer_accept_trade_cancel(world: World, minted: dict):
    now = int(time.time())
    offer_body = {"token": "Tgen", "quantity_wh": 400, "rate_micro_per_kwh": 250_000, "valid_from": now - 60,
                  "valid_until": now + 3600}
    offer = world.alice.ok("POST", "/offers", 201, json=offer_body)
    assert (offer["status"], offer["remaining_wh"], offer["seller"]) == ("active", 400, minted["alice"])
    assert world.bob.ok("GET", f"/offers/{offer['offer_id']}")["offer_id"] == offer["offer_id"]
    listed = world.bob.ok("GET", "/offers", params={"status": "active", "token": "Tgen"})
    assert offer["offer_id"] in [o["offer_id"] for o in listed["offers"]]

    broke = world.bob.post(f"/offers/{offer['offer_id']}/accept", json={"quantity_wh": 100})
    assert (broke.status_code, error_code(broke)) == (402, "INSUFFICIENT_CREDIT")
    owner_deposit = world.bob.post("/credit/deposits", json={"account": minted["bob"], "amount_micro": 10**6})
    assert (owner_deposit.status_code, error_code(owner_deposit)) == (403, "FORBIDDEN")
    credit = world.admin.ok("POST", "/credit/deposits", json={"account": minted["bob"], "amount_micro": 1_000_000})
    assert credit["credit_micro"] >= 1_000_000
    float_money = world.admin.post("/credit/deposits", json={"account": minted["bob"], "amount_micro": 10.0})
    assert (float_money.status_code, error_code(float_money)) == (422, "VALIDATION_ERROR")
    assert float_money.json()["error"]["fields"][0] == {"field": "body.amount_micro", "code": "int_type",
                                                        "message": "Input should be a valid integer"}

    trade = world.bob.ok("POST", f"/offers/{offer['offer_id']}/accept", json={"quantity_wh": 100})
    assert (trade["buyer"], trade["quantity_wh"], trade["price_micro"]) == (minted["bob"], 100, 25_000)
    too_much = world.bob.post(f"/offers/{offer['offer_id']}/accept", json={"quantity_wh": 301})
    assert (too_much.status_code, error_code(too_much)) == (409, "OFFER_EXCEEDED")
    own = world.alice.post(f"/offers/{offer['offer_id']}/accept", json={"quantity_wh": 1})
    assert (own.status_code, error_code(own)) == (403, "FORBIDDEN")
    trades = world.alice.ok("GET", f"/offers/{offer['offer_id']}/trades")
    assert [t["tx_id"] for t in trades["trades"]] == [trade["tx_id"]]
    assert world.bob.ok("GET", "/me/balance")["Tgen"] == 100

    not_seller = world.bob.delete(f"/offers/{offer['offer_id']}")
    assert (not_seller.status_code, error_code(not_seller)) == (403, "FORBIDDEN")
    cancelled = world.alice.ok("DELETE", f"/offers/{offer['offer_id']}")
    assert (cancelled["status"], cancelled["remaining_wh"]) == ("cancelled", 0)
    twice = world.alice.delete(f"/offers/{offer['offer_id']}")
    assert (twice.status_code, error_code(twice)) == (409, "OFFER_NOT_ACTIVE")
    missing = world.alice.get("/offers/nope")
    assert (missing.status_code, error_code(missing)) == (404, "NOT_FOUND")


def test_offer_errors(world: World, minted: dict):
    now = int(time.time())
    body = {"token": "Tgen", "quantity_wh": 10**9, "rate_micro_per_kwh": 1, "valid_from": now,
            "valid_until": now + 60}
    too_big = world.alice.post("/offers", json=body)
    assert (too_big.status_code, error_code(too_big)) == (409, "INSUFFICIENT_BALANCE")
    utility_offer = world.utility.post("/offers", json={**body, "quantity_wh": 1})
    assert (utility_offer.status_code, error_code(utility_offer)) == (403, "FORBIDDEN")
    expired = world.alice.post("/offers", json={**body, "quantity_wh": 1, "valid_until": now - 10})
    assert (expired.status_code, error_code(expired)) == (422, "INVALID_ARGUMENT")
    for bad in ({"quantity_wh": 1.0}, {"quantity_wh": "1"}, {"quantity_wh": True}, {"quantity_wh": -1},
                {"quantity_wh": 2**60}, {"token": "TstorageReserved"}, {"rate_micro_per_kwh": 0.25}):
        response = world.alice.post("/offers", json={**body, **bad})
        assert (response.status_code, error_code(response)) == (422, "VALIDATION_ERROR"), bad


def test_standing_bid_and_settlement(world: World, minted: dict):
    refused = world.alice.put("/standing-bid", json={"rate_micro_per_kwh": 100_000, "active": True})
    assert (refused.status_code, error_code(refused)) == (403, "FORBIDDEN")
    bid = world.utility.ok("PUT", "/standing-bid", json={"rate_micro_per_kwh": 100_000, "active": True})
    assert bid["active"] is True and bid["utility"] == world.me["utility"]["ledger_account"]
    world.utility.ok("POST", "/credit/deposits", json={"account": world.me["utility"]["ledger_account"],
                                                       "amount_micro": 5_000_000})
    owner_settles = world.alice.post("/settlements", json={"owner": minted["alice"], "window_s": 900})
    assert (owner_settles.status_code, error_code(owner_settles)) == (403, "FORBIDDEN")
    short = world.admin.post("/settlements", json={"owner": minted["alice"], "window_s": 60})
    assert (short.status_code, error_code(short)) == (422, "VALIDATION_ERROR")
    before = world.alice.ok("GET", "/me/balance")
    settled = world.admin.ok("POST", "/settlements", json={"owner": minted["alice"], "window_s": 900})
    assert settled["expired_wh"] == settled["delivered_wh"] + settled["unsold_wh"] > 0
    after = world.alice.ok("GET", "/me/balance")
    assert after["Tgen"] == before["Tgen"] - settled["expired_wh"]
    assert after["credit_micro"] > before["credit_micro"]
    supply = world.admin.ok("GET", "/supply")
    assert supply["Tgen"]["conserved"]


def test_battery_state(world: World):
    world.alice.ok("POST", "/sites", 201, json={"site_id": "mkt-bat-site", "location": "Breda"})
    world.alice.ok("POST", "/sites/mkt-bat-site/assets", 201, json={
        "asset_id": "mkt-bat", "kind": "battery", "max_power_w": 3000,
        "battery": {"chemistry": "nmc", "capacity_wh": 13500}})
    state = world.alice.ok("GET", "/assets/mkt-bat/battery")
    assert state["params"]["capacity_wh"] == 13500 and state["state"] is None
    assert world.bob.get("/assets/mkt-bat/battery").status_code == 403
    not_battery = world.alice.get("/assets/mkt-pv/battery")
    assert (not_battery.status_code, error_code(not_battery)) == (404, "NOT_FOUND")
