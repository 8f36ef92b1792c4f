"""Expired and revoked access tokens and revoked API keys are refused (401 with a code) on every kind of route: a
read, a write, the event stream by header and by ``?access_token=``. Each refusal has a control: the same
credential before it expired or was revoked, or the same forged claims with a future expiry, succeeds.

Expired tokens are made the way an attacker who stole a token would hold one after its 15 minutes: the gateway's
own claims and secret (read from its data directory, as only the test can), with ``exp`` in the past.
"""

from __future__ import annotations

import time

import jwt
import requests

from tests.postman.live_gateway import aligned_past, generation
from tests.security.stack import Stack, sse_events


def refused(response: requests.Response, code: str) -> None:
    assert response.status_code == 401, (response.status_code, response.text[:300])
    assert response.json()["error"]["code"] == code, response.text[:300]
    assert response.headers.get("WWW-Authenticate", "").startswith(("Bearer", "ApiKey")) or code.startswith("API")


def attempts(stack: Stack, headers: dict[str, str], token: str | None = None) -> dict[str, requests.Response]:
    """One read, one write, the event stream by header, and (for a bearer token) by query parameter."""
    now = int(time.time())
    out = {
        "read": stack.call("GET", "/me", headers=headers),
        "write": stack.call("POST", "/offers", headers=headers, json_body={
            "token": "Tgen", "quantity_wh": 1, "rate_micro_per_kwh": 1, "valid_from": now, "valid_until": now + 60}),
        "stream": requests.get(stack.api + "/events/stream", headers=headers, timeout=10, stream=True),
    }
    if token is not None:
        out["stream by query"] = requests.get(stack.api + "/events/stream", params={"access_token": token},
                                              timeout=10, stream=True)
    return out


def forge(stack: Stack, token: str, **changes: int) -> str:
    secret = (stack.data_dir / "accounts" / "jwt.key").read_bytes()
    claims = jwt.decode(token, options={"verify_signature": False})
    return jwt.encode({**claims, **changes}, secret, algorithm="HS256")


def test_expired_access_tokens_are_refused_everywhere(stack: Stack):
    real = stack.people["bob"].access_token
    now = int(time.time())
    control = forge(stack, real, iat=now - 30, exp=now + 600)   # the forging is sound: this one passes
    assert stack.call("GET", "/me", headers={"Authorization": f"Bearer {control}"}).status_code == 200
    for age in (1, 3600, 30 * 86_400):
        expired = forge(stack, real, iat=now - age - 900, exp=now - age)
        stack.keep_secret("access token", expired)
        for what, response in attempts(stack, {"Authorization": f"Bearer {expired}"}, expired).items():
            with response:
                refused(response, "TOKEN_EXPIRED")
            assert what  # every route kind refused


def test_revoked_access_tokens_are_refused_everywhere(stack: Stack):
    bob = stack.people["bob"]
    pair = stack.ok("POST", "/auth/login", json_body={"email": bob.email, "password": bob.password})
    stack.keep_secret("access token", pair["access_token"])
    stack.keep_secret("refresh token", pair["refresh_token"])
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert stack.call("GET", "/me", headers=headers).status_code == 200
    stack.ok("POST", "/auth/logout", 204, json_body={"refresh_token": pair["refresh_token"]})
    for response in attempts(stack, headers, pair["access_token"]).values():
        with response:
            refused(response, "TOKEN_REVOKED")
    again = stack.call("POST", "/auth/refresh", json_body={"refresh_token": pair["refresh_token"]})
    refused(again, "TOKEN_REVOKED")
    assert stack.call("GET", "/me", who="bob").status_code == 200  # bob's other session lives on


def test_revoked_api_keys_are_refused_everywhere(stack: Stack):
    created = stack.ok("POST", "/api-keys", 201, who="bob", json_body={"name": "bob's script"})
    key = stack.keep_secret("API key", created["key"])
    assert stack.call("GET", "/me", api_key=key).status_code == 200
    stack.ok("DELETE", f"/api-keys/{created['api_key']['key_id']}", who="bob")
    for response in attempts(stack, {"X-API-Key": key}).values():
        with response:
            refused(response, "API_KEY_REVOKED")


def test_a_revoked_bridge_key_mints_nothing(stack: Stack):
    """The edge bridge's admin key is the one credential that turns meter readings into tokens."""
    created = stack.ok("POST", "/api-keys", 201, who="admin",
                       json_body={"name": "old bridge", "role": "admin", "org": "Org1MSP"})
    key = stack.keep_secret("API key", created["key"])
    meter = stack.ids["bob"]["meter_id"]
    first = generation(meter, stack.meter_keys[meter], aligned_past(20), 50)
    assert stack.ok("POST", "/readings/batches", api_key=key, json_body={"readings": [first]})["accepted"] == 1
    stack.ok("DELETE", f"/api-keys/{created['api_key']['key_id']}", who="admin")
    supply = stack.ok("GET", "/supply", who="admin")
    late = generation(meter, stack.meter_keys[meter], aligned_past(19), 50)
    refused(stack.call("POST", "/readings/batches", api_key=key, json_body={"readings": [late]}), "API_KEY_REVOKED")
    assert stack.ok("GET", "/supply", who="admin") == supply


def test_an_open_event_stream_ends_when_its_credential_is_revoked(stack: Stack):
    """The stream checks its credential again before everything it sends (heartbeats every second here): a logout
    or a revoked key ends it with an ``error`` event carrying the refusal's code, not events for ever after."""
    bob = stack.people["bob"]
    pair = stack.ok("POST", "/auth/login", json_body={"email": bob.email, "password": bob.password})
    stack.keep_secret("access token", pair["access_token"])
    stack.keep_secret("refresh token", pair["refresh_token"])
    created = stack.ok("POST", "/api-keys", 201, who="bob", json_body={"name": "bob's dashboard"})
    key = stack.keep_secret("API key", created["key"])
    by_token = requests.get(stack.api + "/events/stream", headers={"Authorization": f"Bearer {pair['access_token']}"},
                            timeout=10, stream=True)
    by_key = requests.get(stack.api + "/events/stream", headers={"X-API-Key": key}, timeout=10, stream=True)
    with by_token, by_key:
        assert by_token.status_code == 200 and by_key.status_code == 200
        stack.ok("POST", "/auth/logout", 204, json_body={"refresh_token": pair["refresh_token"]})
        stack.ok("DELETE", f"/api-keys/{created['api_key']['key_id']}", who="bob")
        for response, code in ((by_token, "TOKEN_REVOKED"), (by_key, "API_KEY_REVOKED")):
            events = sse_events(response, lambda seen: any(e.get("event") == "error" for e in seen), limit_s=10)
            errors = [e for e in events if e.get("event") == "error"]
            assert errors and errors[0]["json"]["code"] == code, events
            started = time.monotonic()
            rest = sse_events(response, lambda seen: False, limit_s=6)  # heartbeats would keep this going 6 s
            assert rest == [] and time.monotonic() - started < 3  # the server closed the stream
