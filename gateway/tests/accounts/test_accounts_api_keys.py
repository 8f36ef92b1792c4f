"""API keys for integrators: created for one's own role (admins: any), shown once, stored hashed, refused the
moment they are revoked."""

from __future__ import annotations

import re
import time

from accounts_support import refused, verified_person
from vpp_gateway.accounts import ApiKeyInfo

KEY_FORMAT = re.compile(r"vpp_(ak[0-9a-f]{16})_([A-Za-z0-9_-]{43})")


async def test_create_list_revoke(service, mailer, admin, account_dir):
    _, _, olga = await verified_person(service, mailer, "olga@example.org")
    _, _, paul = await verified_person(service, mailer, "paul@example.org")

    info, key = await service.create_api_key(olga, "  home battery script ")
    match = KEY_FORMAT.fullmatch(key)
    assert match and match.group(1) == info.key_id
    assert isinstance(info, ApiKeyInfo) and (info.name, info.role, info.org, info.revoked_at) == \
        ("home battery script", "owner", "Org1MSP", None)
    assert info.last4 == key[-4:]
    assert match.group(2).encode() not in (account_dir / "accounts.sqlite3").read_bytes()  # only its hash

    who = await service.authenticate_api_key(key)
    assert (who.account_id, who.ledger_account, who.email, who.org, who.role, who.via, who.api_key_id) == \
        (olga.account_id, olga.ledger_account, None, "Org1MSP", "owner", "api_key", info.key_id)
    assert who.identity.enrollment_id == olga.account_id  # an owner's own key acts as the owner on the ledger

    second, _ = await service.create_api_key(olga, "meter bridge")
    assert [k.key_id for k in service.list_api_keys(olga)] == [info.key_id, second.key_id]
    assert service.list_api_keys(paul) == []
    assert {info.key_id, second.key_id} <= {k.key_id for k in service.list_api_keys(admin)}

    with refused("NOT_FOUND"):  # someone else's key does not exist for paul
        await service.revoke_api_key(paul, info.key_id)
    await service.authenticate_api_key(key)
    revoked = await service.revoke_api_key(olga, info.key_id)
    assert revoked.revoked_at is not None and revoked.key_id == info.key_id
    with refused("API_KEY_REVOKED"):
        await service.authenticate_api_key(key)
    assert [k.revoked_at is not None for k in service.list_api_keys(olga)] == [True, False]
    with refused("NOT_FOUND"):
        await service.revoke_api_key(olga, "ak0000000000000000")


async def test_malformed_and_wrong_keys(service, mailer):
    _, _, quinn = await verified_person(service, mailer, "quinn@example.org")
    _, key = await service.create_api_key(quinn, "k")
    key_id, secret = KEY_FORMAT.fullmatch(key).groups()
    wrong_secret = f"vpp_{key_id}_{'A' * 43}"
    unknown_id = f"vpp_ak{'0' * 16}_{secret}"
    for bad in (wrong_secret, unknown_id, key[:-1], key + "x", key.replace("vpp_", "xyz_"), "", None, 7,
                f"vpp_{key_id}"):
        with refused("API_KEY_INVALID"):
            await service.authenticate_api_key(bad)
    assert (await service.authenticate_api_key(key)).api_key_id == key_id


async def test_no_more_than_ones_own_role(service, mailer, admin):
    _, _, rosa = await verified_person(service, mailer, "rosa@example.org")
    with refused("FORBIDDEN"):
        await service.create_api_key(rosa, "escalate", role="admin")
    with refused("FORBIDDEN"):
        await service.create_api_key(rosa, "other org", org="Org2MSP")
    with refused("INVALID_ARGUMENT"):
        await service.create_api_key(rosa, "bad role", role="root")
    with refused("INVALID_ARGUMENT"):
        await service.create_api_key(rosa, "")
    assert service.list_api_keys(rosa) == []

    info, key = await service.create_api_key(admin, "utility integration", role="utility", org="Org2MSP")
    who = await service.authenticate_api_key(key)
    assert (who.role, who.org, who.ledger_account) == ("utility", "Org2MSP", f"Org2MSP:{info.key_id}")
    with refused("FORBIDDEN"):  # a key cannot mint keys, even an admin's
        _, admin_key = await service.create_api_key(admin, "ops", role="admin")
        await service.create_api_key(await service.authenticate_api_key(admin_key), "more")
    # the admin revokes anybody's key
    _, rosa_key = await service.create_api_key(rosa, "script")
    await service.revoke_api_key(admin, KEY_FORMAT.fullmatch(rosa_key).group(1))
    with refused("API_KEY_REVOKED"):
        await service.authenticate_api_key(rosa_key)


async def test_key_authentication_is_fast(service, mailer):
    _, _, sam = await verified_person(service, mailer, "sam@example.org")
    _, key = await service.create_api_key(sam, "k")
    await service.authenticate_api_key(key)
    started = time.perf_counter()
    for _ in range(500):
        await service.authenticate_api_key(key)
    per_call = (time.perf_counter() - started) / 500
    assert per_call < 0.002, f"{per_call * 1e3:.3f} ms per API-key check"  # argon2 would be ~150 ms
