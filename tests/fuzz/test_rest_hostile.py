"""Hostile requests through the real gateway process: replays, oversized bodies on every body route, JSON nested
10,000 levels deep, huge and odd numbers in every integer field, text that is not Unicode, and mass-assigned
fields. Every answer is a 4xx with a machine-readable code (never a 5xx), and nothing the request tried changed.

Extends gateway/tests/api/test_api_limits.py (which tries these on /credit/deposits and /readings/batches) to every
body route of the served OpenAPI document, and test_api_readings' sequential replay to concurrent and re-encoded
replays.
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.postman.live_gateway import MeterKey, aligned_past, generation
from tests.security.stack import Stack

MAX_BODY = 1024 * 1024  # VPP_MAX_BODY_BYTES default


def body_routes(stack: Stack) -> list[tuple[str, str]]:
    document = requests.get(stack.api + "/openapi.json", timeout=10).json()
    routes = [(method.upper(), path) for path, item in document["paths"].items() for method, op in item.items()
              if method in ("post", "put") and "requestBody" in op]
    assert len(routes) >= 15, routes
    return sorted(routes)


def concrete(stack: Stack, path: str) -> str:
    ids = stack.ids["alice"]
    values = {"site_id": ids["site_id"], "asset_id": ids["asset_id"], "meter_id": ids["meter_id"],
              "offer_id": stack.offer_id, "key_id": "none"}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path).removeprefix("/api/v1")


ACTORS = {"/api/v1/offers": "alice", "/api/v1/offers/{offer_id}/accept": "utility",
          "/api/v1/standing-bid": "utility"}


def actor(path: str) -> str:
    """Someone the route's role check lets through, so that the body itself is what gets refused."""
    return ACTORS.get(path, "admin")


def refused_4xx(response: requests.Response, *codes: str) -> str:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"], body
    if codes:
        assert body["error"]["code"] in codes, body
    return body["error"]["code"]


def supply(stack: Stack) -> dict:
    return stack.ok("GET", "/supply", who="admin")


@pytest.fixture(scope="module")
def routes(stack: Stack) -> list[tuple[str, str]]:
    return body_routes(stack)


def test_oversized_bodies_on_every_route(stack: Stack, routes):
    big = b'{"x": "' + b"a" * MAX_BODY + b'"}'
    for method, path in routes:
        response = stack.call(method, concrete(stack, path), who=actor(path), data=big)
        refused_4xx(response, "BODY_TOO_LARGE")
    # a long string inside the limit stops at the model, not at the ledger
    response = stack.call("POST", "/sites", who="alice", json_body={"site_id": "s" * 200_000, "location": "x"})
    refused_4xx(response, "VALIDATION_ERROR")


@pytest.mark.parametrize("shape", ["array", "object", "mixed"])
def test_json_nested_ten_thousand_levels_on_every_route(stack: Stack, routes, shape: str):
    depth = 10_000
    body = {"array": b"[" * depth + b"]" * depth,
            "object": b'{"a":' * depth + b"1" + b"}" * depth,
            "mixed": b'{"a":[' * (depth // 2) + b"1" + b"]}" * (depth // 2)}[shape]
    for method, path in routes:
        refused_4xx(stack.call(method, concrete(stack, path), who=actor(path), data=body), "JSON_TOO_DEEP")


HUGE = ["1" + "0" * 400, str(2**64), str(2**53 + 1), str(-2**63), "1e400", "-1e400", "1.5", "1E2", '"12"',
        "true", "null", "[]", "{}"]


def integer_fields(document: dict, schema: dict) -> list[str]:
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return sorted(name for name, prop in schema.get("properties", {}).items()
                  if prop.get("type") == "integer" or any(p.get("type") == "integer" for p in prop.get("anyOf", [])))


VALID = {  # a body each route accepts as it stands, so that only the field under test is wrong
    ("POST", "/api/v1/offers"): lambda now: {"token": "Tgen", "quantity_wh": 10, "rate_micro_per_kwh": 1000,
                                             "valid_from": now, "valid_until": now + 600},
    ("POST", "/api/v1/offers/{offer_id}/accept"): lambda now: {"quantity_wh": 1},
    ("POST", "/api/v1/credit/deposits"): lambda now: {"account": "Org1MSP:nobody", "amount_micro": 1},
    ("PUT", "/api/v1/standing-bid"): lambda now: {"rate_micro_per_kwh": 1, "active": False},
    ("POST", "/api/v1/settlements"): lambda now: {"owner": "Org1MSP:nobody", "window_s": 86_400},
    ("POST", "/api/v1/sites/{site_id}/assets"): lambda now: {"asset_id": "huge-x", "kind": "generator",
                                                             "max_power_w": 1000},
    ("POST", "/api/v1/assets/{asset_id}/meters"): lambda now: {"meter_id": "huge-m", "interval_s": 900,
                                                               "public_key_pem": MeterKey().public_pem},
}


def test_huge_and_odd_numbers_in_every_integer_field(stack: Stack):
    document = requests.get(stack.api + "/openapi.json", timeout=10).json()
    before = supply(stack)
    tried = 0
    for (method, path), make in VALID.items():
        schema = document["paths"][path][method.lower()]["requestBody"]["content"]["application/json"]["schema"]
        fields = integer_fields(document, schema)
        assert fields, path
        for field in fields:
            for literal in HUGE:
                body = json.dumps(make(int(time.time())))
                body = re.sub(rf'"{field}": [^,}}]+', f'"{field}": {literal}', body)
                response = stack.call(method, concrete(stack, path), who=actor(path), data=body.encode())
                refused_4xx(response)
                tried += 1
    assert tried > 100
    assert supply(stack) == before


@pytest.mark.parametrize("text", ['"\\ud800"', '"\\udfff"', '"a\\udbffb"'])
def test_text_that_is_not_unicode_is_refused_everywhere(stack: Stack, routes, text: str):
    """JSON escapes for half a surrogate pair decode to text no UTF-8 encoder writes: a reading batch carrying one
    answered 502 before body.py refused them."""
    for method, path in routes:
        body = ('{"site_id": %s, "location": %s, "name": %s, "email": %s, "password": %s, "readings": '
                '[{"payload": {"meter": %s}, "signature": "AA=="}]}') % ((text,) * 6)
        refused_4xx(stack.call(method, concrete(stack, path), who=actor(path), data=body.encode()), "INVALID_JSON")
    meter = stack.ids["alice"]["meter_id"]
    reading = generation(meter, stack.meter_keys[meter], aligned_past(60), 5)
    for field in ("meter", "kind"):
        raw = json.dumps({"readings": [reading, {"payload": {**reading["payload"], field: "X"},
                                                 "signature": "AA=="}]}).replace('"X"', text)
        refused_4xx(stack.call("POST", "/readings/batches", api_key=stack.bridge_key, data=raw.encode()),
                    "INVALID_JSON")
    site = f"emoji-{sum(map(ord, text))}"
    assert stack.call("POST", "/sites", who="alice", json_body={"site_id": site, "location": "\U0001f600"}
                      ).status_code == 201  # a real pair is text


@pytest.mark.parametrize("path", ["/sites/%ED%A0%80", "/meters/%ED%A0%80/readings", "/balances/%FF%FE",
                                  "/lots/x?token=%ED%A0%80", "/sites?owner=%C0%80", "/offers/%00%00"])
def test_undecodable_paths_and_queries(stack: Stack, path: str):
    refused_4xx(stack.call("GET", path, who="alice"))


def test_a_replayed_batch_mints_once_even_concurrently(stack: Stack):
    meter = stack.ids["bob"]["meter_id"]
    key = stack.meter_keys[meter]
    batch = {"readings": [generation(meter, key, aligned_past(n), 77) for n in (50, 49)]}
    balance = stack.ok("GET", "/me/balance", who="bob")["Tgen"]
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: stack.call("POST", "/readings/batches", api_key=stack.bridge_key,
                                                     json_body=batch), range(4)))
    assert [a.status_code for a in answers] == [200] * 4, [a.text[:200] for a in answers]
    accepted = sum(a.json()["accepted"] for a in answers)
    assert accepted == 2, [a.json() for a in answers]
    # the same readings again: by the admin's JWT instead of the bridge key, keys reordered, signed a second time
    # (ECDSA signatures differ each time): the same content, so duplicates
    resigned = [key.sign(dict(reversed(list(r["payload"].items())))) for r in batch["readings"]]
    assert resigned[0]["signature"] != batch["readings"][0]["signature"]
    again = stack.ok("POST", "/readings/batches", who="admin", json_body={"readings": resigned})
    assert [r["status"] for r in again["results"]] == ["duplicate", "duplicate"], again
    assert stack.ok("GET", "/me/balance", who="bob")["Tgen"] == balance + 2 * 77
    changed = generation(meter, key, aligned_past(50), 78)
    conflict = stack.ok("POST", "/readings/batches", api_key=stack.bridge_key, json_body={"readings": [changed]})
    assert conflict["results"][0]["code"] == "CONFLICTING_READING"


MASS = [  # (who, method, path, valid body, fields an owner must not set)
    ("alice", "POST", "/sites", {"site_id": "mass-site", "location": "x"},
     {"owner": "Org1MSP:bob", "role": "admin", "org": "Org2MSP", "balance": 10**9, "assets": ["bob-pv"]}),
    ("alice", "POST", "/sites/{site_id}/assets", {"asset_id": "mass-pv", "kind": "generator", "max_power_w": 100},
     {"owner": "Org1MSP:bob", "site_owner": "Org1MSP:bob", "Tgen": 10**6, "meters": ["bob-m"], "org": "Org2MSP"}),
    ("alice", "POST", "/api-keys", {"name": "mass key"},
     {"role": "admin", "org": "Org2MSP", "owner_account_id": "acc_x", "revoked_at": None}),
    ("alice", "POST", "/offers", None,
     {"seller": "Org1MSP:bob", "remaining_wh": 10**9, "status": "sold", "owner": "Org1MSP:bob"}),
    ("bob", "POST", "/offers/{offer_id}/accept", {"quantity_wh": 1},
     {"buyer": "Org2MSP:utility", "price_micro": 0, "owner": "Org1MSP:alice"}),
    (None, "POST", "/auth/register", {"email": "mass@owner.example", "password": "pw-a-long-one-1234"},
     {"role": "admin", "org": "Org2MSP", "verified": True, "owner": "x", "account_id": "acc_admin"}),
]


@pytest.mark.parametrize("case", MASS, ids=[f"{c[1]} {c[2]}" for c in MASS])
def test_mass_assigned_fields_are_refused(stack: Stack, case):
    who, method, path, body, extras = case
    now = int(time.time())
    body = body or {"token": "Tgen", "quantity_wh": 5, "rate_micro_per_kwh": 1000, "valid_from": now - 10,
                    "valid_until": now + 600}
    before = (supply(stack), stack.ok("GET", f"/offers/{stack.offer_id}", who="alice"),
              stack.ok("GET", "/me/balance", who="alice"), stack.ok("GET", "/me/balance", who="bob"))
    for field, value in extras.items():
        response = stack.call(method, concrete(stack, path), who=who, json_body={**body, field: value})
        code = refused_4xx(response, "PROPERTY_FORBIDDEN", "VALIDATION_ERROR")
        assert response.json()["error"]["fields"][0]["field"] == f"body.{field}", (field, code, response.text)
    after = (supply(stack), stack.ok("GET", f"/offers/{stack.offer_id}", who="alice"),
             stack.ok("GET", "/me/balance", who="alice"), stack.ok("GET", "/me/balance", who="bob"))
    assert after == before
    assert "mass-site" not in json.dumps(stack.ok("GET", "/sites", who="admin"))
