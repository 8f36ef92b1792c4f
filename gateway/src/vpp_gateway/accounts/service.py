"""The account service: people (register, verify, login, refresh, logout), integrators' API keys, and the X.509
identity each of them acts with on the ledger (DESIGN §7).

Directory layout (everything generated on first open; secret files mode 0600, the directory 0700)::

    accounts.sqlite3        accounts, hashed tokens and API keys, certificates (see ``store``)
    master.key              seals the private keys and derives the CA passphrases (see ``keystore``)
    jwt.key                 HS256 secret of the access tokens
    ca/Org1MSP, ca/Org2MSP  one LocalCA per organisation (CA key encrypted with a passphrase from master.key)
    keystore/<id>.key       each identity's private key, AES-GCM sealed under master.key
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..identity import IssuedIdentity, LocalCA
from .errors import AccountStoreError, AuthError
from .keystore import MASTER_KEY_FILE, KeyStore, read_or_create_secret
from .mailers import Mailer
from .models import ORGS, ROLES, AccountInfo, ApiKeyInfo, Principal, TokenPair
from .policy import MAX_PASSWORD_LENGTH, check_display_name, check_password, normalise_email
from .store import AccountStore
from .tokens import AccessTokens, new_opaque_token, token_hash

__all__ = ["AccountService"]

log = logging.getLogger("vpp_gateway.accounts")

DB_FILE = "accounts.sqlite3"
JWT_KEY_FILE = "jwt.key"
CA_DIR = "ca"
OPERATOR_ID = "gateway-operator"  # enrollment id of the identity the gateway itself submits with
VERIFY_TTL_S = 24 * 3600
RESEND_INTERVAL_S = 60  # at most one verification mail a minute per account (no mail bombing via resend)
CERT_VALID_DAYS = 3650  # capped at the CA's own lifetime; the gateway holds the key, revocation is in this store
LOGIN_WINDOW_S = 15 * 60
LOGIN_LIMITS = {"email": 5, "client": 20}  # failures per window before RATE_LIMITED
_API_KEY = re.compile(r"vpp_(ak[0-9a-f]{16})_([A-Za-z0-9_-]{43})")
_MASTER_CHECK = "master_key_check"


class AccountService:
    """Open with :meth:`open`; all methods raise :class:`AuthError` for every refusal."""

    def __init__(self, directory: Path, store: AccountStore, keystore: KeyStore, cas: dict[str, LocalCA],
                 access_tokens: AccessTokens, mailer: Mailer, public_url: str, clock: Callable[[], float],
                 refresh_ttl_s: int) -> None:
        self.directory = directory
        self._store = store
        self._keystore = keystore
        self._cas = cas
        self._access = access_tokens
        self._mailer = mailer
        self._public_url = public_url.rstrip("/")
        self._clock = clock
        self._refresh_ttl_s = refresh_ttl_s
        self._hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (t=3, m=64 MiB, p=4)
        self._dummy_hash: str | None = None
        self._identities: dict[str, IssuedIdentity] = {}  # decrypted lazily, per enrollment id

    def __repr__(self) -> str:
        return f"AccountService({str(self.directory)!r})"

    @classmethod
    def open(cls, directory: str | Path, *, mailer: Mailer, public_url: str = "http://127.0.0.1:8080",
             clock: Callable[[], float] = time.time, access_ttl_s: int = 900, refresh_ttl_s: int = 30 * 86400,
             external_cas: Mapping[str, tuple[str | Path, str | Path]] | None = None) -> AccountService:
        """Open (or create) the account directory. Raises :class:`AccountStoreError` (``KEY_STORE_UNREADABLE``)
        when ``master.key`` is missing or is not the one this store was made with.

        ``external_cas``: MSP id → (certificate file, key file) of a CA the Fabric channel trusts for that
        organisation. On a Fabric network the identities must come from there; the gateway's own CAs (created in
        the directory) are trusted only by the embedded ledger."""
        root = Path(directory)
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o700)
        store = AccountStore.open(root / DB_FILE)
        try:
            keystore = cls._open_keystore(root, store)
            jwt_secret, _ = read_or_create_secret(root / JWT_KEY_FILE, 32)
            external = dict(external_cas or {})
            cas = {msp: cls._external_ca(msp, *external[msp]) if msp in external
                   else cls._open_ca(root / CA_DIR / msp, msp, organization, keystore)
                   for msp, organization in ORGS.items()}
            service = cls(root, store, keystore, cas, AccessTokens(jwt_secret, clock, access_ttl_s), mailer,
                          public_url, clock, refresh_ttl_s)
            service._ensure_operator()
        except BaseException:
            store.close()
            raise
        return service

    @staticmethod
    def _open_keystore(root: Path, store: AccountStore) -> KeyStore:
        check = store.meta(_MASTER_CHECK)
        master_path = root / MASTER_KEY_FILE
        if not master_path.exists() and (check is not None or store.has_identities()):
            # generating a new master key here would orphan every sealed key: refuse instead
            raise AccountStoreError("KEY_STORE_UNREADABLE", f"{MASTER_KEY_FILE} is missing from {root}: the key "
                                    "store cannot be read without it (restore it from the backup)")
        master_key, _ = read_or_create_secret(master_path, 32)
        keystore = KeyStore(root, master_key)
        if check is None:
            store.set_meta(_MASTER_CHECK, keystore.check_value())
        elif not keystore.matches(check):
            raise AccountStoreError("KEY_STORE_UNREADABLE", f"{MASTER_KEY_FILE} in {root} is not the key this store "
                                    "was sealed with (replaced?): restore the original from the backup")
        return keystore

    @staticmethod
    def _external_ca(msp_id: str, certificate_file: str | Path, key_file: str | Path) -> LocalCA:
        try:
            return LocalCA.from_files(msp_id, certificate_file, key_file)
        except (OSError, ValueError) as exc:
            raise AccountStoreError("KEY_STORE_UNREADABLE", f"cannot open the {msp_id} CA: {exc}") from None

    @staticmethod
    def _open_ca(path: Path, msp_id: str, organization: str, keystore: KeyStore) -> LocalCA:
        passphrase = keystore.ca_passphrase(msp_id)
        if not path.exists():
            path.parent.mkdir(mode=0o700, exist_ok=True)
            return LocalCA.create(path, msp_id, organization, passphrase)
        try:
            return LocalCA.load(path, passphrase)
        except (OSError, ValueError) as exc:
            raise AccountStoreError("KEY_STORE_UNREADABLE", f"cannot open the {msp_id} CA: {exc}") from None

    def close(self) -> None:
        self._identities.clear()
        self._store.close()

    def __enter__(self) -> AccountService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- people --------------------------------------------------------------------------------------------------

    async def register(self, email: str, password: str, display_name: str = "") -> AccountInfo:
        """A new owner in Org1MSP, unverified; mails a verification link ``<public_url>/verify?token=<t>``."""
        email = normalise_email(email)
        check_password(password, email)
        display_name = check_display_name(display_name)
        if self._store.account_by_email(email) is not None:  # before spending a hash on it
            raise AuthError("EMAIL_TAKEN", "an account with this email exists")
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        info = self._create_account(email, display_name, password_hash, "Org1MSP", "owner", verified=False)
        log.info("account %s registered (owner, Org1MSP)", info.account_id)
        await self._send_verification(info.account_id, email)
        return info

    async def verify_email(self, token: str) -> AccountInfo:
        digest = self._token_digest(token, "TOKEN_INVALID")
        row = self._store.email_token(digest)
        now = self._now()
        if row is None:
            raise AuthError("TOKEN_INVALID", "unknown verification link")
        if row["used_at"] is not None:
            raise AuthError("TOKEN_INVALID", "this verification link was already used")
        if now >= row["expires_at"]:
            raise AuthError("TOKEN_EXPIRED", "this verification link has expired; ask for a new one")
        with self._store.transaction():
            if not self._store.use_email_token(digest, now):
                raise AuthError("TOKEN_INVALID", "this verification link was already used")
            self._store.set_verified(row["account_id"], now)
        log.info("account %s verified its email", row["account_id"])
        return self.get_account(row["account_id"])

    async def resend_verification(self, email: str) -> None:
        """Mail a new link. Silent when the address is unknown or verified (no account enumeration)."""
        email = normalise_email(email)
        row = self._store.account_by_email(email)
        if row is None or row["verified_at"] is not None or row["disabled_at"] is not None:
            return
        last = self._store.last_email_token_at(row["account_id"])
        if last is not None and self._now() - last < RESEND_INTERVAL_S:
            log.info("verification mail for %s not resent: the last one is under %d s old", row["account_id"],
                     RESEND_INTERVAL_S)
            return
        await self._send_verification(row["account_id"], email)

    async def login(self, email: str, password: str, *, client: str | None = None) -> TokenPair:
        """Email and password -> tokens. ``client`` (the caller's address) adds a per-client failure limit."""
        email = normalise_email(email)
        now = self._now()
        subjects = [f"email:{email}"] + ([f"client:{client}"] if client else [])
        self._check_rate(subjects, now)
        row = self._store.account_by_email(email)
        stored = row["password_hash"] if row is not None else None
        ok = await asyncio.to_thread(self._verify_password, stored, password)
        if not ok:
            for subject in subjects:
                self._store.record_failure(subject, now, LOGIN_WINDOW_S)
            log.info("login failed: %s", "unknown email" if row is None else f"wrong password for {row['account_id']}")
            raise AuthError("BAD_CREDENTIALS", "wrong email or password")
        if row["disabled_at"] is not None:
            raise AuthError("ACCOUNT_DISABLED", "this account is disabled")
        if row["verified_at"] is None:
            raise AuthError("EMAIL_NOT_VERIFIED", "verify your email first (see the link we mailed you)")
        if self._hasher.check_needs_rehash(stored):  # parameters got stronger since this hash was made
            self._store.set_password_hash(row["account_id"], await asyncio.to_thread(self._hasher.hash, password))
            log.info("password hash of %s upgraded to the current argon2 parameters", row["account_id"])
        self._store.clear_failures(f"email:{email}")
        log.info("account %s logged in", row["account_id"])
        return self._new_session(row)

    async def refresh(self, refresh_token: str) -> TokenPair:
        """A new pair for a valid refresh token, which is used up. Reusing a used one revokes its whole family
        (someone holds a stolen copy) and every access token issued from it."""
        digest = self._token_digest(refresh_token, "TOKEN_INVALID")
        now = self._now()
        refusal: AuthError | None = None
        with self._store.transaction():
            row = self._store.refresh_token(digest)
            if row is None:
                raise AuthError("TOKEN_INVALID", "unknown refresh token")
            if row["family_revoked_at"] is not None:
                raise AuthError("TOKEN_REVOKED", "this session has ended; log in again")
            if row["used_at"] is not None or not self._store.use_refresh_token(digest, now):
                self._store.revoke_family(row["family_id"], now, "refresh token reused")
                refusal = AuthError("TOKEN_REVOKED", "this refresh token was already used; the session is revoked")
            elif now >= row["expires_at"]:
                refusal = AuthError("TOKEN_EXPIRED", "the refresh token has expired; log in again")
            else:
                account = self._store.account(row["account_id"])
                if account is None or account["disabled_at"] is not None:
                    refusal = AuthError("ACCOUNT_DISABLED", "this account is disabled")
                else:
                    new_token = new_opaque_token()
                    self._store.insert_refresh_token(token_hash(new_token), row["family_id"], now,
                                                     now + self._refresh_ttl_s)
        if refusal is not None:  # raised after the commit, so the revocation sticks
            if refusal.code == "TOKEN_REVOKED":
                log.warning("refresh token reused for account %s: its session family is revoked", row["account_id"])
            raise refusal
        access = self._access.issue(account["account_id"], account["role"], account["org"], row["family_id"])
        return TokenPair(access, new_token, "Bearer", self._access.ttl_s)

    async def logout(self, refresh_token: str) -> None:
        """End the session: the refresh token's family, and the access tokens issued from it, stop working."""
        digest = self._token_digest(refresh_token, "TOKEN_INVALID")
        row = self._store.refresh_token(digest)
        if row is None:
            raise AuthError("TOKEN_INVALID", "unknown refresh token")
        self._store.revoke_family(row["family_id"], self._now(), "logout")
        log.info("account %s logged out", row["account_id"])

    def authenticate_bearer(self, token: str) -> Principal:
        """Check an access token (signature, expiry, type, account enabled, session not revoked). No KDF: a few
        indexed lookups and the identity from the cache."""
        claims = self._access.check(token)
        row = self._store.session(claims.account_id, claims.session_id)
        if row is None:
            raise AuthError("TOKEN_INVALID", "the account of this token no longer exists")
        if row["disabled_at"] is not None:
            raise AuthError("ACCOUNT_DISABLED", "this account is disabled")
        if (row["role"], row["org"]) != (claims.role, claims.org):
            raise AuthError("TOKEN_INVALID", "the account's role changed since this token was issued")
        if row["family_account_id"] != row["account_id"]:  # NULL: no such session
            raise AuthError("TOKEN_INVALID", "unknown session")
        if row["family_revoked_at"] is not None:
            raise AuthError("TOKEN_REVOKED", "this session has ended; log in again")
        return Principal(row["account_id"], f"{row['org']}:{row['account_id']}", row["email"], row["org"],
                         row["role"], "jwt", None, self._identity(row["account_id"]))

    async def authenticate_api_key(self, key: str) -> Principal:
        """``vpp_<key_id>_<secret>``: one indexed lookup and one SHA-256; nothing cached outlives a revoke."""
        match = _API_KEY.fullmatch(key) if isinstance(key, str) else None
        if match is None:
            raise AuthError("API_KEY_INVALID", "malformed API key")
        key_id, secret = match.groups()
        row = self._store.api_key(key_id)
        if row is None or not hmac.compare_digest(hashlib.sha256(secret.encode()).digest(), row["secret_hash"]):
            raise AuthError("API_KEY_INVALID", "unknown API key")
        if row["revoked_at"] is not None:
            raise AuthError("API_KEY_REVOKED", "this API key was revoked")
        if row["owner_disabled_at"] is not None:
            raise AuthError("ACCOUNT_DISABLED", "the account that owns this API key is disabled")
        owner = self._store.account(row["owner_account_id"])
        if owner is not None and (owner["org"], owner["role"]) == (row["org"], row["role"]):
            # a person's own key acts as that person on the ledger (an owner's integration reads the owner's
            # sites); the gateway's log names the key
            return Principal(row["owner_account_id"], f"{row['org']}:{row['owner_account_id']}", None, row["org"],
                             row["role"], "api_key", key_id, self._identity(row["owner_account_id"]))
        # a key an admin made for another role or organisation is its own service account on the ledger
        return Principal(row["owner_account_id"], f"{row['org']}:{key_id}", None, row["org"], row["role"],
                         "api_key", key_id, self._identity(key_id))

    # -- administration ------------------------------------------------------------------------------------------

    async def create_account(self, by: Principal, email: str, password: str, role: str, org: str) -> AccountInfo:
        """An admin creates a verified account with any role in any organisation."""
        self._require_admin(by)
        email = normalise_email(email)
        check_password(password, email)
        role, org = self._check_role_org(role, org)
        if self._store.account_by_email(email) is not None:
            raise AuthError("EMAIL_TAKEN", "an account with this email exists")
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        info = self._create_account(email, "", password_hash, org, role, verified=True)
        log.info("account %s (%s, %s) created by %s", info.account_id, role, org, by.account_id)
        return info

    def get_account(self, account_id: str) -> AccountInfo:
        row = self._store.account(account_id) if isinstance(account_id, str) else None
        if row is None:
            raise AuthError("NOT_FOUND", f"no account {account_id!r}")
        return self._account_info(row)

    def find_by_ledger_account(self, ledger_account: str) -> AccountInfo | None:
        """The account behind ``"<MSP>:<enrollment id>"`` as the chaincode names it (None for API keys and
        unknown ids)."""
        if not isinstance(ledger_account, str):
            return None
        msp_id, _, account_id = ledger_account.partition(":")
        row = self._store.account(account_id)
        return self._account_info(row) if row is not None and row["org"] == msp_id else None

    async def disable_account(self, by: Principal, account_id: str, disabled: bool = True) -> AccountInfo:
        """Admin only: a disabled account's tokens, sessions and API keys stop working at once."""
        self._require_admin(by)
        info = self.get_account(account_id)
        now = self._now()
        with self._store.transaction():
            self._store.set_disabled(account_id, now if disabled else None)
            if disabled:
                self._store.revoke_families_of(account_id, now, "account disabled")
        log.info("account %s %s by %s", account_id, "disabled" if disabled else "enabled", by.account_id)
        return info

    # -- API keys ------------------------------------------------------------------------------------------------

    async def create_api_key(self, by: Principal, name: str, role: str | None = None, org: str | None = None
                             ) -> tuple[ApiKeyInfo, str]:
        """A key with the creator's role and organisation acts as the creator on the ledger; a key an admin makes
        for another role or organisation acts with its own X.509 identity (enrollment id = key id). Admins choose
        any role and organisation; anyone else gets their own. Returns the full key once; only its hash is kept."""
        if by.via not in ("jwt", "console"):
            raise AuthError("FORBIDDEN", "API keys cannot create API keys; log in as a person")
        if not isinstance(name, str) or not name.strip() or len(name) > 100 or not name.isprintable():
            raise AuthError("INVALID_ARGUMENT", "name must be 1-100 printable characters")
        role, org = self._check_role_org(role or by.role, org or by.org)
        if by.role != "admin" and (role, org) != (by.role, by.org):
            raise AuthError("FORBIDDEN", f"you can create keys for role {by.role} in {by.org} only")
        key_id = f"ak{secrets.token_hex(8)}"
        secret = new_opaque_token()
        # the owner's ledger account goes into the certificate too, for audits and a future "acting for" rule
        identity = self._new_identity(key_id, org, role, {"vpp.owner": by.ledger_account})
        now = self._now()
        try:
            with self._store.transaction():
                self._store.insert_identity(key_id, org, role, identity.certificate_pem, now)
                self._store.insert_api_key(key_id, hashlib.sha256(secret.encode()).digest(), name.strip(),
                                           by.account_id, org, role, secret[-4:], now)
        except BaseException:
            self._keystore.remove(key_id)
            raise
        self._identities[key_id] = identity
        log.info("API key %s (%s, %s) created by %s", key_id, role, org, by.account_id)
        row = self._store.api_key(key_id)
        return self._api_key_info(row), f"vpp_{key_id}_{secret}"

    def list_api_keys(self, by: Principal) -> list[ApiKeyInfo]:
        """An admin sees every key; anyone else the keys they created."""
        rows = self._store.api_keys(None if by.role == "admin" else by.account_id)
        return [self._api_key_info(row) for row in rows]

    async def revoke_api_key(self, by: Principal, key_id: str) -> ApiKeyInfo:
        """Immediate: the next request with the key is refused. Another person's key is NOT_FOUND."""
        row = self._store.api_key(key_id) if isinstance(key_id, str) else None
        if row is None or (by.role != "admin" and row["owner_account_id"] != by.account_id):
            raise AuthError("NOT_FOUND", f"no API key {key_id!r}")
        self._store.revoke_api_key(key_id, self._now())
        self._identities.pop(key_id, None)
        log.info("API key %s revoked by %s", key_id, by.account_id)
        return self._api_key_info(self._store.api_key(key_id))

    # -- service identities ----------------------------------------------------------------------------------------

    def operator_identity(self) -> IssuedIdentity:
        """The identity the gateway submits with when it acts for the operator (role admin, Org1MSP)."""
        return self._identity(OPERATOR_ID)

    def bootstrap_admin(self, email: str, password: str) -> AccountInfo:
        """Create the first admin (verified) unless it exists; for ``make demo`` and tests. Synchronous."""
        email = normalise_email(email)
        existing = self._store.account_by_email(email)
        if existing is not None:
            if existing["role"] != "admin":
                raise AuthError("EMAIL_TAKEN", f"{email} already has an account with role {existing['role']}")
            return self._account_info(existing)
        check_password(password, email)
        info = self._create_account(email, "", self._hasher.hash(password), "Org1MSP", "admin", verified=True)
        log.info("admin account %s bootstrapped", info.account_id)
        return info

    def console_principal(self, email: str | None = None) -> Principal:
        """For the local console only (whoever reads this directory is the operator already): the operator
        acting as admin, or the account with ``email``."""
        if email is None:
            return Principal(OPERATOR_ID, f"Org1MSP:{OPERATOR_ID}", None, "Org1MSP", "admin", "console", None,
                             self.operator_identity())
        row = self._store.account_by_email(normalise_email(email))
        if row is None:
            raise AuthError("NOT_FOUND", f"no account with email {email}")
        return Principal(row["account_id"], f"{row['org']}:{row['account_id']}", row["email"], row["org"],
                         row["role"], "console", None, self._identity(row["account_id"]))

    # -- internals -----------------------------------------------------------------------------------------------

    def _now(self) -> int:
        return int(self._clock())

    @staticmethod
    def _token_digest(token: object, code: str) -> bytes:
        if not isinstance(token, str) or not token or len(token) > 200:
            raise AuthError(code, "missing or malformed token")
        return token_hash(token)

    @staticmethod
    def _require_admin(by: Principal) -> None:
        if not isinstance(by, Principal) or by.role != "admin":
            raise AuthError("FORBIDDEN", "only an admin can do this")

    @staticmethod
    def _check_role_org(role: object, org: object) -> tuple[str, str]:
        if role not in ROLES:
            raise AuthError("INVALID_ARGUMENT", f"role must be one of {', '.join(ROLES)}")
        if org not in ORGS:
            raise AuthError("INVALID_ARGUMENT", f"org must be one of {', '.join(ORGS)}")
        return role, org  # type: ignore[return-value]

    def _verify_password(self, stored: str | None, password: object) -> bool:
        """Runs in a worker thread. An unknown email still costs one verification, so timing does not tell
        which addresses have accounts."""
        if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
            return False
        if stored is None:
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
            stored = self._dummy_hash
        try:
            return self._hasher.verify(stored, password)
        except VerifyMismatchError:
            return False
        except (VerificationError, InvalidHashError):
            log.error("a stored password hash is damaged")
            return False

    def _check_rate(self, subjects: list[str], now: int) -> None:
        for subject in subjects:
            limit = LOGIN_LIMITS[subject.split(":", 1)[0]]
            failures = self._store.failures_since(subject, now - LOGIN_WINDOW_S)
            if len(failures) >= limit:
                retry_after = max(1, failures[-limit] + LOGIN_WINDOW_S - now)
                raise AuthError("RATE_LIMITED", f"too many failed logins; try again in {retry_after} s",
                                retry_after=retry_after)

    def _new_session(self, account: sqlite3.Row) -> TokenPair:
        family_id = secrets.token_hex(16)
        refresh = new_opaque_token()
        now = self._now()
        with self._store.transaction():
            self._store.insert_family(family_id, account["account_id"], now)
            self._store.insert_refresh_token(token_hash(refresh), family_id, now, now + self._refresh_ttl_s)
        access = self._access.issue(account["account_id"], account["role"], account["org"], family_id)
        return TokenPair(access, refresh, "Bearer", self._access.ttl_s)

    async def _send_verification(self, account_id: str, email: str) -> None:
        token = new_opaque_token()
        now = self._now()
        self._store.insert_email_token(token_hash(token), account_id, now, now + VERIFY_TTL_S)
        body = (f"Welcome to VPP Ledger.\n\nOpen this link to verify your email address:\n\n"
                f"{self._public_url}/verify?token={token}\n\nThe link works once and expires in 24 hours. "
                "If you did not register, ignore this message.\n")
        try:
            await self._mailer.send(email, "Verify your VPP Ledger account", body)
        except Exception as exc:  # the account stays; the person can ask for another link (resend_verification)
            log.error("could not send the verification mail for %s: %s: %s", account_id, type(exc).__name__,
                      str(exc)[:200])

    def _new_identity(self, enrollment_id: str, org: str, role: str,
                      attributes: dict[str, str] | None = None) -> IssuedIdentity:
        identity = self._cas[org].issue(enrollment_id, role, attributes, valid_days=CERT_VALID_DAYS)
        self._keystore.save(identity)
        return identity

    def _create_account(self, email: str | None, display_name: str, password_hash: str | None, org: str, role: str,
                        *, verified: bool) -> AccountInfo:
        account_id = f"acc_{secrets.token_hex(10)}"
        identity = self._new_identity(account_id, org, role)
        now = self._now()
        try:
            with self._store.transaction():
                self._store.insert_identity(account_id, org, role, identity.certificate_pem, now)
                self._store.insert_account(account_id, email, display_name, password_hash, org, role, now,
                                           now if verified else None)
        except BaseException:
            self._keystore.remove(account_id)  # the row never existed: do not leave its key behind
            raise
        self._identities[account_id] = identity
        return self.get_account(account_id)

    def _ensure_operator(self) -> None:
        if self._store.identity(OPERATOR_ID) is None:
            identity = self._new_identity(OPERATOR_ID, "Org1MSP", "admin")
            self._store.insert_identity(OPERATOR_ID, "Org1MSP", "admin", identity.certificate_pem, self._now())
            self._identities[OPERATOR_ID] = identity

    def _identity(self, enrollment_id: str) -> IssuedIdentity:
        identity = self._identities.get(enrollment_id)
        if identity is None:
            row = self._store.identity(enrollment_id)
            if row is None:
                raise AccountStoreError("KEY_STORE_UNREADABLE", f"no certificate stored for {enrollment_id}")
            identity = self._keystore.load(row["org"], enrollment_id, bytes(row["certificate_pem"]),
                                           self._cas[row["org"]].certificate_pem)
            self._identities[enrollment_id] = identity
        return identity

    @staticmethod
    def _account_info(row: sqlite3.Row) -> AccountInfo:
        return AccountInfo(row["account_id"], f"{row['org']}:{row['account_id']}", row["email"], row["org"],
                           row["role"], row["verified_at"] is not None, row["created_at"])

    @staticmethod
    def _api_key_info(row: sqlite3.Row) -> ApiKeyInfo:
        return ApiKeyInfo(row["key_id"], row["name"], row["org"], row["role"], row["created_at"], row["revoked_at"],
                          row["last4"])
