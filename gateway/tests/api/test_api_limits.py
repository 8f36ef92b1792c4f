"""Hostile and careless input over a real socket: every refusal is a 4xx with a code, never a 5xx."""

from __future__ import annotations

import json
import socket

import pytest
import requests
from api_support import API, PASSWORD, LiveServer, World, error_code


def raw_post(world: World, path: str, body: bytes, content_type: str = "application/json", **headers: str):
    return requests.post(world.server.url + API + path, data=body, timeout=20,
                         headers={**world.admin.headers(), "Content-Type": content_type, **headers})


@pytest.mark.parametrize(("body", "code"), [
    (b"{", "INVALID_JSON"),
    (b"{'a': 1}", "INVALID_JSON"),
    (b'{"amount_micro": NaN, "account": "x"}', "INVALID_JSON"),
    (b'{"amount_micro": Infinity, "account": "x"}', "INVALID_JSON"),
    (b"\xff\xfe{}", "INVALID_JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "JSON_TOO_DEEP"),
    (b'{"a":' * 40 + b"1" + b"}" * 40, "JSON_TOO_DEEP"),
    (b"", "VALIDATION_ERROR"),
    (b"[]", "VALIDATION_ERROR"),
    (b'"text"', "VALIDATION_ERROR"),
    (b'{"account": "x", "amount_micro": 1e3}', "VALIDATION_ERROR"),
    (b'{"account": "x", "amount_micro": 100, "extra": 1}', "VALIDATION_ERROR"),
    (b'{"account": "x", "amount_micro": 99999999999999999999999999}', "VALIDATION_ERROR"),
    (b'{"account": "x", "amount_micro": null}', "VALIDATION_ERROR"),
    (b'{"account": ["x"], "amount_micro": 1}', "VALIDATION_ERROR"),
])
def test_bad_bodies_are_4xx_with_a_code(world: World, body: bytes, code: str):
    response = raw_post(world, "/credit/deposits", body)
    assert 400 <= response.status_code < 500, response.text
    assert error_code(response) == code


def test_too_many_values_is_refused(world: World):
    many = json.dumps({"account": "x", "amount_micro": 1, "z": [[]] * 200_001}, separators=(",", ":")).encode()
    assert len(many) < 1024 * 1024
    response = raw_post(world, "/credit/deposits", many)
    assert (response.status_code, error_code(response)) == (400, "JSON_TOO_COMPLEX")


def test_wrong_content_type(world: World):
    response = raw_post(world, "/credit/deposits", b"account=x&amount_micro=1", "application/x-www-form-urlencoded")
    assert (response.status_code, error_code(response)) == (415, "UNSUPPORTED_MEDIA_TYPE")


def test_huge_body_declared_and_chunked(world: World):
    big = b'{"readings": [' + b'"x",' * 300_000 + b'"x"]}'
    declared = raw_post(world, "/readings/batches", big)
    assert (declared.status_code, error_code(declared)) == (413, "BODY_TOO_LARGE")
    assert declared.json()["error"]["limit"] == 1024 * 1024

    def chunks():  # no Content-Length: the server must count while reading
        for start in range(0, len(big), 65536):
            yield big[start:start + 65536]

    chunked = requests.post(world.server.url + API + "/readings/batches", data=chunks(), timeout=20,
                            headers={**world.admin.headers(), "Content-Type": "application/json"})
    assert (chunked.status_code, error_code(chunked)) == (413, "BODY_TOO_LARGE")


def test_unknown_routes_and_methods(world: World):
    missing = world.admin.get("/nothing/here")
    assert (missing.status_code, error_code(missing)) == (404, "ROUTE_NOT_FOUND")
    method = world.admin.request("PATCH", "/sites")
    assert (method.status_code, error_code(method)) == (405, "METHOD_NOT_ALLOWED")
    assert "GET" in method.headers["Allow"]


def test_page_size_limit(world: World):
    response = world.admin.get("/sites", params={"limit": 201})
    assert (response.status_code, error_code(response)) == (422, "VALIDATION_ERROR")
    assert response.json()["error"]["fields"][0]["field"] == "query.limit"
    assert world.admin.get("/sites", params={"limit": 200}).status_code == 200


def test_odd_path_values_never_crash(world: World):
    for path in ("/sites/%00", "/sites/" + "x" * 5000, "/meters/%2F..%2F/readings", "/balances/%F0%9F%94%A5",
                 "/lots/x?token=Tgen&token=Tstorage", "/offers/%20"):
        response = world.alice.get(path)
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
        error_code(response)


def test_malformed_http_is_refused_by_the_server(world: World):
    host, port = world.server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n{}")
        reply = conn.recv(1024)
    assert reply.startswith(b"HTTP/1.1 4")


def test_rate_limit_per_client_and_principal(tmp_path):
    server = LiveServer(tmp_path, rate_per_min=5).start(admin_email="admin@vpp.example")
    try:
        url = server.url + API
        token = requests.post(url + "/auth/login", json={"email": "admin@vpp.example", "password": PASSWORD},
                              timeout=10).json()["access_token"]  # the address's first request
        anonymous = [requests.get(url + "/supply", timeout=10) for _ in range(5)]
        assert [a.status_code for a in anonymous] == [401] * 4 + [429]
        limited = anonymous[-1]
        assert error_code(limited) == "RATE_LIMITED"
        assert 1 <= int(limited.headers["Retry-After"]) <= 12
        assert requests.get(url + "/health", timeout=10).status_code == 200  # probes are not limited
        headers = {"Authorization": f"Bearer {token}"}
        admin = [requests.get(url + "/supply", headers=headers, timeout=10) for _ in range(6)]
        assert [a.status_code for a in admin] == [200] * 5 + [429]  # the principal has its own bucket
    finally:
        server.stop()
