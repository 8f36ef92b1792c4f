"""No secret reaches the log: a full flow (with refusals) under DEBUG logging, searched for every secret it made."""

from __future__ import annotations

import base64
import logging

from accounts_support import link_token, new_password, refused
from cryptography.hazmat.primitives import serialization

MAIL_LOGGER = "vpp_gateway.accounts.mail"


def spellings(secret: bytes) -> list[str]:
    return [secret.hex(), repr(secret), base64.b64encode(secret).decode(), base64.urlsafe_b64encode(secret).decode()]


async def test_a_full_flow_logs_no_secret(service, mailer, account_dir, caplog):
    caplog.set_level(logging.DEBUG)
    password = new_password()
    info = await service.register("logs@example.org", password)
    verification = link_token(mailer.outbox[-1].body)
    await service.verify_email(verification)
    with refused("BAD_CREDENTIALS"):
        await service.login("logs@example.org", password + "x")
    first = await service.login("logs@example.org", password)
    who = service.authenticate_bearer(first.access_token)
    second = await service.refresh(first.refresh_token)
    with refused("TOKEN_REVOKED"):
        await service.refresh(first.refresh_token)
    third = await service.login("logs@example.org", password)
    key_info, key = await service.create_api_key(service.authenticate_bearer(third.access_token), "script")
    await service.authenticate_api_key(key)
    await service.revoke_api_key(who, key_info.key_id)
    with refused("API_KEY_REVOKED"):
        await service.authenticate_api_key(key)
    await service.logout(third.refresh_token)
    admin_password = new_password()
    service.bootstrap_admin("root@example.org", admin_password)

    private = who.identity.private_key
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    secrets = {
        "password": [password, admin_password],
        "access tokens": [first.access_token, second.access_token, third.access_token],
        "refresh tokens": [first.refresh_token, second.refresh_token, third.refresh_token],
        "API key": [key, key.rsplit("_", 1)[0][-8:] + "_" + key[-43:]],
        "master key": spellings((account_dir / "master.key").read_bytes()),
        "JWT secret": spellings((account_dir / "jwt.key").read_bytes()),
        "private key": [*spellings(der), pem.splitlines()[1], hex(private.private_numbers().private_value)],
    }
    everything = caplog.text
    assert info.account_id in everything  # the log is captured at all
    for what, values in secrets.items():
        for value in values:
            assert value not in everything, f"{what} appears in the log"

    # the development mailer logs the message it "sends", link included, on purpose and on its own logger only
    carrying = [r.name for r in caplog.records if verification in r.getMessage()]
    assert carrying == [MAIL_LOGGER]

    for value in (repr(first), repr(who), repr(service), repr(key_info)):
        assert first.access_token not in value and first.refresh_token not in value and key[-43:] not in value
