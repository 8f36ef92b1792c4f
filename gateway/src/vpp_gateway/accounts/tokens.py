"""Access tokens (HS256 JWTs checked against an injected clock) and opaque random tokens stored as hashes."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from .errors import AuthError

__all__ = ["ISSUER", "AccessClaims", "AccessTokens", "new_opaque_token", "token_hash"]

ISSUER = "vpp-gateway"
_ALGORITHM = "HS256"
_REQUIRED = ("sub", "role", "org", "exp", "iat", "jti", "typ", "sid", "iss")
_CLOCK_SKEW_S = 60  # an iat this far in the future means a forged or mis-clocked token
_VERIFIED_MAX = 4096  # tokens whose signature and claims were checked once (a few hundred bytes each)


def new_opaque_token(nbytes: int = 32) -> str:
    """A random URL-safe token (256 bits by default) without padding."""
    return base64.urlsafe_b64encode(secrets.token_bytes(nbytes)).rstrip(b"=").decode()


def token_hash(token: str) -> bytes:
    """What the store keeps instead of a token: SHA-256 is enough for 256-bit random secrets (no KDF needed)."""
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class AccessClaims:
    account_id: str
    role: str
    org: str
    session_id: str
    expires_at: int


class AccessTokens:
    """Issues and checks access JWTs. ``clock`` decides expiry (PyJWT's own wall-clock checks are off)."""

    def __init__(self, secret: bytes, clock: Callable[[], float], ttl_s: int) -> None:
        if len(secret) < 32:
            raise ValueError("the JWT secret must be at least 256 bits")
        self._secret = secret
        self._clock = clock
        self.ttl_s = ttl_s
        # a token's signature and claims are checked once: the same string under the same secret always checks the
        # same (PyJWT takes ~80 µs, the longest step of an authenticated request). Expiry is checked on every use;
        # only tokens that passed are kept, so invalid ones cannot push valid ones out.
        self._verified: OrderedDict[str, tuple[AccessClaims, int]] = OrderedDict()

    def __repr__(self) -> str:
        return f"AccessTokens(ttl_s={self.ttl_s})"

    def issue(self, account_id: str, role: str, org: str, session_id: str) -> str:
        now = int(self._clock())
        claims = {"iss": ISSUER, "sub": account_id, "role": role, "org": org, "sid": session_id, "typ": "access",
                  "iat": now, "exp": now + self.ttl_s, "jti": secrets.token_hex(16)}
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM)

    def check(self, token: object) -> AccessClaims:
        """Signature, algorithm, issuer, type, expiry; raises ``TOKEN_INVALID`` or ``TOKEN_EXPIRED``."""
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise AuthError("TOKEN_INVALID", "missing or malformed access token")
        known = self._verified.get(token)
        if known is None:
            known = self._verify(token)
            self._verified[token] = known
            if len(self._verified) > _VERIFIED_MAX:
                self._verified.popitem(last=False)
        claims, iat = known
        now = self._clock()
        if now >= claims.expires_at:
            raise AuthError("TOKEN_EXPIRED", "the access token has expired; refresh it")
        if iat > now + _CLOCK_SKEW_S:
            raise AuthError("TOKEN_INVALID", "the access token was issued in the future")
        return claims

    def _verify(self, token: str) -> tuple[AccessClaims, int]:
        """Signature, algorithm, issuer, type and the claims' shapes (not time: that is checked at every use)."""
        try:
            # algorithms is a whitelist: "none", and HS512/RS256 confusion, are refused here
            claims = jwt.decode(token, self._secret, algorithms=[_ALGORITHM], issuer=ISSUER,
                                options={"require": list(_REQUIRED), "verify_exp": False, "verify_iat": False,
                                         "verify_nbf": False})
        except jwt.InvalidTokenError:
            raise AuthError("TOKEN_INVALID", "the access token is not valid") from None
        if claims.get("typ") != "access":
            raise AuthError("TOKEN_INVALID", "not an access token")
        fields = (claims["sub"], claims["role"], claims["org"], claims["sid"])
        exp, iat = claims["exp"], claims["iat"]
        if not all(isinstance(v, str) for v in fields) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in (exp, iat)):
            raise AuthError("TOKEN_INVALID", "the access token has malformed claims")
        return AccessClaims(claims["sub"], claims["role"], claims["org"], claims["sid"], exp), iat
