"""All SQL of the account service: schema (versioned with ``PRAGMA user_version``), reads and writes.

Secrets never enter the database in the clear: email-verification tokens, refresh tokens and API-key secrets
are stored as SHA-256 digests, passwords as argon2id hashes, private keys not at all (see ``keystore``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from .errors import AccountStoreError, AuthError

__all__ = ["SCHEMA_VERSION", "AccountStore"]

SCHEMA_VERSION = 1

# Migrations by target version; a later release appends (2: "...") and the store upgrades in place.
_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE identities (
        enrollment_id   TEXT PRIMARY KEY,
        org             TEXT NOT NULL,
        role            TEXT NOT NULL,
        certificate_pem BLOB NOT NULL,
        created_at      INTEGER NOT NULL
    );
    CREATE TABLE accounts (
        account_id    TEXT PRIMARY KEY REFERENCES identities(enrollment_id),
        email         TEXT UNIQUE,
        display_name  TEXT NOT NULL DEFAULT '',
        password_hash TEXT,
        org           TEXT NOT NULL,
        role          TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        verified_at   INTEGER,
        disabled_at   INTEGER
    );
    CREATE TABLE email_tokens (
        token_hash BLOB PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(account_id),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at    INTEGER
    );
    CREATE INDEX email_tokens_by_account ON email_tokens(account_id, created_at);
    CREATE TABLE refresh_families (
        family_id      TEXT PRIMARY KEY,
        account_id     TEXT NOT NULL REFERENCES accounts(account_id),
        created_at     INTEGER NOT NULL,
        revoked_at     INTEGER,
        revoked_reason TEXT
    );
    CREATE INDEX refresh_families_by_account ON refresh_families(account_id);
    CREATE TABLE refresh_tokens (
        token_hash BLOB PRIMARY KEY,
        family_id  TEXT NOT NULL REFERENCES refresh_families(family_id),
        issued_at  INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at    INTEGER
    );
    CREATE INDEX refresh_tokens_by_family ON refresh_tokens(family_id);
    CREATE TABLE api_keys (
        key_id           TEXT PRIMARY KEY REFERENCES identities(enrollment_id),
        secret_hash      BLOB NOT NULL,
        name             TEXT NOT NULL,
        owner_account_id TEXT NOT NULL REFERENCES accounts(account_id),
        org              TEXT NOT NULL,
        role             TEXT NOT NULL,
        last4            TEXT NOT NULL,
        created_at       INTEGER NOT NULL,
        revoked_at       INTEGER
    );
    CREATE INDEX api_keys_by_owner ON api_keys(owner_account_id);
    CREATE TABLE login_failures (subject TEXT NOT NULL, at INTEGER NOT NULL);
    CREATE INDEX login_failures_by_subject ON login_failures(subject, at);
    """,
}


class AccountStore:
    """One SQLite connection (WAL) guarded by a lock: the service calls it from the event loop and from
    worker threads alike."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db = db
        self._lock = threading.RLock()
        self.path = path

    @classmethod
    def open(cls, path: Path) -> AccountStore:
        if not path.exists():  # create it 0600 first: SQLite gives its -wal and -shm files the same mode
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=5000")
        store = cls(db, path)
        store._migrate()
        return store

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise AccountStoreError("STORE_VERSION_UNSUPPORTED",
                                    f"{self.path.name} has schema {version}; this release reads up to {SCHEMA_VERSION}")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self.transaction():
                for statement in _MIGRATIONS[target].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={target}")

    @property
    def schema_version(self) -> int:
        return self._db.execute("PRAGMA user_version").fetchone()[0]

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (nested calls join the outer one). Never ``await`` inside: the lock is
        re-entrant, so another coroutine of the same thread would join the transaction."""
        with self._lock:
            if self._db.in_transaction:
                yield
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _one(self, sql: str, *args: object) -> sqlite3.Row | None:
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    def _all(self, sql: str, *args: object) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _run(self, sql: str, *args: object) -> int:
        with self._lock:
            return self._db.execute(sql, args).rowcount

    # meta
    def meta(self, name: str) -> bytes | None:
        row = self._one("SELECT value FROM meta WHERE name = ?", name)
        return None if row is None else bytes(row["value"])

    def set_meta(self, name: str, value: bytes) -> None:
        self._run("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", name, value)

    def has_identities(self) -> bool:
        return self._one("SELECT 1 FROM identities LIMIT 1") is not None

    # identities (certificates only; the keys are in the key store)
    def insert_identity(self, enrollment_id: str, org: str, role: str, certificate_pem: bytes, at: int) -> None:
        self._run("INSERT INTO identities (enrollment_id, org, role, certificate_pem, created_at) VALUES (?,?,?,?,?)",
                  enrollment_id, org, role, certificate_pem, at)

    def identity(self, enrollment_id: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM identities WHERE enrollment_id = ?", enrollment_id)

    # accounts
    def insert_account(self, account_id: str, email: str | None, display_name: str, password_hash: str | None,
                       org: str, role: str, at: int, verified_at: int | None) -> None:
        try:
            self._run("INSERT INTO accounts (account_id, email, display_name, password_hash, org, role, created_at,"
                      " verified_at) VALUES (?,?,?,?,?,?,?,?)",
                      account_id, email, display_name, password_hash, org, role, at, verified_at)
        except sqlite3.IntegrityError as exc:
            if "accounts.email" in str(exc):
                raise AuthError("EMAIL_TAKEN", "an account with this email exists") from None
            raise

    def account(self, account_id: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM accounts WHERE account_id = ?", account_id)

    def account_by_email(self, email: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM accounts WHERE email = ?", email)

    def set_verified(self, account_id: str, at: int) -> None:
        self._run("UPDATE accounts SET verified_at = ? WHERE account_id = ? AND verified_at IS NULL", at, account_id)

    def set_password_hash(self, account_id: str, password_hash: str) -> None:
        self._run("UPDATE accounts SET password_hash = ? WHERE account_id = ?", password_hash, account_id)

    def set_disabled(self, account_id: str, at: int | None) -> None:
        self._run("UPDATE accounts SET disabled_at = ? WHERE account_id = ?", at, account_id)

    # email verification tokens
    def insert_email_token(self, token_hash: bytes, account_id: str, at: int, expires_at: int) -> None:
        self._run("INSERT INTO email_tokens (token_hash, account_id, created_at, expires_at) VALUES (?,?,?,?)",
                  token_hash, account_id, at, expires_at)

    def email_token(self, token_hash: bytes) -> sqlite3.Row | None:
        return self._one("SELECT * FROM email_tokens WHERE token_hash = ?", token_hash)

    def use_email_token(self, token_hash: bytes, at: int) -> bool:
        """Mark the token used; False when someone used it first (single use even under concurrency)."""
        return self._run("UPDATE email_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL",
                         at, token_hash) == 1

    def last_email_token_at(self, account_id: str) -> int | None:
        row = self._one("SELECT MAX(created_at) AS at FROM email_tokens WHERE account_id = ?", account_id)
        return None if row is None else row["at"]

    # refresh tokens and their families (one family per login)
    def insert_family(self, family_id: str, account_id: str, at: int) -> None:
        self._run("INSERT INTO refresh_families (family_id, account_id, created_at) VALUES (?,?,?)",
                  family_id, account_id, at)

    def family(self, family_id: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM refresh_families WHERE family_id = ?", family_id)

    def session(self, account_id: str, family_id: str) -> sqlite3.Row | None:
        """An access token's account with its session's state (``family_account_id`` NULL: no such session), in
        one statement: every authenticated request asks."""
        return self._one("SELECT a.account_id, a.email, a.org, a.role, a.disabled_at,"
                         " f.account_id AS family_account_id, f.revoked_at AS family_revoked_at"
                         " FROM accounts a LEFT JOIN refresh_families f ON f.family_id = ?"
                         " WHERE a.account_id = ?", family_id, account_id)

    def revoke_family(self, family_id: str, at: int, reason: str) -> None:
        self._run("UPDATE refresh_families SET revoked_at = ?, revoked_reason = ? WHERE family_id = ?"
                  " AND revoked_at IS NULL", at, reason, family_id)

    def revoke_families_of(self, account_id: str, at: int, reason: str) -> None:
        self._run("UPDATE refresh_families SET revoked_at = ?, revoked_reason = ? WHERE account_id = ?"
                  " AND revoked_at IS NULL", at, reason, account_id)

    def insert_refresh_token(self, token_hash: bytes, family_id: str, at: int, expires_at: int) -> None:
        self._run("INSERT INTO refresh_tokens (token_hash, family_id, issued_at, expires_at) VALUES (?,?,?,?)",
                  token_hash, family_id, at, expires_at)

    def refresh_token(self, token_hash: bytes) -> sqlite3.Row | None:
        return self._one("SELECT t.*, f.account_id, f.revoked_at AS family_revoked_at FROM refresh_tokens t"
                         " JOIN refresh_families f USING (family_id) WHERE t.token_hash = ?", token_hash)

    def use_refresh_token(self, token_hash: bytes, at: int) -> bool:
        return self._run("UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL",
                         at, token_hash) == 1

    # API keys
    def insert_api_key(self, key_id: str, secret_hash: bytes, name: str, owner_account_id: str, org: str, role: str,
                       last4: str, at: int) -> None:
        self._run("INSERT INTO api_keys (key_id, secret_hash, name, owner_account_id, org, role, last4, created_at)"
                  " VALUES (?,?,?,?,?,?,?,?)", key_id, secret_hash, name, owner_account_id, org, role, last4, at)

    def api_key(self, key_id: str) -> sqlite3.Row | None:
        """The key with its owner's state, in one indexed lookup."""
        return self._one("SELECT k.*, a.disabled_at AS owner_disabled_at FROM api_keys k"
                         " JOIN accounts a ON a.account_id = k.owner_account_id WHERE k.key_id = ?", key_id)

    def api_keys(self, owner_account_id: str | None) -> list[sqlite3.Row]:
        if owner_account_id is None:
            return self._all("SELECT * FROM api_keys ORDER BY created_at, rowid")
        return self._all("SELECT * FROM api_keys WHERE owner_account_id = ? ORDER BY created_at, rowid",
                         owner_account_id)

    def revoke_api_key(self, key_id: str, at: int) -> None:
        self._run("UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL", at, key_id)

    # login failures (rate limiting); subject is "email:<address>" or "client:<address>"
    def record_failure(self, subject: str, at: int, window_s: int) -> None:
        with self.transaction():
            self._run("DELETE FROM login_failures WHERE at <= ?", at - window_s)
            self._run("INSERT INTO login_failures (subject, at) VALUES (?, ?)", subject, at)

    def failures_since(self, subject: str, since: int) -> list[int]:
        return [row["at"] for row in self._all(
            "SELECT at FROM login_failures WHERE subject = ? AND at > ? ORDER BY at", subject, since)]

    def clear_failures(self, subject: str) -> None:
        self._run("DELETE FROM login_failures WHERE subject = ?", subject)
