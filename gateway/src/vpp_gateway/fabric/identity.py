"""Client identity and signing for the Fabric Gateway.

An identity is an MSP ID plus an X.509 certificate; Fabric sees it as the protobuf
``msp.SerializedIdentity`` ("creator"). A signer turns a SHA-256 digest into an
ASN.1 DER ECDSA signature with a low S value, which Fabric's MSP insists on
(a high-S signature fails with "invalid S, must be smaller than half the order").
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)
from fabric_protos.msp import identities_pb2

__all__ = [
    "CURVE_ORDERS",
    "EcdsaSigner",
    "Signer",
    "SigningIdentity",
    "X509Identity",
    "load_msp",
    "normalize_low_s",
    "sha256",
]

# A signer takes the SHA-256 digest of a message and returns a DER signature.
# Any callable with this shape works (an HSM, a remote signer, ...).
Signer = Callable[[bytes], bytes]

# Group orders of the curves Fabric's default (SW) BCCSP accepts.
CURVE_ORDERS: dict[str, int] = {
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp384r1": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
}


def sha256(message: bytes) -> bytes:
    """The digest Fabric signs and uses for transaction IDs (SHA2-256)."""
    return hashlib.sha256(message).digest()


def normalize_low_s(signature_der: bytes, curve_order: int) -> bytes:
    """Return the low-S form of an ECDSA DER signature (s <= n/2).

    (r, s) and (r, n - s) are both valid; Fabric accepts only the low one so that a
    signature cannot be malleated into a second valid one.
    """
    r, s = decode_dss_signature(signature_der)
    if s > curve_order >> 1:
        return encode_dss_signature(r, curve_order - s)
    return signature_der


@dataclass(frozen=True)
class X509Identity:
    """An MSP ID and a PEM certificate, serialised once as Fabric's creator bytes."""

    msp_id: str
    certificate_pem: bytes
    creator: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.msp_id:
            raise ValueError("msp_id is required")
        pem = self.certificate_pem
        if isinstance(pem, str):
            pem = pem.encode()
            object.__setattr__(self, "certificate_pem", pem)
        x509.load_pem_x509_certificate(pem)  # fail early on a broken certificate
        creator = identities_pb2.SerializedIdentity(mspid=self.msp_id, id_bytes=pem).SerializeToString()
        object.__setattr__(self, "creator", creator)

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem)

    @classmethod
    def from_file(cls, msp_id: str, certificate_path: str | Path) -> X509Identity:
        return cls(msp_id, Path(certificate_path).read_bytes())


class EcdsaSigner:
    """Signs SHA-256 digests with an EC private key (P-256 or P-384), low-S normalised.

    Instances are callables matching :data:`Signer`.
    """

    __slots__ = ("_algorithm", "_key", "_order")

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            raise TypeError(f"an EC private key is required, got {type(private_key).__name__}")
        order = CURVE_ORDERS.get(private_key.curve.name)
        if order is None:
            raise ValueError(f"unsupported curve {private_key.curve.name}; Fabric uses P-256 or P-384")
        self._key = private_key
        self._order = order
        # Fabric's default hash family is SHA2-256 for every curve; the digest is computed
        # by the caller, so the signature is over the pre-hashed value.
        self._algorithm = ec.ECDSA(Prehashed(hashes.SHA256()))

    @classmethod
    def from_pem(cls, private_key_pem: bytes | str, password: bytes | None = None) -> EcdsaSigner:
        if isinstance(private_key_pem, str):
            private_key_pem = private_key_pem.encode()
        key = serialization.load_pem_private_key(private_key_pem, password=password)
        return cls(key)  # type: ignore[arg-type]

    @classmethod
    def from_file(cls, path: str | Path, password: bytes | None = None) -> EcdsaSigner:
        return cls.from_pem(Path(path).read_bytes(), password)

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._key.public_key()

    def __call__(self, digest: bytes) -> bytes:
        return normalize_low_s(self._key.sign(digest, self._algorithm), self._order)

    sign = __call__


class SigningIdentity:
    """An identity with the means to sign: what every Gateway request needs."""

    __slots__ = ("creator", "identity", "signer")

    def __init__(self, identity: X509Identity, signer: Signer) -> None:
        self.identity = identity
        self.signer = signer
        self.creator = identity.creator

    @property
    def msp_id(self) -> str:
        return self.identity.msp_id

    def sign_message(self, message: bytes) -> bytes:
        """Signature over SHA-256(message), as every signed Fabric structure expects."""
        return self.signer(sha256(message))


def _files_matching(directory: Path, patterns: tuple[str, ...]) -> list[Path]:
    found: list[Path] = []
    for pattern in patterns:
        found.extend(sorted(p for p in directory.glob(pattern) if p.is_file()))
    return found


def load_msp(msp_dir: str | Path, msp_id: str, password: bytes | None = None) -> SigningIdentity:
    """Load a user's signing identity from a cryptogen or Fabric CA MSP folder.

    ``msp_dir`` is the folder holding ``signcerts/`` and ``keystore/``, for example
    ``.../peerOrganizations/org1.example.com/users/User1@org1.example.com/msp``.
    The MSP ID is not stored in that folder, so it is passed in (``Org1MSP``).
    cryptogen names the key ``keystore/priv_sk``; Fabric CA names it ``<ski>_sk`` and
    a re-enrolment may leave several keys, so the key whose public key matches the
    certificate is chosen.
    """
    msp = Path(msp_dir)
    certs = _files_matching(msp / "signcerts", ("*.pem",))
    if not certs:
        raise FileNotFoundError(f"no certificate in {msp / 'signcerts'}")
    if len(certs) > 1:
        raise ValueError(f"more than one certificate in {msp / 'signcerts'}: {[c.name for c in certs]}")
    identity = X509Identity.from_file(msp_id, certs[0])
    cert_public = identity.certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    keys = _files_matching(msp / "keystore", ("*_sk", "*.pem"))
    if not keys:
        raise FileNotFoundError(f"no private key in {msp / 'keystore'}")
    for key_path in keys:
        signer = EcdsaSigner.from_file(key_path, password)
        key_public = signer.public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if key_public == cert_public:
            return SigningIdentity(identity, signer)
    raise ValueError(f"no key in {msp / 'keystore'} matches the certificate {certs[0].name}")
