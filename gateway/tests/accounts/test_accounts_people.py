"""People: register -> verify -> login -> bearer -> refresh rotation -> reuse detection -> logout, and every way a
token, a password or an email can be refused."""

from __future__ import annotations

import base64
import json
import sqlite3
import warnings

import jwt
import pytest
from accounts_support import PUBLIC_URL, link_token, new_password, refused, verified_person
from argon2 import PasswordHasher
from vpp_gateway.accounts import AuthError, TokenPair
from vpp_gateway.accounts.errors import STATUS
from vpp_gateway.accounts.policy import COMMON_PASSWORDS


async def test_register_verify_login_refresh_reuse_logout(service, mailer):
    password = new_password()
    info = await service.register("  Alice@Example.ORG ", password, "Alice")
    assert (info.email, info.role, info.org, info.verified) == ("alice@example.org", "owner", "Org1MSP", False)
    assert info.account_id.startswith("acc_") and info.ledger_account == f"Org1MSP:{info.account_id}"

    mail = mailer.outbox[-1]
    assert mail.to == "alice@example.org" and "verify" in mail.subject.lower()
    assert f"{PUBLIC_URL}/verify?token=" in mail.body
    with refused("EMAIL_NOT_VERIFIED"):
        await service.login("alice@example.org", password)

    token = link_token(mail.body)
    verified = await service.verify_email(token)
    assert verified.verified and verified.account_id == info.account_id
    with refused("TOKEN_INVALID"):  # single use
        await service.verify_email(token)

    first = await service.login("ALICE@example.org", password)
    assert isinstance(first, TokenPair) and first.token_type == "Bearer" and first.expires_in == 900
    who = service.authenticate_bearer(first.access_token)
    assert (who.account_id, who.ledger_account, who.email, who.role, who.org, who.via, who.api_key_id) == \
        (info.account_id, info.ledger_account, "alice@example.org", "owner", "Org1MSP", "jwt", None)
    assert who.identity.enrollment_id == info.account_id

    second = await service.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token and second.access_token != first.access_token
    assert service.authenticate_bearer(second.access_token).account_id == info.account_id

    # the old refresh token comes back: someone holds a copy, so the whole family goes
    with refused("TOKEN_REVOKED"):
        await service.refresh(first.refresh_token)
    with refused("TOKEN_REVOKED"):
        await service.refresh(second.refresh_token)
    for access in (first.access_token, second.access_token):
        with refused("TOKEN_REVOKED"):
            service.authenticate_bearer(access)

    # a new login is a new family, unaffected; logout ends it
    third = await service.login("alice@example.org", password)
    service.authenticate_bearer(third.access_token)
    await service.logout(third.refresh_token)
    with refused("TOKEN_REVOKED"):
        await service.refresh(third.refresh_token)
    with refused("TOKEN_REVOKED"):
        service.authenticate_bearer(third.access_token)
    with refused("TOKEN_INVALID"):
        await service.logout("not-a-token-we-issued")


async def test_access_and_refresh_tokens_expire(service, mailer, clock):
    _, pair, _ = await verified_person(service, mailer, "bob@example.org")
    clock.advance(899)
    service.authenticate_bearer(pair.access_token)
    clock.advance(1)
    with refused("TOKEN_EXPIRED"):
        service.authenticate_bearer(pair.access_token)
    renewed = await service.refresh(pair.refresh_token)
    service.authenticate_bearer(renewed.access_token)
    clock.advance(30 * 86400)
    with refused("TOKEN_EXPIRED"):
        await service.refresh(renewed.refresh_token)


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_forged_access_tokens_are_refused(service, mailer, account_dir):
    _, pair, who = await verified_person(service, mailer, "carol@example.org")
    header, payload, signature = _segments(pair.access_token)
    claims = jwt.decode(pair.access_token, options={"verify_signature": False})
    secret = (account_dir / "jwt.key").read_bytes()

    # the forging method is sound: the same claims signed with the real secret pass
    assert service.authenticate_bearer(jwt.encode(claims, secret, algorithm="HS256")).account_id == who.account_id

    tampered = ".".join([header, _b64({**claims, "role": "admin"}), signature])
    other_secret = jwt.encode(claims, b"k" * 32, algorithm="HS256")
    alg_none = ".".join([_b64({"alg": "none", "typ": "JWT"}), payload, ""])
    with warnings.catch_warnings():  # PyJWT warns that 32 bytes are short for HS512: that token is refused anyway
        warnings.simplefilter("ignore")
        hs512 = jwt.encode(claims, secret, algorithm="HS512")
    refresh_typ = jwt.encode({**claims, "typ": "refresh"}, secret, algorithm="HS256")
    no_session = jwt.encode({k: v for k, v in claims.items() if k != "sid"}, secret, algorithm="HS256")
    other_session = jwt.encode({**claims, "sid": "0" * 32}, secret, algorithm="HS256")
    future = jwt.encode({**claims, "iat": claims["iat"] + 3600, "exp": claims["exp"] + 3600}, secret,
                        algorithm="HS256")
    ghost = jwt.encode({**claims, "sub": "acc_00000000000000000000"}, secret, algorithm="HS256")
    for forged in (tampered, other_secret, alg_none, hs512, refresh_typ, no_session, other_session, future, ghost,
                   "", "abc", "a.b.c", None, 42, pair.refresh_token):
        with refused("TOKEN_INVALID"):
            service.authenticate_bearer(forged)


async def test_verification_link_expires_and_resend(service, mailer, clock):
    password = new_password()
    await service.register("dave@example.org", password)
    old = link_token(mailer.outbox[-1].body)
    clock.advance(24 * 3600)
    with refused("TOKEN_EXPIRED"):
        await service.verify_email(old)

    sent = len(mailer.outbox)
    await service.resend_verification("nobody@example.org")  # unknown: silent, no mail
    assert len(mailer.outbox) == sent
    await service.resend_verification(" DAVE@example.org")
    assert len(mailer.outbox) == sent + 1 and mailer.outbox[-1].to == "dave@example.org"
    await service.resend_verification("dave@example.org")  # within a minute: no second mail
    assert len(mailer.outbox) == sent + 1
    fresh = link_token(mailer.outbox[-1].body)
    assert fresh != old
    assert (await service.verify_email(fresh)).verified
    clock.advance(120)
    await service.resend_verification("dave@example.org")  # verified: silent
    assert len(mailer.outbox) == sent + 1
    await service.login("dave@example.org", password)
    for bad in ("", None, "x" * 500, old + "x"):
        with pytest.raises(AuthError) as caught:
            await service.verify_email(bad)
        assert caught.value.code == "TOKEN_INVALID"


@pytest.mark.parametrize("email", ["", "no-at-sign", "a@b", "a@@b.org", "a b@c.org", "@example.org",
                                   "x@example.", "a@.org", ("x" * 65) + "@example.org", "x@" + "e" * 250 + ".org",
                                   "tab\t@example.org", 42])
async def test_implausible_emails_refused(service, email):
    with pytest.raises(AuthError) as caught:
        await service.register(email, new_password())
    assert (caught.value.code, caught.value.status) == ("INVALID_EMAIL", 422)


@pytest.mark.parametrize("password", ["short9chr", "x" * 9, "1234567890", "Password123", "QWERTYUIOP",
                                      "erin@example.org", " ERIN@example.org", "y" * 1025, None])
async def test_weak_passwords_refused(service, password):
    assert "password123" in COMMON_PASSWORDS
    with pytest.raises(AuthError) as caught:
        await service.register("erin@example.org", password)
    assert (caught.value.code, caught.value.status) == ("WEAK_PASSWORD", 422)


async def test_email_taken_whatever_the_case(service):
    await service.register("frank@example.org", new_password())
    with pytest.raises(AuthError) as caught:
        await service.register("FRANK@Example.org", new_password())
    assert (caught.value.code, caught.value.status) == ("EMAIL_TAKEN", 409)


async def test_wrong_password_and_unknown_email_look_alike(service, mailer):
    await verified_person(service, mailer, "gina@example.org")
    with pytest.raises(AuthError) as wrong:
        await service.login("gina@example.org", new_password())
    with pytest.raises(AuthError) as unknown:
        await service.login("nobody@example.org", new_password())
    assert (wrong.value.code, wrong.value.status, wrong.value.message) == \
        (unknown.value.code, unknown.value.status, unknown.value.message) == \
        ("BAD_CREDENTIALS", 401, "wrong email or password")
    with refused("BAD_CREDENTIALS"):
        await service.login("gina@example.org", None)


async def test_five_failures_lock_the_email_for_the_window(service, mailer, clock):
    password, _, _ = await verified_person(service, mailer, "hugo@example.org")
    for _ in range(5):
        with refused("BAD_CREDENTIALS"):
            await service.login("hugo@example.org", "not-the-password")
        clock.advance(10)
    with pytest.raises(AuthError) as caught:  # even the right password, until the window has passed
        await service.login("HUGO@example.org", password)
    assert (caught.value.code, caught.value.status) == ("RATE_LIMITED", 429)
    assert caught.value.retry_after == 15 * 60 - 50  # the oldest failure leaves the window then
    clock.advance(caught.value.retry_after - 1)
    with refused("RATE_LIMITED"):
        await service.login("hugo@example.org", password)
    clock.advance(1)
    await service.login("hugo@example.org", password)
    # a success clears the count: four more failures do not lock
    for _ in range(4):
        with refused("BAD_CREDENTIALS"):
            await service.login("hugo@example.org", "not-the-password")
    await service.login("hugo@example.org", password)


async def test_failures_per_client_across_emails(service, mailer):
    password, _, _ = await verified_person(service, mailer, "ida@example.org")
    for n in range(20):  # one client trying many addresses, each below its own limit
        with refused("BAD_CREDENTIALS"):
            await service.login(f"guess{n % 4}@example.org", "not-the-password", client="203.0.113.9")
    with refused("RATE_LIMITED"):
        await service.login("ida@example.org", password, client="203.0.113.9")
    await service.login("ida@example.org", password, client="198.51.100.1")


async def test_old_password_hashes_are_upgraded_at_login(service, mailer, account_dir):
    password, _, who = await verified_person(service, mailer, "jack@example.org")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(password)
    with sqlite3.connect(account_dir / "accounts.sqlite3") as db:
        db.execute("UPDATE accounts SET password_hash = ? WHERE account_id = ?", (weak, who.account_id))
    await service.login("jack@example.org", password)
    with sqlite3.connect(account_dir / "accounts.sqlite3") as db:
        (stored,) = db.execute("SELECT password_hash FROM accounts WHERE account_id = ?", (who.account_id,)).fetchone()
    assert stored.startswith("$argon2id$") and "m=65536,t=3,p=4" in stored and stored != weak
    await service.login("jack@example.org", password)


async def test_a_disabled_account_stops_at_once(service, mailer, admin):
    password, pair, who = await verified_person(service, mailer, "kim@example.org")
    _, key = await service.create_api_key(who, "kim's script")
    owner_only = await service.login("kim@example.org", password)
    with refused("FORBIDDEN"):
        await service.disable_account(service.authenticate_bearer(owner_only.access_token), who.account_id)
    await service.disable_account(admin, who.account_id)
    with refused("ACCOUNT_DISABLED"):
        service.authenticate_bearer(pair.access_token)
    with refused("ACCOUNT_DISABLED"):
        await service.authenticate_api_key(key)
    with refused("ACCOUNT_DISABLED"):
        await service.login("kim@example.org", password)
    with refused("TOKEN_REVOKED"):
        await service.refresh(pair.refresh_token)
    await service.disable_account(admin, who.account_id, disabled=False)
    await service.authenticate_api_key(key)
    service.authenticate_bearer((await service.login("kim@example.org", password)).access_token)


async def test_admin_creates_accounts_others_cannot(service, mailer, admin):
    _, _, owner = await verified_person(service, mailer, "leo@example.org")
    with refused("FORBIDDEN"):
        await service.create_account(owner, "mia@example.org", new_password(), "utility", "Org2MSP")
    with refused("INVALID_ARGUMENT"):
        await service.create_account(admin, "mia@example.org", new_password(), "superuser", "Org2MSP")
    with refused("INVALID_ARGUMENT"):
        await service.create_account(admin, "mia@example.org", new_password(), "utility", "Org9MSP")
    password = new_password()
    mia = await service.create_account(admin, "mia@example.org", password, "utility", "Org2MSP")
    assert (mia.role, mia.org, mia.verified, mia.ledger_account) == \
        ("utility", "Org2MSP", True, f"Org2MSP:{mia.account_id}")
    who = service.authenticate_bearer((await service.login("mia@example.org", password)).access_token)
    assert (who.role, who.org) == ("utility", "Org2MSP")
    assert service.get_account(mia.account_id) == mia
    assert service.find_by_ledger_account(mia.ledger_account) == mia
    assert service.find_by_ledger_account(f"Org1MSP:{mia.account_id}") is None
    assert service.find_by_ledger_account("Org2MSP:acc_missing") is None
    with refused("NOT_FOUND"):
        service.get_account("acc_missing")


async def test_bootstrap_admin_is_idempotent(service):
    password = new_password()
    first = service.bootstrap_admin("root@vpp.test", password)
    assert (first.role, first.org, first.verified) == ("admin", "Org1MSP", True)
    assert service.bootstrap_admin("ROOT@vpp.test", new_password()) == first
    await service.login("root@vpp.test", password)  # the second call did not change the password
    await service.register("owner@vpp.test", new_password())
    with refused("EMAIL_TAKEN"):
        service.bootstrap_admin("owner@vpp.test", new_password())


def test_every_code_has_one_status():
    assert {STATUS[c] for c in ("EMAIL_TAKEN", "WEAK_PASSWORD", "INVALID_EMAIL", "BAD_CREDENTIALS",
                                "EMAIL_NOT_VERIFIED", "TOKEN_INVALID", "TOKEN_EXPIRED", "TOKEN_REVOKED",
                                "API_KEY_INVALID", "API_KEY_REVOKED", "FORBIDDEN", "NOT_FOUND", "RATE_LIMITED")} \
        == {401, 403, 404, 409, 422, 429}
    error = AuthError("RATE_LIMITED", "slow down", retry_after=3)
    assert (error.code, error.status, error.message, error.retry_after, str(error)) == \
        ("RATE_LIMITED", 429, "slow down", 3, "RATE_LIMITED: slow down")
    with pytest.raises(ValueError):
        AuthError("NO_SUCH_CODE", "x")
