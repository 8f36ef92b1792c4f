"""Each account and API key acts with its own X.509 identity: the contract reads the account and role from it,
its key is sealed at rest under the master key, and without that key the store refuses to open."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from types import SimpleNamespace

import pytest
from accounts_support import new_password, refused, verified_person
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fabric_ccaas.identity import ClientIdentity
from vpp_contract.contract import chaincode as vpp
from vpp_contract.txn import Caller, caller_of
from vpp_gateway.accounts import AccountService, AccountStoreError
from vpp_gateway.embedded import EmbeddedLedger
from vpp_gateway.ledger_client import ContractError, EmbeddedLedgerClient


def as_the_contract_sees(identity) -> Caller:
    """The caller exactly as the chaincode derives it from a proposal's creator."""
    return caller_of(SimpleNamespace(client_identity=ClientIdentity(identity.creator)))


def ca_certificate(account_dir, msp_id) -> x509.Certificate:
    return x509.load_pem_x509_certificate((account_dir / "ca" / msp_id / "ca-cert.pem").read_bytes())


async def test_the_contract_reads_account_and_role_from_the_certificate(service, mailer, admin, account_dir):
    _, _, owner = await verified_person(service, mailer, "tara@example.org")
    utility = await service.create_account(admin, "grid@utility.test", new_password(), "utility", "Org2MSP")
    utility_identity = service.console_principal("grid@utility.test").identity
    key_info, key = await service.create_api_key(owner, "tara's inverter script")
    keyed = await service.authenticate_api_key(key)

    assert as_the_contract_sees(owner.identity) == Caller(owner.ledger_account, "owner")
    assert as_the_contract_sees(utility_identity) == Caller(utility.ledger_account, "utility")
    assert as_the_contract_sees(admin.identity) == Caller(admin.ledger_account, "admin")
    # an owner's own key acts as the owner (so an owner's script reads the owner's sites)
    assert as_the_contract_sees(keyed.identity) == Caller(owner.ledger_account, "owner")
    assert keyed.ledger_account == owner.ledger_account and keyed.api_key_id == key_info.key_id
    assert as_the_contract_sees(service.operator_identity()) == Caller("Org1MSP:gateway-operator", "admin")
    # a key an admin makes for another role and organisation is a service account of its own
    service_info, service_key = await service.create_api_key(admin, "utility integration", "utility", "Org2MSP")
    service_keyed = await service.authenticate_api_key(service_key)
    assert as_the_contract_sees(service_keyed.identity) == Caller(f"Org2MSP:{service_info.key_id}", "utility")
    client = ClientIdentity(service_keyed.identity.creator)
    assert client.msp_id == "Org2MSP" and client.get_attribute_value("vpp.owner") == admin.ledger_account
    assert ClientIdentity(utility_identity.creator).msp_id == "Org2MSP"
    # each certificate chains to its organisation's CA
    owner.identity.certificate.verify_directly_issued_by(ca_certificate(account_dir, "Org1MSP"))
    utility_identity.certificate.verify_directly_issued_by(ca_certificate(account_dir, "Org2MSP"))
    with pytest.raises(ValueError):
        utility_identity.certificate.verify_directly_issued_by(ca_certificate(account_dir, "Org1MSP"))


async def test_identities_act_on_the_embedded_ledger(service, mailer, tmp_path):
    _, _, uma = await verified_person(service, mailer, "uma@example.org")
    _, _, vic = await verified_person(service, mailer, "vic@example.org")
    ledger = EmbeddedLedger.open(tmp_path / "vpp.db", block_size=10, block_timeout=0.02)
    ledger.install("vpp", vpp)
    client = EmbeddedLedgerClient(ledger, "vpp", owns_ledger=True)
    try:
        await client.submit("RegisterSite", ["s1", uma.ledger_account, "Utrecht"], service.operator_identity())
        sites = json.loads(await client.evaluate("GetSites", [uma.ledger_account], uma.identity))
        assert [s["site_id"] for s in sites] == ["s1"]
        with pytest.raises(ContractError) as caught:  # vic's certificate makes vic "Org1MSP:acc_..." - not uma
            await client.evaluate("GetBalance", [uma.ledger_account], vic.identity)
        assert caught.value.code == "FORBIDDEN"
        with pytest.raises(ContractError) as caught:  # an owner's identity is not the operator's
            await client.submit("RegisterSite", ["s2", uma.ledger_account, "Utrecht"], uma.identity)
        assert caught.value.code == "FORBIDDEN"
    finally:
        await client.close()


async def test_private_keys_are_sealed_and_reopen(service, mailer, account_dir, clock):
    _, pair, who = await verified_person(service, mailer, "wim@example.org")
    original = who.identity.private_key.private_numbers()
    key_file = account_dir / "keystore" / f"{who.account_id}.key"
    sealed = key_file.read_bytes()
    der = who.identity.private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption())
    assert b"PRIVATE KEY" not in sealed and b"-----BEGIN" not in sealed
    assert der not in sealed and original.private_value.to_bytes(32, "big") not in sealed
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(sealed, password=None)
    with pytest.raises(ValueError):
        serialization.load_der_private_key(sealed, password=None)
    db_bytes = (account_dir / "accounts.sqlite3").read_bytes()
    assert der not in db_bytes and b"PRIVATE KEY" not in db_bytes

    service.close()
    reopened = AccountService.open(account_dir, mailer=mailer, clock=clock)
    try:
        again = reopened.authenticate_bearer(pair.access_token)  # same JWT secret, key decrypted lazily
        assert again.identity.private_key.private_numbers() == original
        assert again.identity.certificate_pem == who.identity.certificate_pem
        assert as_the_contract_sees(again.identity) == Caller(who.ledger_account, "owner")
    finally:
        reopened.close()


async def test_the_store_is_unreadable_without_its_master_key(service, mailer, account_dir, clock):
    _, pair, _ = await verified_person(service, mailer, "xena@example.org")
    service.close()
    master = account_dir / "master.key"
    original = master.read_bytes()

    master.unlink()
    with pytest.raises(AccountStoreError) as missing:
        AccountService.open(account_dir, mailer=mailer, clock=clock)
    assert (missing.value.code, missing.value.status) == ("KEY_STORE_UNREADABLE", 503)
    assert "master.key is missing" in missing.value.message
    assert not master.exists()  # no new key was made that would orphan the sealed ones

    master.write_bytes(os.urandom(32))
    with pytest.raises(AccountStoreError, match="not the key this store was sealed with"):
        AccountService.open(account_dir, mailer=mailer, clock=clock)
    master.write_bytes(original[:16])
    with pytest.raises(AccountStoreError, match="damaged"):
        AccountService.open(account_dir, mailer=mailer, clock=clock)

    master.write_bytes(original)
    restored = AccountService.open(account_dir, mailer=mailer, clock=clock)
    try:
        assert restored.authenticate_bearer(pair.access_token).email == "xena@example.org"
    finally:
        restored.close()


async def test_a_key_file_moved_to_another_identity_does_not_open(service, mailer, account_dir, clock):
    _, _, yara = await verified_person(service, mailer, "yara@example.org")
    _, zed_pair, zed = await verified_person(service, mailer, "zed@example.org")
    service.close()
    keystore = account_dir / "keystore"
    (keystore / f"{zed.account_id}.key").write_bytes((keystore / f"{yara.account_id}.key").read_bytes())
    reopened = AccountService.open(account_dir, mailer=mailer, clock=clock)
    try:
        with refused("KEY_STORE_UNREADABLE"):
            reopened.authenticate_bearer(zed_pair.access_token)
    finally:
        reopened.close()


async def test_secret_files_are_private(service, mailer, account_dir):
    _, _, who = await verified_person(service, mailer, "anna@example.org")
    await service.create_api_key(who, "k")
    files = {p.relative_to(account_dir).as_posix(): stat.S_IMODE(p.stat().st_mode)
             for p in account_dir.rglob("*") if p.is_file()}
    assert {"master.key", "jwt.key", "accounts.sqlite3", "accounts.sqlite3-wal", "ca/Org1MSP/ca-key.pem",
            "ca/Org2MSP/ca-key.pem", f"keystore/{who.account_id}.key", "keystore/gateway-operator.key"} <= set(files)
    public = {name for name, mode in files.items() if mode != 0o600}
    assert public == {"ca/Org1MSP/ca-cert.pem", "ca/Org1MSP/ca.json", "ca/Org2MSP/ca-cert.pem",
                      "ca/Org2MSP/ca.json"}
    assert stat.S_IMODE(account_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((account_dir / "keystore").stat().st_mode) == 0o700


def test_schema_is_versioned_and_in_wal_mode(service, account_dir, mailer, clock):
    with sqlite3.connect(account_dir / "accounts.sqlite3") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    service.close()
    with sqlite3.connect(account_dir / "accounts.sqlite3") as db:
        db.execute("PRAGMA user_version=99")
    with refused("STORE_VERSION_UNSUPPORTED"):
        AccountService.open(account_dir, mailer=mailer, clock=clock)
