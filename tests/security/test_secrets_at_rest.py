"""Secrets at rest and in logs, after a full flow through the real gateway process (tests/security/stack.py).

- The key store: every sealed key file is ciphertext (the documented ``VPPKEY1`` layout, no PEM marker, no PKCS#8
  structure); it opens with the master key (control) and not with any other; the CA keys are encrypted PEM that
  opens only with the passphrase the master key derives; the account store does not open without its master key.
- No file of the gateway's data directory and no line of its log (DEBUG level) holds a password, an access or
  refresh token, an API key, a verification token, the master or JWT key, or an unencrypted private key.
"""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path

import pytest
import requests
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from vpp_gateway.accounts import AccountService, LogMailer
from vpp_gateway.accounts.errors import AccountStoreError

from tests.postman.live_gateway import aligned_past, generation
from tests.security.stack import Stack

MAGIC = b"VPPKEY1\n"   # keystore.py's documented layout: magic, 12-byte nonce, AES-256-GCM(PKCS#8 DER)
PKCS8_EC_PREFIX = bytes.fromhex("020100301306072a8648ce3d020106082a8648ce3d030107")  # version 0, id-ecPublicKey P-256
PLAIN_KEY_MARKERS = (b"BEGIN PRIVATE KEY", b"BEGIN EC PRIVATE KEY", b"BEGIN RSA PRIVATE KEY",
                     b"BEGIN OPENSSH PRIVATE KEY", PKCS8_EC_PREFIX)


def hkdf(master: bytes, label: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label.encode()).derive(master)


def open_sealed(master: bytes, sealed: bytes, msp_id: str, enrollment_id: str) -> bytes:
    body = sealed[len(MAGIC):]
    return AESGCM(hkdf(master, "vpp-accounts key wrap")).decrypt(body[:12], body[12:],
                                                                 f"{msp_id}:{enrollment_id}".encode())


def spellings(secret: bytes) -> list[str]:
    return [secret.hex(), base64.b64encode(secret).decode(), base64.urlsafe_b64encode(secret).decode().rstrip("=")]


def test_sealed_keys_are_ciphertext_and_open_only_with_the_master_key(stack: Stack):
    accounts = stack.data_dir / "accounts"
    master = (accounts / "master.key").read_bytes()
    sealed_files = sorted((accounts / "keystore").glob("*.key"))
    assert len(sealed_files) >= 5, sealed_files  # operator, admin, utility, alice, bob at least
    wrong = bytes(b ^ 0x5A for b in master)
    for path in sealed_files:
        sealed = path.read_bytes()
        assert sealed.startswith(MAGIC) and not any(m in sealed for m in PLAIN_KEY_MARKERS), path.name
        opened = None
        for msp in ("Org1MSP", "Org2MSP"):
            try:
                opened = open_sealed(master, sealed, msp, path.stem)
                break
            except InvalidTag:
                continue
        assert opened is not None, f"{path.name} does not open with the master key"
        key = serialization.load_der_private_key(opened, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        for msp in ("Org1MSP", "Org2MSP"):
            with pytest.raises(InvalidTag):
                open_sealed(wrong, sealed, msp, path.stem)


def test_ca_keys_are_encrypted_with_the_derived_passphrase(stack: Stack):
    accounts = stack.data_dir / "accounts"
    master = (accounts / "master.key").read_bytes()
    ca_keys = sorted(accounts.glob("ca/*/ca-key.pem"))
    assert {p.parent.name for p in ca_keys} == {"Org1MSP", "Org2MSP"}, ca_keys
    for path in ca_keys:
        pem = path.read_bytes()
        assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----"), pem[:40]
        with pytest.raises(TypeError):  # no passphrase
            serialization.load_pem_private_key(pem, password=None)
        with pytest.raises(ValueError):
            serialization.load_pem_private_key(pem, password=b"not the passphrase")
        passphrase = hkdf(master, f"vpp-accounts ca passphrase {path.parent.name}").hex().encode()
        assert isinstance(serialization.load_pem_private_key(pem, password=passphrase), ec.EllipticCurvePrivateKey)


def test_the_account_store_does_not_open_without_its_master_key(stack: Stack, tmp_path: Path):
    for variant in ("right", "other", "missing"):
        copy = tmp_path / variant
        shutil.copytree(stack.data_dir / "accounts", copy)
        if variant == "other":
            (copy / "master.key").write_bytes(bytes(32))
        elif variant == "missing":
            (copy / "master.key").unlink()
        if variant == "right":
            AccountService.open(copy, mailer=LogMailer()).close()  # the copy itself is sound
            continue
        with pytest.raises(AccountStoreError) as refused:
            AccountService.open(copy, mailer=LogMailer())
        assert refused.value.code == "KEY_STORE_UNREADABLE"


def all_secrets(stack: Stack) -> list[tuple[str, str]]:
    accounts = stack.data_dir / "accounts"
    found = list(stack.secrets)
    for what, value in stack.secrets:
        if what == "API key":  # vpp_<key id>_<secret>; the secret itself may contain "_"
            found.append(("API key secret part", value.split("_", 2)[2]))
    for name in ("master.key", "jwt.key"):
        found += [(name, s) for s in spellings((accounts / name).read_bytes())]
    return found


def full_flow(stack: Stack) -> None:
    """What the log must survive: a failed login, refresh and its reuse, the event stream by query parameter,
    API keys used and revoked, readings, a logout."""
    bob = stack.people["bob"]
    assert stack.call("POST", "/auth/login", json_body={"email": bob.email, "password": bob.password + "x"}
                      ).status_code == 401
    pair = stack.ok("POST", "/auth/login", json_body={"email": bob.email, "password": bob.password})
    stack.keep_secret("access token", pair["access_token"])
    stack.keep_secret("refresh token", pair["refresh_token"])
    renewed = stack.ok("POST", "/auth/refresh", json_body={"refresh_token": pair["refresh_token"]})
    stack.keep_secret("access token", renewed["access_token"])
    stack.keep_secret("refresh token", renewed["refresh_token"])
    assert stack.call("POST", "/auth/refresh", json_body={"refresh_token": pair["refresh_token"]}).status_code == 401
    with requests.get(stack.api + "/events/stream", params={"access_token": bob.access_token, "from_block": 0},
                      stream=True, timeout=10) as response:
        assert response.status_code == 200
        next(response.iter_lines())
    created = stack.ok("POST", "/api-keys", 201, who="bob", json_body={"name": "log test"})
    key = stack.keep_secret("API key", created["key"])
    assert stack.call("GET", "/me", api_key=key).status_code == 200
    stack.ok("DELETE", f"/api-keys/{created['api_key']['key_id']}", who="bob")
    assert stack.call("GET", "/me", api_key=key).status_code == 401
    assert stack.call("GET", "/me", api_key=key[:-3] + "abc").status_code == 401
    meter = stack.ids["bob"]["meter_id"]
    stack.ok("POST", "/readings/batches", api_key=stack.bridge_key,
             json_body={"readings": [generation(meter, stack.meter_keys[meter], aligned_past(30), 10)]})
    stack.ok("POST", "/auth/logout", 204, json_body={"refresh_token": renewed["refresh_token"]})


def test_no_secret_in_the_gateway_log(stack: Stack):
    full_flow(stack)
    log = stack.log_text()
    assert "POST /api/v1/auth/login" in log and "DEBUG" in log, "the log is captured at DEBUG level"
    assert "events/stream?" in log and "access_token=[redacted]" in log  # the EventSource form was used and logged
    leaks = sorted({what for what, value in all_secrets(stack) if value in log})
    assert not leaks, f"in the gateway log: {leaks}"
    assert not [m for m in PLAIN_KEY_MARKERS[:4] if m.decode() in log]
    assert not re.search(r"access_token=(?!\[redacted\])[A-Za-z0-9_.-]{20,}", log)


def test_no_secret_in_the_gateway_data_directory(stack: Stack):
    full_flow(stack)
    secrets = [(what, value.encode()) for what, value in all_secrets(stack)
               if what not in ("master.key", "jwt.key")]  # those two files hold themselves, by design
    files = [p for p in stack.data_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" or "ledger" in p.name for p in files), files  # the ledger is there too
    for path in files:
        data = path.read_bytes()
        leaked = sorted({what for what, value in secrets if value in data})
        assert not leaked, f"{path.relative_to(stack.data_dir)} holds {leaked}"
        if path.parent.name != "keystore":
            assert not any(m in data for m in PLAIN_KEY_MARKERS), f"{path} holds an unencrypted private key"
