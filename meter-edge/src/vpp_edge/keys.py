"""Meter signing keys at the edge: ECDSA P-256, generated at provisioning, one file per meter, mode 0600.

The private key never leaves its file except into a :class:`MeterKey`, whose ``repr`` and ``str`` show the meter
and the public key's fingerprint only, so a log line or a traceback cannot carry it. The public key (PEM) is what
the operator registers on the ledger (``RegisterMeter``).
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .errors import EdgeError

PRIVATE_SUFFIX = ".key.pem"
PUBLIC_SUFFIX = ".pub.pem"


class KeyFileError(EdgeError):
    code = "KEY"


def _check_meter_id(meter_id: str) -> str:
    if not meter_id or "/" in meter_id or meter_id.startswith(".") or len(meter_id) > 128:
        raise KeyFileError(f"meter id {meter_id!r} cannot name a key file", code="KEY_BAD_METER_ID")
    return meter_id


class MeterKey:
    """A meter's private key, loaded; signs payload bytes with ECDSA over SHA-256 (DER signature)."""

    __slots__ = ("_private", "meter_id", "public_pem")

    def __init__(self, meter_id: str, private: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(private.curve, ec.SECP256R1):
            raise KeyFileError(f"key of {meter_id} is not P-256", code="KEY_NOT_P256")
        self.meter_id = meter_id
        self._private = private
        self.public_pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the public key (DER), first 16 hex digits: safe to log."""
        der = self._private.public_key().public_bytes(serialization.Encoding.DER,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)
        return hashlib.sha256(der).hexdigest()[:16]

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data, ec.ECDSA(hashes.SHA256()))

    def __repr__(self) -> str:
        return f"MeterKey(meter_id={self.meter_id!r}, fingerprint={self.fingerprint!r})"

    __str__ = __repr__

    def __reduce__(self):  # never pickled into a queue, a cache or a crash dump
        raise TypeError("MeterKey cannot be pickled")

    @classmethod
    def load(cls, path: str | Path, meter_id: str | None = None) -> MeterKey:
        """Load a key file; refuses a file readable by group or others (KEY_PERMISSIONS)."""
        path = Path(path)
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise KeyFileError(f"no key file at {path}", code="KEY_MISSING") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(f"key file {path} must be mode 0600 (is {stat.S_IMODE(mode):04o})",
                            code="KEY_PERMISSIONS")
        try:
            private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFileError(f"key file {path} is not an unencrypted PEM private key", code="KEY_UNREADABLE") \
                from exc
        if not isinstance(private, ec.EllipticCurvePrivateKey):
            raise KeyFileError(f"key file {path} is not an EC key", code="KEY_NOT_P256")
        name = meter_id or path.name.removesuffix(PRIVATE_SUFFIX)
        return cls(name, private)


@dataclass(frozen=True, slots=True)
class Provisioned:
    meter_id: str
    private_path: Path
    public_path: Path
    public_pem: str


def key_path(key_dir: str | Path, meter_id: str) -> Path:
    return Path(key_dir) / f"{_check_meter_id(meter_id)}{PRIVATE_SUFFIX}"


def provision(key_dir: str | Path, meter_id: str) -> Provisioned:
    """Generate a meter's key into ``key_dir`` (created 0700): ``<meter>.key.pem`` (0600, written with O_EXCL so an
    existing key is never overwritten: KEY_EXISTS) and ``<meter>.pub.pem``."""
    directory = Path(key_dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    private_path = key_path(directory, meter_id)
    public_path = directory / f"{meter_id}{PUBLIC_SUFFIX}"
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    try:  # the mode is set at creation, so the key is never readable by others, not even for a moment
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"meter {meter_id} already has a key at {private_path}", code="KEY_EXISTS") from None
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(private_path, 0o600)  # a umask cannot widen it, but a pre-set ACL default could: be explicit
    key = MeterKey(meter_id, private)
    public_path.write_text(key.public_pem)
    return Provisioned(meter_id, private_path, public_path, key.public_pem)
