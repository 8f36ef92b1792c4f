"""People, tokens and API keys through the real HTTP server."""

from __future__ import annotations

from api_support import PASSWORD, Client, World, error_code, login


def test_register_verify_login_refresh_logout(world: World):
    server, anonymous = world.server, world.anonymous
    email = "carol@owner.example"
    created = anonymous.ok("POST", "/auth/register", 201, json={"email": email, "password": PASSWORD})
    assert created["role"] == "owner" and created["org"] == "Org1MSP" and created["verified"] is False
    assert created["ledger_account"].startswith("Org1MSP:")

    refused = anonymous.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert (refused.status_code, error_code(refused)) == (403, "EMAIL_NOT_VERIFIED")
    taken = anonymous.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert (taken.status_code, error_code(taken)) == (409, "EMAIL_TAKEN")

    assert anonymous.ok("POST", "/auth/resend", 202, json={"email": email}) == {"status": "accepted"}
    assert anonymous.ok("POST", "/auth/resend", 202, json={"email": "nobody@x.example"}) == {"status": "accepted"}
    verified = anonymous.ok("POST", "/auth/verify", json={"token": server.verification_token(email)})
    assert verified["verified"] is True and verified["account_id"] == created["account_id"]
    again = anonymous.post("/auth/verify", json={"token": "not-a-token"})
    assert (again.status_code, error_code(again)) == (401, "TOKEN_INVALID")

    pair = anonymous.ok("POST", "/auth/login", json={"email": email, "password": PASSWORD})
    assert pair["token_type"] == "Bearer" and pair["expires_in"] > 0
    carol = Client(server.url, pair["access_token"])
    me = carol.ok("GET", "/me")
    assert (me["account_id"], me["role"], me["via"], me["verified"]) == (created["account_id"], "owner", "jwt", True)

    renewed = anonymous.ok("POST", "/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert renewed["refresh_token"] != pair["refresh_token"]
    reused = anonymous.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert (reused.status_code, error_code(reused)) == (401, "TOKEN_REVOKED")  # reuse revokes the family
    dead = Client(server.url, renewed["access_token"]).get("/me")
    assert (dead.status_code, error_code(dead)) == (401, "TOKEN_REVOKED")

    fresh = anonymous.ok("POST", "/auth/login", json={"email": email, "password": PASSWORD})
    assert anonymous.ok("POST", "/auth/logout", 204, json={"refresh_token": fresh["refresh_token"]}) is None
    after = Client(server.url, fresh["access_token"]).get("/me")
    assert (after.status_code, error_code(after)) == (401, "TOKEN_REVOKED")


def test_bad_credentials_and_weak_passwords(world: World):
    anonymous = world.anonymous
    wrong = anonymous.post("/auth/login", json={"email": "alice@owner.example", "password": "not the password"})
    assert (wrong.status_code, error_code(wrong)) == (401, "BAD_CREDENTIALS")
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")
    weak = anonymous.post("/auth/register", json={"email": "dave@owner.example", "password": "short"})
    assert (weak.status_code, error_code(weak)) == (422, "WEAK_PASSWORD")
    invalid = anonymous.post("/auth/register", json={"email": "not an email", "password": PASSWORD})
    assert (invalid.status_code, error_code(invalid)) == (422, "INVALID_EMAIL")


def test_register_cannot_choose_role_or_org(world: World):
    """Property level: who someone is comes from the server."""
    for field, value in (("role", "admin"), ("org", "Org2MSP"), ("owner", "Org1MSP:x")):
        response = world.anonymous.post("/auth/register", json={"email": "eve@owner.example", "password": PASSWORD,
                                                                  field: value})
        assert (response.status_code, error_code(response)) == (403, "PROPERTY_FORBIDDEN")
        assert response.json()["error"]["fields"][0]["field"] == f"body.{field}"


def test_credentials_that_are_wrong_are_refused_everywhere(world: World):
    for headers in ({"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"},
                    {"Authorization": "Bearer a.b.c"}, {"Authorization": "Bearer " + "a" * 6000},
                    {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."},  # alg none
                    {"X-API-Key": "vpp_nope_nope"}, {"X-API-Key": "garbage"}, {"X-API-Key": "vpp_" + "x" * 6000}):
        response = world.anonymous.get("/me", headers=headers)
        assert response.status_code == 401, headers
        assert error_code(response) in ("TOKEN_INVALID", "API_KEY_INVALID")
    missing = world.anonymous.get("/me")
    assert (missing.status_code, error_code(missing)) == (401, "UNAUTHENTICATED")


def test_only_admins_create_accounts(world: World):
    body = {"email": "auditor@vpp.example", "password": PASSWORD, "role": "auditor", "org": "Org1MSP"}
    refused = world.alice.post("/accounts", json=body)
    assert (refused.status_code, error_code(refused)) == (403, "FORBIDDEN")
    created = world.admin.ok("POST", "/accounts", 201, json=body)
    assert (created["role"], created["org"], created["verified"]) == ("auditor", "Org1MSP", True)
    bad_role = world.admin.post("/accounts", json={**body, "email": "x@vpp.example", "role": "king"})
    assert (bad_role.status_code, error_code(bad_role)) == (422, "VALIDATION_ERROR")
    assert bad_role.json()["error"]["fields"][0] == {"field": "body.role", "code": "literal_error",
                                                     "message": bad_role.json()["error"]["fields"][0]["message"]}


def test_api_keys_for_integrators(world: World):
    alice = world.alice
    refused = alice.post("/api-keys", json={"name": "my script", "role": "admin"})
    assert (refused.status_code, error_code(refused)) == (403, "PROPERTY_FORBIDDEN")
    created = alice.ok("POST", "/api-keys", 201, json={"name": "my script"})
    key, info = created["key"], created["api_key"]
    assert key.startswith("vpp_") and (info["role"], info["org"]) == ("owner", "Org1MSP")
    assert key.endswith(info["last4"])

    integrator = world.client(api_key=key)
    me = integrator.ok("GET", "/me")
    assert (me["via"], me["api_key_id"], me["role"]) == ("api_key", info["key_id"], "owner")
    nested = integrator.post("/api-keys", json={"name": "from a key"})
    assert (nested.status_code, error_code(nested)) == (403, "FORBIDDEN")

    listed = alice.ok("GET", "/api-keys")
    assert [k["key_id"] for k in listed["api_keys"]] == [info["key_id"]] and listed["next_cursor"] is None
    assert info["key_id"] not in [k["key_id"] for k in world.bob.ok("GET", "/api-keys")["api_keys"]]
    other = world.bob.delete(f"/api-keys/{info['key_id']}")
    assert (other.status_code, error_code(other)) == (404, "NOT_FOUND")  # object level: not bob's to see

    revoked = alice.ok("DELETE", f"/api-keys/{info['key_id']}")
    assert revoked["revoked_at"] is not None
    gone = integrator.get("/me")
    assert (gone.status_code, error_code(gone)) == (401, "API_KEY_REVOKED")


def test_admin_api_key_with_a_role(world: World):
    created = world.admin.ok("POST", "/api-keys", 201, json={"name": "edge bridge", "role": "admin",
                                                             "org": "Org1MSP"})
    assert created["api_key"]["role"] == "admin"
    bridge = world.client(api_key=created["key"])
    assert bridge.ok("GET", "/me")["role"] == "admin"
    assert bridge.ok("GET", "/supply")["Tgen"]["conserved"] is True


def test_pagination_of_api_keys(world: World):
    admin = login(world.server, "admin@vpp.example")
    for n in range(3):
        admin.ok("POST", "/api-keys", 201, json={"name": f"page key {n}"})
    seen, cursor = [], None
    while True:
        page = admin.ok("GET", "/api-keys", params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert len(page["api_keys"]) <= 2
        seen += [k["key_id"] for k in page["api_keys"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) >= 3 and seen == sorted(seen)
    bad = admin.get("/api-keys", params={"cursor": "garbage"})
    assert (bad.status_code, error_code(bad)) == (422, "VALIDATION_ERROR")
