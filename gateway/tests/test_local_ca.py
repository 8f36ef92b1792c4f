"""The local CA: Fabric-CA-shaped certificates the chaincode reads, keys protected at rest."""

from __future__ import annotations

import datetime as dt
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_ccaas.identity import ClientIdentity
from fabric_protos.msp import identities_pb2
from vpp_gateway.fabric import SigningIdentity, load_msp
from vpp_gateway.identity import IssuedIdentity, LocalCA
from vpp_gateway.identity.ca import KEY_FILE

PASS = b"correct horse battery staple"


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> LocalCA:
    return LocalCA.create(tmp_path_factory.mktemp("ca") / "org1", "Org1MSP", "org1.example.com", PASS)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_ca_certificate(ca: LocalCA):
    cert = ca.certificate
    assert cert.subject == cert.issuer
    cert.verify_directly_issued_by(cert)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey) and cert.public_key().curve.name == "secp256r1"
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=3649) < lifetime <= dt.timedelta(days=3651)


def test_issued_certificate_chains_to_the_ca(ca: LocalCA):
    alice = ca.issue("alice", "owner")
    cert = alice.certificate
    cert.verify_directly_issued_by(ca.certificate)  # issuer name and signature
    assert cert.issuer == ca.certificate.subject
    assert cert.subject.rfc4514_string() == "CN=alice,OU=client"
    ca_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    assert aki == ca_ski
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(cert.public_key())
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert alice.private_key.public_key().public_numbers() == cert.public_key().public_numbers()


def test_chaincode_reads_role_and_enrollment(ca: LocalCA):
    op = ca.issue("operator", "admin", {"site": "s1"})
    serialized = identities_pb2.SerializedIdentity.FromString(op.creator)
    assert serialized.mspid == "Org1MSP" and serialized.id_bytes == op.certificate_pem
    client = ClientIdentity(op.creator)
    assert client.msp_id == "Org1MSP"
    assert client.get_attribute_value("role") == "admin"
    assert client.get_attribute_value("hf.EnrollmentID") == "operator"
    assert client.attributes == {"hf.EnrollmentID": "operator", "hf.Type": "client", "hf.Affiliation": "",
                                 "role": "admin", "site": "s1"}
    assert client.id == "x509::CN=operator,OU=client::CN=ca.org1.example.com,O=org1.example.com"
    assert op.role == "admin" and op.enrollment_id == "operator"


def test_not_before_never_before_the_ca(ca: LocalCA):
    ca_nb = ca.certificate.not_valid_before_utc
    # issued right after the CA was made: backdating would cross the CA's NotBefore
    fresh = ca.issue("bob", "owner", now=ca_nb + dt.timedelta(seconds=1))
    assert fresh.certificate.not_valid_before_utc == ca_nb
    later = ca.issue("carol", "owner", now=ca_nb + dt.timedelta(days=2))
    assert later.certificate.not_valid_before_utc == ca_nb + dt.timedelta(days=2) - dt.timedelta(minutes=5)
    now = ca.issue("dave", "owner")
    assert ca_nb <= now.certificate.not_valid_before_utc <= dt.datetime.now(dt.UTC)
    assert now.certificate.not_valid_after_utc <= ca.certificate.not_valid_after_utc
    near_end = ca.issue("erin", "owner", now=ca.certificate.not_valid_after_utc - dt.timedelta(days=1))
    assert near_end.certificate.not_valid_after_utc == ca.certificate.not_valid_after_utc


def test_ca_key_encrypted_at_rest(ca: LocalCA):
    key_path = ca.directory / KEY_FILE
    assert mode(key_path) == 0o600
    pem = key_path.read_bytes()
    assert b"ENCRYPTED" in pem
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(pem, password=None)
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(pem, password=b"wrong")
    serialization.load_pem_private_key(pem, password=PASS)
    with pytest.raises(ValueError, match="cannot open the CA key"):
        LocalCA.load(ca.directory)
    with pytest.raises(ValueError, match="wrong passphrase"):
        LocalCA.load(ca.directory, b"wrong")
    loaded = LocalCA.load(ca.directory, PASS.decode())
    assert loaded.msp_id == "Org1MSP" and loaded.organization == "org1.example.com"
    assert loaded.certificate == ca.certificate
    loaded.issue("frank", "auditor").certificate.verify_directly_issued_by(ca.certificate)


def test_passphrase_required_unless_insecure(tmp_path):
    with pytest.raises(ValueError, match="passphrase is required"):
        LocalCA.create(tmp_path / "a", "Org1MSP", "org1.example.com")
    with pytest.raises(ValueError, match="must not be empty"):
        LocalCA.create(tmp_path / "a", "Org1MSP", "org1.example.com", b"")
    plain = LocalCA.create(tmp_path / "b", "Org1MSP", "org1.example.com", insecure=True)
    assert b"ENCRYPTED" not in (plain.directory / KEY_FILE).read_bytes()
    assert mode(plain.directory / KEY_FILE) == 0o600
    assert LocalCA.load(plain.directory).certificate == plain.certificate
    with pytest.raises(FileExistsError):
        LocalCA.create(tmp_path / "b", "Org1MSP", "org1.example.com", PASS)


def test_msp_folder_and_signing_identity(ca: LocalCA, tmp_path):
    gina = ca.issue("gina", "utility")
    root = gina.to_msp_folder(tmp_path / "msp")
    keys = list((root / "keystore").iterdir())
    assert len(keys) == 1 and keys[0].name.endswith("_sk") and mode(keys[0]) == 0o600
    assert (root / "signcerts" / "cert.pem").read_bytes() == gina.certificate_pem
    assert (root / "cacerts" / "ca-cert.pem").read_bytes() == ca.certificate_pem
    loaded = load_msp(root, "Org1MSP")
    assert loaded.creator == gina.creator

    enc = gina.to_msp_folder(tmp_path / "msp-enc", passphrase=b"k")
    assert load_msp(enc, "Org1MSP", password=b"k").creator == gina.creator

    signing = gina.signing_identity()
    assert isinstance(signing, SigningIdentity) and signing.creator == gina.creator
    signature = signing.sign_message(b"hello")
    from cryptography.hazmat.primitives import hashes
    gina.certificate.public_key().verify(signature, b"hello", ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize(("enrollment_id", "role", "attributes", "message"), [
    ("", "owner", None, "non-empty"),
    ("al\nice", "owner", None, "printable"),
    (" alice", "owner", None, "printable"),
    ("a" * 65, "owner", None, "at most"),
    (None, "owner", None, "non-empty"),
    ("alice", "root", None, "role must be one of"),
    ("alice", "", None, "role must be one of"),
    ("alice", "owner", {"role": "admin"}, "set by the CA"),
    ("alice", "owner", {"hf.EnrollmentID": "bob"}, "set by the CA"),
    ("alice", "owner", {"x": 1}, "printable string value"),
])
def test_bad_inputs_rejected(ca: LocalCA, enrollment_id, role, attributes, message):
    with pytest.raises(ValueError, match=message):
        ca.issue(enrollment_id, role, attributes)


def test_bad_validity_and_names_rejected(ca: LocalCA, tmp_path):
    with pytest.raises(ValueError, match="valid_days"):
        ca.issue("alice", "owner", valid_days=0)
    with pytest.raises(ValueError, match="organizational_unit"):
        ca.issue("alice", "owner", organizational_unit="")
    with pytest.raises(ValueError, match="msp_id"):
        LocalCA.create(tmp_path / "c", "", "org1.example.com", PASS)


def test_issued_identity_is_plain_data(ca: LocalCA):
    ident = ca.issue("hank", "owner")
    assert isinstance(ident, IssuedIdentity)
    assert "private_key" not in repr(ident)
    assert ident.private_key_pem(b"x").startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
