"""An owner cannot reach another owner's data by any path: REST (every GET route of the served OpenAPI document with
the other owner's ids, and the writes that name them), the event stream (live, replayed from block 0, by API key and
by ``?access_token=``) and the contract itself (an owner's own certificate on the embedded ledger).

Each refusal is checked against a positive control: the same request by the data's owner succeeds, so a 404 here
means "not yours", not "wrong id".
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time

import pytest
import requests
from vpp_contract.contract import chaincode as vpp
from vpp_gateway.accounts import AccountService, LogMailer
from vpp_gateway.embedded import EmbeddedLedger
from vpp_gateway.ledger_client import ContractError, EmbeddedLedgerClient

from tests.postman.live_gateway import MeterKey, aligned_past, generation
from tests.security.stack import Stack, sse_events

# owners share the market: an offer (seller's account included) is public, trades are filtered to the caller's
MARKET_ROUTES = {"/api/v1/offers/{offer_id}", "/api/v1/offers/{offer_id}/trades"}
QUERY = {"/api/v1/lots/{account}": {"token": "Tgen"}}


def get_routes(stack: Stack) -> list[str]:
    document = requests.get(stack.api + "/openapi.json", timeout=10).json()
    return sorted(path for path, item in document["paths"].items() if "get" in item and "{" in path)


def fill(path: str, ids: dict[str, str], stack: Stack) -> str:
    values = {**ids, "offer_id": stack.offer_id, "key_id": "none"}
    if path.endswith("/battery"):
        values["asset_id"] = ids["battery_id"]
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path).removeprefix("/api/v1")


def private_markers(stack: Stack, owner: str) -> list[str]:
    ids = stack.ids[owner]
    return [ids["site_id"], ids["asset_id"], ids["battery_id"], ids["meter_id"], ids["battery_meter_id"],
            ids["account"], stack.people[owner].account_id]


def test_every_get_route_with_another_owners_ids(stack: Stack):
    routes = get_routes(stack)
    assert len(routes) >= 12, routes  # the document lists the id routes at all
    for path in routes:
        params = QUERY.get(path)
        own = stack.call("GET", fill(path, stack.ids["alice"], stack), who="alice", params=params)
        if path != "/api/v1/api-keys/{key_id}":
            assert own.status_code == 200, (path, own.status_code, own.text[:300])  # the ids are right
        for fmt in ({"format": "csv"}, {"format": "xml"}) if path.endswith("/statement") else ({},):
            other = stack.call("GET", fill(path, stack.ids["alice"], stack), who="bob", params={**(params or {}),
                                                                                              **fmt})
            if path in MARKET_ROUTES:
                assert other.status_code == 200, (path, other.text[:300])
                leaked = [m for m in private_markers(stack, "alice")[:5] if m in other.text]
                assert not leaked, (path, leaked)
                continue
            assert other.status_code in (403, 404), (path, fmt, other.status_code, other.text[:300])
            assert other.json()["error"]["code"] in ("FORBIDDEN", "NOT_FOUND", "UNKNOWN_METER"), other.text
            # the answer may echo the id bob sent, nothing more of alice's
            unseen = [m for m in private_markers(stack, "alice") if m not in fill(path, stack.ids["alice"], stack)]
            assert not [m for m in unseen if m in other.text], (path, other.text[:300])
    trades = stack.ok("GET", f"/offers/{stack.offer_id}/trades", who="bob")
    assert trades["trades"] == [], trades  # the utility bought from alice: not bob's business
    assert len(stack.ok("GET", f"/offers/{stack.offer_id}/trades", who="alice")["trades"]) == 1


def test_lists_and_queries_show_only_ones_own(stack: Stack):
    sites = stack.ok("GET", "/sites", who="bob")["sites"]
    assert [s["site_id"] for s in sites] == [stack.ids["bob"]["site_id"]]
    other_owner = stack.call("GET", "/sites", who="bob", params={"owner": stack.ids["alice"]["account"]})
    assert other_owner.status_code == 403 and other_owner.json()["error"]["code"] == "FORBIDDEN", other_owner.text
    for path, params in (("/readings", {"location": "alicetown"}), ("/supply", None)):
        refused = stack.call("GET", path, who="bob", params=params)
        assert refused.status_code == 403, (path, refused.text)
    assert stack.ok("GET", "/me/balance", who="bob")["account"] == stack.ids["bob"]["account"]


def test_writes_naming_another_owners_things_are_refused(stack: Stack):
    alice = stack.ids["alice"]
    before = stack.ok("GET", "/supply", who="admin")
    attempts = [
        ("POST", f"/sites/{alice['site_id']}/assets", {"asset_id": "bob-sneaky", "kind": "generator",
                                                       "max_power_w": 1000}),
        ("DELETE", f"/offers/{stack.offer_id}", None),
        ("POST", f"/assets/{alice['asset_id']}/meters", {"meter_id": "bob-sneaky-m", "interval_s": 900,
                                                         "public_key_pem": MeterKey().public_pem}),
        ("PUT", f"/meters/{alice['meter_id']}/active", {"active": False}),
        ("PUT", f"/meters/{alice['meter_id']}/key", {"public_key_pem": MeterKey().public_pem}),
        ("POST", "/readings/batches", {"readings": [generation(alice["meter_id"], MeterKey(), aligned_past(3), 5)]}),
        ("POST", "/settlements", {"owner": alice["account"], "window_s": 900}),
        ("POST", "/credit/deposits", {"account": stack.ids["bob"]["account"], "amount_micro": 1}),
    ]
    for method, path, body in attempts:
        response = stack.call(method, path, who="bob", json_body=body)
        assert response.status_code in (403, 404), (method, path, response.status_code, response.text[:300])
        assert response.json()["error"]["code"] in ("FORBIDDEN", "NOT_FOUND"), response.text
    assert stack.ok("GET", f"/offers/{stack.offer_id}", who="alice")["status"] == "active"
    assert stack.ok("GET", "/supply", who="admin") == before
    assets = stack.ok("GET", f"/sites/{alice['site_id']}/assets", who="alice")
    assert "bob-sneaky" not in json.dumps(assets)


def _stream(stack: Stack, **kwargs) -> tuple[list[dict], float]:
    started = time.monotonic()
    with requests.get(stack.api + "/events/stream", stream=True, timeout=20, **kwargs) as response:
        assert response.status_code == 200, response.text[:300]
        events = sse_events(response, lambda seen: any(e.get("event") == "ledger" and "bob-late" in e["data"]
                                                       for e in seen))
    return events, time.monotonic() - started


def test_event_stream_never_carries_another_owners_events(stack: Stack):
    """Bob listens live (bearer header), replays the whole chain from block 0 (API key) and listens EventSource-style
    (?access_token=) while alice's and his own readings are minted; the marker reading of bob's ends each stream."""
    bob_key = stack.ok("POST", "/api-keys", 201, who="bob", json_body={"name": "bob's dashboard"})["key"]
    stack.keep_secret("API key", bob_key)
    results: dict[str, list[dict]] = {}

    def listen(name: str, **kwargs) -> None:
        results[name] = _stream(stack, **kwargs)[0]

    listeners = [threading.Thread(target=listen, args=("live",), kwargs={"headers": stack.people["bob"].headers}),
                 threading.Thread(target=listen, args=("query",),
                                  kwargs={"params": {"access_token": stack.people["bob"].access_token}})]
    for thread in listeners:
        thread.start()
    time.sleep(1.5)  # both streams are open (new events only) before the readings come
    alice, bob = stack.ids["alice"], stack.ids["bob"]
    late = [generation(alice["meter_id"], stack.meter_keys[alice["meter_id"]], aligned_past(n), 700) for n in (5, 4)]
    stack.ok("POST", "/readings/batches", api_key=stack.bridge_key, json_body={"readings": late})
    stack.ok("POST", "/readings/batches", api_key=stack.bridge_key, json_body={"readings": [
        generation(bob["meter_id"], stack.meter_keys[bob["meter_id"]], aligned_past(5), 123)]})
    # the marker: bob's asset registered late, then a reading of it
    stack.ok("POST", f"/sites/{bob['site_id']}/assets", 201, who="bob",
             json_body={"asset_id": "bob-late", "kind": "generator", "max_power_w": 2000})
    marker_key = stack.meter_keys["bob-late-m"] = MeterKey()
    stack.ok("POST", "/assets/bob-late/meters", 201, who="admin",
             json_body={"meter_id": "bob-late-m", "interval_s": 900, "public_key_pem": marker_key.public_pem})
    stack.ok("POST", "/readings/batches", api_key=stack.bridge_key,
             json_body={"readings": [generation("bob-late-m", marker_key, aligned_past(4), 10)]})
    for thread in listeners:
        thread.join(30)
    results["replay"], _ = _stream(stack, headers={"X-API-Key": bob_key}, params={"from_block": 0})
    admin_view, _ = _stream(stack, headers=stack.people["admin"].headers, params={"from_block": 0})

    alice_markers = private_markers(stack, "alice")
    assert any(m in e.get("data", "") for e in admin_view for m in alice_markers), "alice's events exist at all"
    for name, events in results.items():
        ledger_events = [e for e in events if e.get("event") == "ledger"]
        assert any("bob-late" in e["data"] for e in ledger_events), f"{name}: bob's own marker never arrived"
        assert any(e["json"]["events"][0].get("amount") == 123 for e in ledger_events), name
        for event in ledger_events:
            for inner in event["json"]["events"]:
                touches_bob = any(inner.get(f) == bob["account"] for f in ("owner", "buyer", "seller", "holder",
                                                                            "account")) \
                    or inner.get("asset") == f"account:{bob['account']}"
                assert touches_bob, f"{name}: bob received an event that is not his: {inner}"
            assert not [m for m in alice_markers if m in event["data"]], f"{name}: {event['data'][:300]}"


def as_args(values: list) -> list[str]:
    """Contract arguments travel as strings: ints and booleans as JSON, strings as they are."""
    return [v if isinstance(v, str) else json.dumps(v) for v in values]


async def _contract_isolation(directory) -> None:
    mailer = LogMailer()
    service = AccountService.open(directory / "accounts", mailer=mailer)
    ledger = EmbeddedLedger.open(directory / "ledger.db", block_size=1, block_timeout=0.001)
    ledger.install("vpp", vpp)
    client = EmbeddedLedgerClient(ledger, "vpp", owns_ledger=True)
    try:
        people = {}
        for name in ("uma", "vic"):
            email = f"{name}@owner.example"
            await service.register(email, "a long and unusual passphrase")
            token = re.search(r"token=([A-Za-z0-9_\-]+)", mailer.outbox[-1].body).group(1)
            await service.verify_email(token)
            pair = await service.login(email, "a long and unusual passphrase")
            people[name] = service.authenticate_bearer(pair.access_token)
        operator = service.operator_identity()
        uma, vic = people["uma"], people["vic"]
        await client.submit("RegisterSite", ["uma-site", uma.ledger_account, "Utrecht"], operator)
        await client.submit("RegisterAsset", as_args(["uma-pv", "uma-site", "generator", 5000, {}]), operator)
        key = MeterKey()
        await client.submit("RegisterMeter", as_args(["uma-m", "uma-pv", 900, key.public_pem]), operator)
        start = aligned_past(3)
        await client.submit("SubmitReadings", [json.dumps([generation("uma-m", key, start, 800)])], operator)
        now = int(time.time())
        since = now - 86_400  # queries are bounded (3,000 intervals): the last day
        created = await client.submit("CreateOffer", as_args(["Tgen", 100, 100_000, now - 60, now + 3600]),
                                      uma.identity)
        offer = json.loads(created.result)
        state = ledger.state_hash()
        own_reads = [("GetBalance", [uma.ledger_account]), ("GetLots", [uma.ledger_account, "Tgen"]),
                     ("GetSites", [uma.ledger_account]), ("GetReadings", ["uma-m", since, now]),
                     ("GetAssetEvents", ["uma-pv", since, now]), ("GetSiteStatement", ["uma-site", since, now]),
                     ("QueryReadingsBySite", ["uma-site", since, now, 10, ""])]
        evaluations = [*own_reads, ("GetSites", [""]), ("GetSupply", []), ("QuerySitesByLocation", ["Utrecht"])]
        submits = [("RegisterSite", ["vic-site", uma.ledger_account, "x"]),
                   ("RegisterAsset", ["vic-pv", "uma-site", "generator", 5000, {}]),
                   ("RegisterMeter", ["vic-m", "uma-pv", 900, MeterKey().public_pem]),
                   ("RotateMeterKey", ["uma-m", MeterKey().public_pem]), ("SetMeterActive", ["uma-m", False]),
                   ("SubmitReadings", [json.dumps([generation("uma-m", key, aligned_past(2), 1)])]),
                   ("DepositCredit", [vic.ledger_account, 1]), ("CancelOffer", [offer["offer_id"]]),
                   ("SettleExpiredTgen", [uma.ledger_account, 900]), ("SetStandingBid", [1, True])]
        for function, args in own_reads:
            await client.evaluate(function, as_args(args), uma.identity)  # the owner may: the calls are well formed
        for function, args in evaluations + submits:
            call = client.evaluate if (function, args) in evaluations else client.submit
            with pytest.raises(ContractError) as refused:
                await call(function, as_args(args), vic.identity)
            assert refused.value.code == "FORBIDDEN", (function, str(refused.value))
        assert ledger.state_hash() == state, "a refused call changed the world state"
    finally:
        await client.close()
        service.close()


def test_contract_refuses_an_owner_acting_on_another_owners_data(tmp_path):
    asyncio.run(_contract_isolation(tmp_path))
