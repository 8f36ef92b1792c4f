"""Private keys at rest: each identity's key is sealed with AES-256-GCM under a subkey of the master key.

Layout inside the account directory::

    master.key              32 random bytes, mode 0600 (generated on first open)
    keystore/<id>.key       b"VPPKEY1\\n" + 12-byte nonce + AES-GCM(PKCS#8 DER), mode 0600

The associated data binds each sealed key to its MSP id and enrollment id, so a key file copied over another
identity's does not open. The master key also derives the LocalCAs' passphrases (HKDF, one label per use).
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..identity import IssuedIdentity
from .errors import AccountStoreError

__all__ = ["MASTER_KEY_FILE", "KeyStore", "read_or_create_secret", "write_private"]

MASTER_KEY_FILE = "master.key"
KEYSTORE_DIR = "keystore"
_MAGIC = b"VPPKEY1\n"
_NONCE = 12
_CHECK_PLAINTEXT = b"vpp-accounts master key check"
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` atomically to a file only its owner can read (0600 whatever the umask)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_or_create_secret(path: Path, size: int) -> tuple[bytes, bool]:
    """The secret in ``path``, or a new random one written there; returns ``(secret, created)``."""
    if path.exists():
        data = path.read_bytes()
        if len(data) != size:
            raise AccountStoreError("KEY_STORE_UNREADABLE", f"{path.name} is damaged (expected {size} bytes)")
        return data, False
    data = secrets.token_bytes(size)
    write_private(path, data)
    return data, True


def _derive(master_key: bytes, label: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label.encode()).derive(master_key)


class KeyStore:
    """Seals and opens identities' private keys under the master key."""

    def __init__(self, directory: Path, master_key: bytes) -> None:
        self.directory = directory / KEYSTORE_DIR
        self.directory.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.directory, 0o700)
        self._master_key = master_key
        self._aead = AESGCM(_derive(master_key, "vpp-accounts key wrap"))

    def __repr__(self) -> str:
        return f"KeyStore({str(self.directory)!r})"

    def ca_passphrase(self, msp_id: str) -> bytes:
        return _derive(self._master_key, f"vpp-accounts ca passphrase {msp_id}").hex().encode()

    # the check value, kept in the database, tells "wrong master key" apart from "damaged key file"
    def check_value(self) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return nonce + self._aead.encrypt(nonce, _CHECK_PLAINTEXT, b"check")

    def matches(self, check_value: bytes) -> bool:
        try:
            return self._aead.decrypt(check_value[:_NONCE], check_value[_NONCE:], b"check") == _CHECK_PLAINTEXT
        except InvalidTag:
            return False

    def path_of(self, enrollment_id: str) -> Path:
        if not _SAFE_ID.fullmatch(enrollment_id):
            raise ValueError(f"enrollment id {enrollment_id!r} cannot name a key file")
        return self.directory / f"{enrollment_id}.key"

    def save(self, identity: IssuedIdentity) -> Path:
        der = identity.private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption())
        nonce = secrets.token_bytes(_NONCE)
        sealed = _MAGIC + nonce + self._aead.encrypt(nonce, der, self._aad(identity.msp_id, identity.enrollment_id))
        path = self.path_of(identity.enrollment_id)
        write_private(path, sealed)
        return path

    def load(self, msp_id: str, enrollment_id: str, certificate_pem: bytes,
             ca_certificate_pem: bytes = b"") -> IssuedIdentity:
        path = self.path_of(enrollment_id)
        try:
            sealed = path.read_bytes()
        except FileNotFoundError:
            raise AccountStoreError("KEY_STORE_UNREADABLE", f"the key of {enrollment_id} is missing") from None
        if not sealed.startswith(_MAGIC) or len(sealed) < len(_MAGIC) + _NONCE + 16:
            raise AccountStoreError("KEY_STORE_UNREADABLE", f"the key file of {enrollment_id} is damaged")
        body = sealed[len(_MAGIC):]
        try:
            der = self._aead.decrypt(body[:_NONCE], body[_NONCE:], self._aad(msp_id, enrollment_id))
        except InvalidTag:
            raise AccountStoreError("KEY_STORE_UNREADABLE",
                                    f"the key of {enrollment_id} does not decrypt with this master key") from None
        key = serialization.load_der_private_key(der, password=None)
        identity = IssuedIdentity(msp_id, certificate_pem, key, ca_certificate_pem)  # type: ignore[arg-type]
        if not isinstance(key, ec.EllipticCurvePrivateKey) or \
                key.public_key().public_numbers() != identity.certificate.public_key().public_numbers():
            raise AccountStoreError("KEY_STORE_UNREADABLE",
                                    f"the key of {enrollment_id} does not match its certificate")
        return identity

    def remove(self, enrollment_id: str) -> None:
        self.path_of(enrollment_id).unlink(missing_ok=True)

    @staticmethod
    def _aad(msp_id: str, enrollment_id: str) -> bytes:
        return f"{msp_id}:{enrollment_id}".encode()
