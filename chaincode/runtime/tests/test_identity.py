import base64
import datetime
import json

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fabric_ccaas.identity import ATTRIBUTE_EXTENSION_OID, ClientIdentity, distinguished_name
from fabric_protos.msp import identities_pb2


def _certificate(subject, issuer, extensions=()):
    key = ec.generate_private_key(ec.SECP256R1())
    start = datetime.datetime(2026, 1, 1)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
               .serial_number(1).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=9)))
    for ext in extensions:
        builder = builder.add_extension(ext, critical=False)
    return builder.sign(key, hashes.SHA256())


SUBJECT = x509.Name([
    x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
    x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "North Carolina"),
    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Hyperledger"),
    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "client"),
    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "org1+dept"),
    x509.NameAttribute(NameOID.EMAIL_ADDRESS, "a@b.c"),
    x509.NameAttribute(NameOID.COMMON_NAME, ' #alice, "the" <owner>; '),
])
ISSUER = x509.Name([
    x509.NameAttribute(NameOID.COMMON_NAME, "ca.org1"),
    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "org1.example.com"),
    x509.NameAttribute(NameOID.LOCALITY_NAME, "San Francisco"),
])


def test_distinguished_names_match_go_cid():
    # Expected strings printed by fabric-chaincode-go's getDN (Go 1.23 crypto/x509/pkix) for this certificate:
    # Go's field order, multi-valued OU, RFC 2253 escaping, and non-standard attributes (email) dropped.
    cert = _certificate(SUBJECT, ISSUER)
    assert distinguished_name(cert.subject) == (
        'CN=\\ #alice\\, \\"the\\" \\<owner\\>\\;\\ ,OU=client+OU=org1\\+dept,O=Hyperledger,ST=North Carolina,C=US'
    )
    assert distinguished_name(cert.issuer) == "CN=ca.org1,O=org1.example.com,L=San Francisco"


def _creator(cert, msp_id="Org1MSP"):
    pem = cert.public_bytes(serialization.Encoding.PEM)
    return identities_pb2.SerializedIdentity(mspid=msp_id, id_bytes=pem).SerializeToString()


def test_client_identity_fields_and_fabric_ca_attributes():
    attrs = {"attrs": {"role": "owner", "hf.EnrollmentID": "alice", "hf.Type": "client"}}
    ext = x509.UnrecognizedExtension(ATTRIBUTE_EXTENSION_OID, json.dumps(attrs).encode())
    cert = _certificate(SUBJECT, ISSUER, [ext])
    identity = ClientIdentity(_creator(cert, "Org2MSP"))
    assert identity.msp_id == "Org2MSP"
    assert identity.certificate.serial_number == 1
    assert identity.id.startswith("x509::CN=\\ #alice")
    assert identity.id.endswith("::CN=ca.org1,O=org1.example.com,L=San Francisco")
    assert base64.b64decode(identity.id_base64).decode() == identity.id
    assert identity.get_attribute_value("role") == "owner"
    assert identity.has_attribute_value("hf.Type", "client")
    assert not identity.has_attribute_value("role", "admin")
    assert identity.get_attribute_value("missing") is None


def test_identity_without_or_with_garbage_attribute_extension_has_no_attributes():
    plain = ClientIdentity(_creator(_certificate(SUBJECT, ISSUER)))
    assert plain.attributes == {}
    garbage = x509.UnrecognizedExtension(ATTRIBUTE_EXTENSION_OID, b"\xff not json")
    assert ClientIdentity(_creator(_certificate(SUBJECT, ISSUER, [garbage]))).attributes == {}
