"""Every refusal of the account service is an :class:`AuthError` with a stable code and the HTTP status the REST
API answers with (one table, so a code always means the same status)."""

from __future__ import annotations

__all__ = ["STATUS", "AccountStoreError", "AuthError"]

STATUS: dict[str, int] = {
    "INVALID_ARGUMENT": 422,  # as the chaincode's code of the same name
    "BAD_CREDENTIALS": 401,
    "TOKEN_INVALID": 401,
    "TOKEN_EXPIRED": 401,
    "TOKEN_REVOKED": 401,
    "API_KEY_INVALID": 401,
    "API_KEY_REVOKED": 401,
    "EMAIL_NOT_VERIFIED": 403,
    "ACCOUNT_DISABLED": 403,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "EMAIL_TAKEN": 409,
    "INVALID_EMAIL": 422,
    "WEAK_PASSWORD": 422,
    "RATE_LIMITED": 429,
    # the server cannot read its own store (master key missing or replaced, schema from a newer release)
    "KEY_STORE_UNREADABLE": 503,
    "STORE_VERSION_UNSUPPORTED": 503,
}


class AuthError(Exception):
    """A refusal: ``code`` (machine-readable), ``status`` (HTTP) and ``message`` (for people).

    ``retry_after`` (seconds) is set for ``RATE_LIMITED``.
    """

    def __init__(self, code: str, message: str, *, retry_after: int | None = None) -> None:
        if code not in STATUS:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(f"{code}: {message}")
        self.code = code
        self.status = STATUS[code]
        self.message = message
        self.retry_after = retry_after


class AccountStoreError(AuthError):
    """The account directory cannot be opened as it is (a server fault, not the caller's): raised by
    ``AccountService.open`` and when a stored private key does not decrypt."""
