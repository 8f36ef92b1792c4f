"""A local certificate authority for embedded mode, shaped like Fabric CA's enroll.

The gateway runs this CA when there is no Fabric CA (DESIGN §7): it issues each person and service an
ECDSA P-256 certificate carrying Fabric CA's attribute extension (OID 1.2.3.4.5.6.7.8.1, JSON
``{"attrs": {...}}``), so the chaincode reads ``role`` and ``hf.EnrollmentID`` exactly as it does with
certificates from a real Fabric CA, and the same identity can sign for real Fabric peers.

::

    ca = LocalCA.create("state/ca", "Org1MSP", "org1.example.com", passphrase=b"...")
    alice = ca.issue("alice", "owner")
    alice.creator                 # msp.SerializedIdentity bytes (embedded ledger)
    alice.signing_identity()      # vpp_gateway.fabric.SigningIdentity (Fabric Gateway)
    alice.to_msp_folder("state/users/alice/msp")

Directory layout: ``ca-cert.pem``, ``ca-key.pem`` (PKCS#8, encrypted with the passphrase, mode 0600) and
``ca.json`` (MSP ID and organisation).

Validity: Fabric's MSP validates a certificate chain *at the certificate's own NotBefore* (+1 s), so a
certificate whose NotBefore precedes its issuer's NotBefore is rejected as "certificate has expired or is not
yet valid". Issued certificates are backdated by at most :data:`BACKDATE` for clock skew, never before the CA's
NotBefore, and never outlive the CA.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier
from fabric_protos.msp import identities_pb2

__all__ = [
    "ATTRIBUTE_EXTENSION_OID",
    "BACKDATE",
    "CA_VALIDITY",
    "ROLES",
    "IssuedIdentity",
    "LocalCA",
]

#: Fabric CA's attribute extension (the chaincode's ``fabric_ccaas.identity`` reads it).
ATTRIBUTE_EXTENSION_OID = ObjectIdentifier("1.2.3.4.5.6.7.8.1")
#: Roles the contract knows (``vpp_contract.txn.ROLES``).
ROLES = ("admin", "owner", "utility", "auditor")
#: How far an issued certificate's NotBefore may lie before "now" (clock skew between hosts).
BACKDATE = dt.timedelta(minutes=5)
CA_VALIDITY = dt.timedelta(days=3650)

CERT_FILE = "ca-cert.pem"
KEY_FILE = "ca-key.pem"
INFO_FILE = "ca.json"

_RESERVED_ATTRIBUTES = frozenset({"hf.EnrollmentID", "hf.Type", "hf.Affiliation", "role"})
_MAX_ID_LENGTH = 64  # X.509 upper bound for a CommonName


# -- files ------------------------------------------------------------------------------------------------------

def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a new or truncated file readable by the owner only (0600, whatever the umask)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_public(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    os.chmod(path, 0o644)


def _passphrase_bytes(passphrase: bytes | str | None) -> bytes | None:
    if passphrase is None:
        return None
    if isinstance(passphrase, str):
        passphrase = passphrase.encode()
    if not passphrase:
        raise ValueError("the passphrase must not be empty")
    return passphrase


def _key_pem(key: ec.EllipticCurvePrivateKey, passphrase: bytes | None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


# -- validation -------------------------------------------------------------------------------------------------

def _check_enrollment_id(enrollment_id: object) -> str:
    if not isinstance(enrollment_id, str) or not enrollment_id:
        raise ValueError("enrollment_id must be a non-empty string")
    if not enrollment_id.isprintable() or enrollment_id != enrollment_id.strip():
        raise ValueError(f"enrollment_id {enrollment_id!r} must be printable, without leading or trailing spaces")
    if len(enrollment_id) > _MAX_ID_LENGTH:
        raise ValueError(f"enrollment_id must be at most {_MAX_ID_LENGTH} characters")
    return enrollment_id


def _check_role(role: object) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role  # type: ignore[return-value]


def _check_name(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or not value.isprintable() or value != value.strip():
        raise ValueError(f"{what} must be a non-empty printable string without leading or trailing spaces")
    if len(value) > _MAX_ID_LENGTH:
        raise ValueError(f"{what} must be at most {_MAX_ID_LENGTH} characters")
    return value


def _check_attributes(attributes: Mapping[str, str] | None) -> dict[str, str]:
    if attributes is None:
        return {}
    if not isinstance(attributes, Mapping):
        raise ValueError("attributes must be a mapping of strings to strings")
    checked: dict[str, str] = {}
    for name, value in attributes.items():
        if not isinstance(name, str) or not name or not name.isprintable():
            raise ValueError(f"attribute name {name!r} must be a non-empty printable string")
        if name in _RESERVED_ATTRIBUTES:
            raise ValueError(f"attribute {name} is set by the CA and cannot be given")
        if not isinstance(value, str) or not value.isprintable():
            raise ValueError(f"attribute {name} must have a printable string value")
        checked[name] = value
    return checked


# -- issued identities ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class IssuedIdentity:
    """An enrolled identity: MSP ID, PEM certificate and its private key (in memory)."""

    msp_id: str
    certificate_pem: bytes
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    ca_certificate_pem: bytes = field(default=b"", repr=False)

    @property
    def creator(self) -> bytes:
        """Fabric's ``msp.SerializedIdentity`` bytes, as in every proposal's signature header."""
        return identities_pb2.SerializedIdentity(mspid=self.msp_id, id_bytes=self.certificate_pem).SerializeToString()

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem)

    @property
    def enrollment_id(self) -> str:
        return str(self.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)

    @property
    def attributes(self) -> dict[str, str]:
        ext = self.certificate.extensions.get_extension_for_oid(ATTRIBUTE_EXTENSION_OID)
        return dict(json.loads(ext.value.value)["attrs"])

    @property
    def role(self) -> str:
        return self.attributes["role"]

    def private_key_pem(self, passphrase: bytes | str | None = None) -> bytes:
        """The private key as PKCS#8 PEM, encrypted when a passphrase is given."""
        return _key_pem(self.private_key, _passphrase_bytes(passphrase))

    def signing_identity(self):  # -> vpp_gateway.fabric.SigningIdentity (import kept lazy: grpc is heavy)
        """This identity for :mod:`vpp_gateway.fabric` (Gateway connections to real Fabric peers)."""
        from ..fabric.identity import EcdsaSigner, SigningIdentity, X509Identity

        return SigningIdentity(X509Identity(self.msp_id, self.certificate_pem), EcdsaSigner(self.private_key))

    def to_msp_folder(self, path: str | Path, passphrase: bytes | str | None = None) -> Path:
        """Write ``signcerts/cert.pem``, ``keystore/<ski>_sk`` (0600) and ``cacerts/ca-cert.pem``, as Fabric
        CA's client does; :func:`vpp_gateway.fabric.load_msp` reads it back (pass the same passphrase)."""
        root = Path(path)
        for sub in ("signcerts", "keystore", "cacerts"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(root / "keystore", 0o700)
        _write_public(root / "signcerts" / "cert.pem", self.certificate_pem)
        ski = x509.SubjectKeyIdentifier.from_public_key(self.private_key.public_key()).digest.hex()
        _write_private(root / "keystore" / f"{ski}_sk", self.private_key_pem(passphrase))
        if self.ca_certificate_pem:
            _write_public(root / "cacerts" / "ca-cert.pem", self.ca_certificate_pem)
        return root


# -- the CA -----------------------------------------------------------------------------------------------------

class LocalCA:
    """One organisation's CA: a P-256 key and a self-signed certificate in a directory."""

    def __init__(self, msp_id: str, organization: str, certificate: x509.Certificate,
                 private_key: ec.EllipticCurvePrivateKey, directory: Path | None = None) -> None:
        self.msp_id = msp_id
        self.organization = organization
        self.certificate = certificate
        self._key = private_key
        self.directory = directory

    def __repr__(self) -> str:
        return f"LocalCA({self.msp_id!r}, {self.organization!r}, {str(self.directory)!r})"

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @classmethod
    def create(cls, directory: str | Path, msp_id: str, organization: str, passphrase: bytes | str | None = None,
               *, insecure: bool = False) -> LocalCA:
        """Generate the CA key and self-signed certificate (10 years) and write them to ``directory``.

        The key is encrypted with ``passphrase``; without one the CA refuses unless ``insecure=True`` (tests).
        Refuses to overwrite an existing CA.
        """
        msp_id = _check_name(msp_id, "msp_id")
        organization = _check_name(organization, "organization")
        secret = _passphrase_bytes(passphrase)
        if secret is None and not insecure:
            raise ValueError("a passphrase is required to encrypt the CA key (insecure=True only for tests)")
        root = Path(directory)
        if (root / KEY_FILE).exists() or (root / CERT_FILE).exists():
            raise FileExistsError(f"a CA already exists in {root}")

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, f"ca.{organization}"),
        ])
        not_before = _now()
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_before + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256())
        )

        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o700)
        _write_private(root / KEY_FILE, _key_pem(key, secret))
        _write_public(root / CERT_FILE, certificate.public_bytes(serialization.Encoding.PEM))
        _write_public(root / INFO_FILE, json.dumps({"msp_id": msp_id, "organization": organization},
                                                   sort_keys=True).encode())
        return cls(msp_id, organization, certificate, key, root)

    @classmethod
    def load(cls, directory: str | Path, passphrase: bytes | str | None = None) -> LocalCA:
        """Open a CA written by :meth:`create`. Raises ``ValueError`` for a missing or wrong passphrase."""
        root = Path(directory)
        info = json.loads((root / INFO_FILE).read_text())
        certificate = x509.load_pem_x509_certificate((root / CERT_FILE).read_bytes())
        key_pem = (root / KEY_FILE).read_bytes()
        secret = _passphrase_bytes(passphrase)
        try:
            key = serialization.load_pem_private_key(key_pem, password=secret)
        except TypeError as exc:  # encrypted without a passphrase, or a passphrase for a plain key
            raise ValueError(f"cannot open the CA key in {root}: {exc}") from exc
        except ValueError as exc:  # wrong passphrase (or a damaged file)
            raise ValueError(f"cannot open the CA key in {root}: wrong passphrase or damaged key") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"the CA key in {root} is not an EC key")
        public = serialization.PublicFormat.SubjectPublicKeyInfo
        if key.public_key().public_bytes(serialization.Encoding.DER, public) != \
                certificate.public_key().public_bytes(serialization.Encoding.DER, public):
            raise ValueError(f"the CA key in {root} does not match {CERT_FILE}")
        return cls(info["msp_id"], info["organization"], certificate, key, root)

    @classmethod
    def from_files(cls, msp_id: str, certificate_file: str | Path, key_file: str | Path) -> LocalCA:
        """An organisation CA whose certificate and (unencrypted PKCS#8 / SEC1) key already exist, for example the
        network's own CA (cryptogen's ``ca/*-cert.pem`` + ``priv_sk``, or a Fabric CA's), so the identities it
        issues are ones the channel's MSP trusts."""
        certificate = x509.load_pem_x509_certificate(Path(certificate_file).read_bytes())
        try:
            key = serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"cannot read the CA key {key_file}: {exc}") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"the CA key {key_file} is not an EC key")
        public = serialization.PublicFormat.SubjectPublicKeyInfo
        if key.public_key().public_bytes(serialization.Encoding.DER, public) != \
                certificate.public_key().public_bytes(serialization.Encoding.DER, public):
            raise ValueError(f"the CA key {key_file} does not match {certificate_file}")
        names = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        organization = str(names[0].value) if names else msp_id
        return cls(_check_name(msp_id, "msp_id"), organization, certificate, key, Path(certificate_file).parent)

    def issue(self, enrollment_id: str, role: str, attributes: Mapping[str, str] | None = None,
              organizational_unit: str = "client", valid_days: int = 365,
              *, now: dt.datetime | None = None) -> IssuedIdentity:
        """Enroll ``enrollment_id`` with ``role``: a new P-256 key and a certificate signed by this CA.

        ``attributes`` are extra Fabric CA attributes (strings); ``hf.*`` and ``role`` are set by the CA.
        ``now`` is for tests.
        """
        enrollment_id = _check_enrollment_id(enrollment_id)
        role = _check_role(role)
        extra = _check_attributes(attributes)
        organizational_unit = _check_name(organizational_unit, "organizational_unit")
        if isinstance(valid_days, bool) or not isinstance(valid_days, int) or valid_days < 1:
            raise ValueError("valid_days must be a positive integer")

        moment = (now or _now()).astimezone(dt.UTC).replace(microsecond=0)
        ca_not_before = self.certificate.not_valid_before_utc
        ca_not_after = self.certificate.not_valid_after_utc
        if moment >= ca_not_after:
            raise ValueError("the CA certificate has expired")
        # Never before the issuer's NotBefore: Fabric verifies the chain at the leaf's NotBefore + 1 s.
        not_before = max(moment - BACKDATE, ca_not_before)
        not_after = min(moment + dt.timedelta(days=valid_days), ca_not_after)

        attrs = {"hf.EnrollmentID": enrollment_id, "hf.Type": "client", "hf.Affiliation": "", "role": role, **extra}
        attr_json = json.dumps({"attrs": attrs}, separators=(",", ":")).encode()

        key = ec.generate_private_key(ec.SECP256R1())
        ca_ski = self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, organizational_unit),
                x509.NameAttribute(NameOID.COMMON_NAME, enrollment_id),
            ]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            # no ExtendedKeyUsage: Fabric's MSP verifies with Go's default (server auth), so a clientAuth-only leaf
            # under a CA that lists EKUs (cryptogen's does) is "incompatible key usage"; Fabric CA's leaves have none
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
            .add_extension(x509.UnrecognizedExtension(ATTRIBUTE_EXTENSION_OID, attr_json), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        return IssuedIdentity(self.msp_id, certificate.public_bytes(serialization.Encoding.PEM), key,
                              self.certificate_pem)
