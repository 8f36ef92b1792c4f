from __future__ import annotations

import hashlib
import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)
from fabric_protos.msp import identities_pb2
from fake_fabric_gateway import MSP_ID, make_credentials
from vpp_gateway.fabric import EcdsaSigner, X509Identity, load_msp
from vpp_gateway.fabric.identity import CURVE_ORDERS, normalize_low_s

N = CURVE_ORDERS["secp256r1"]


def test_signatures_are_low_s_and_verify(client_credentials):
    signer = EcdsaSigner.from_pem(client_credentials.key_pem)
    public_key = client_credentials.key.public_key()
    raw_high_s = 0
    for _ in range(64):
        digest = hashlib.sha256(os.urandom(32)).digest()
        signature = signer(digest)
        _, s = decode_dss_signature(signature)
        assert s <= N // 2
        public_key.verify(signature, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        # the same key without normalisation gives a high S about half the time
        _, raw_s = decode_dss_signature(client_credentials.key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256()))))
        raw_high_s += raw_s > N // 2
    assert raw_high_s > 0


def test_normalize_low_s_flips_a_high_s_and_keeps_it_valid(client_credentials):
    digest = hashlib.sha256(b"message").digest()
    algorithm = ec.ECDSA(Prehashed(hashes.SHA256()))
    r, s = decode_dss_signature(client_credentials.key.sign(digest, algorithm))
    high = encode_dss_signature(r, s if s > N // 2 else N - s)
    low = encode_dss_signature(r, s if s <= N // 2 else N - s)

    assert normalize_low_s(high, N) == low
    assert normalize_low_s(low, N) == low
    client_credentials.key.public_key().verify(normalize_low_s(high, N), digest, algorithm)


def test_identity_serialises_as_fabric_creator(client_credentials):
    identity = X509Identity(MSP_ID, client_credentials.cert_pem.decode())

    creator = identities_pb2.SerializedIdentity.FromString(identity.creator)

    assert creator.mspid == MSP_ID
    assert creator.id_bytes == client_credentials.cert_pem


def test_identity_rejects_garbage():
    with pytest.raises(ValueError):
        X509Identity(MSP_ID, b"not a certificate")
    with pytest.raises(ValueError):
        X509Identity("", make_credentials("x").cert_pem)


def test_signer_rejects_unsupported_curves():
    key = ec.generate_private_key(ec.SECP256K1())
    with pytest.raises(ValueError, match="unsupported curve"):
        EcdsaSigner(key)


def test_load_msp_cryptogen_layout(tmp_path, client_credentials):
    msp = tmp_path / "users" / "User1@org1.example.com" / "msp"
    (msp / "signcerts").mkdir(parents=True)
    (msp / "keystore").mkdir()
    (msp / "signcerts" / "User1@org1.example.com-cert.pem").write_bytes(client_credentials.cert_pem)
    (msp / "keystore" / "priv_sk").write_bytes(client_credentials.key_pem)

    identity = load_msp(msp, MSP_ID)

    assert identity.msp_id == MSP_ID
    assert identity.identity.certificate_pem == client_credentials.cert_pem
    signature = identity.sign_message(b"hello")
    client_credentials.key.public_key().verify(signature, b"hello", ec.ECDSA(hashes.SHA256()))


def test_load_msp_fabric_ca_layout_picks_the_matching_key(tmp_path, client_credentials):
    msp = tmp_path / "msp"
    (msp / "signcerts").mkdir(parents=True)
    (msp / "keystore").mkdir()
    (msp / "signcerts" / "cert.pem").write_bytes(client_credentials.cert_pem)
    # an older enrolment's key sorts first
    (msp / "keystore" / "0000aaaa_sk").write_bytes(make_credentials("old").key_pem)
    (msp / "keystore" / "ffff1234_sk").write_bytes(client_credentials.key_pem)

    identity = load_msp(msp, MSP_ID)

    signature = identity.sign_message(b"hello")
    client_credentials.key.public_key().verify(signature, b"hello", ec.ECDSA(hashes.SHA256()))


def test_load_msp_reports_missing_or_mismatched_material(tmp_path, client_credentials):
    msp = tmp_path / "msp"
    (msp / "signcerts").mkdir(parents=True)
    (msp / "keystore").mkdir()
    with pytest.raises(FileNotFoundError):
        load_msp(msp, MSP_ID)
    (msp / "signcerts" / "cert.pem").write_bytes(client_credentials.cert_pem)
    with pytest.raises(FileNotFoundError):
        load_msp(msp, MSP_ID)
    (msp / "keystore" / "other_sk").write_bytes(make_credentials("other").key_pem)
    with pytest.raises(ValueError, match="matches"):
        load_msp(msp, MSP_ID)
