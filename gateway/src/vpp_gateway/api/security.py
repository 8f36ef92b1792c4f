"""Who is calling, and how often: the principal from ``Authorization: Bearer`` or ``X-API-Key``, and a token-bucket
rate limit per principal (or per client address when anonymous).

A credential that is present but wrong is refused at once (401 with the accounts service's code), even on routes
that do not need one: a client that believes it is authenticated must learn that it is not.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from falcon.asgi import Request, Response

from .errors import ApiError

__all__ = ["RateLimiter", "SecurityMiddleware"]

UNLIMITED_PATHS = frozenset({"/api/v1/health", "/api/v1/ready", "/api/v1/metrics"})  # probes and scrapers
STREAM_PATH = "/api/v1/events/stream"


class RateLimiter:
    """Token buckets: ``per_minute`` requests a minute on average, bursts up to a minute's worth.

    Buckets full again are forgotten when the table grows, so a scan from many addresses cannot grow it forever.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic, max_buckets: int = 50_000):
        self.capacity = float(per_minute)
        self.refill_per_s = per_minute / 60.0
        self.clock = clock
        self.max_buckets = max_buckets
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last time)

    def take(self, key: str) -> float:
        """0 when allowed, else the seconds until a token is available."""
        if self.capacity <= 0:
            return 0.0
        now = self.clock()
        tokens, last = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.refill_per_s)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.refill_per_s
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > self.max_buckets:
            self._forget_full(now)
        return 0.0

    def _forget_full(self, now: float) -> None:
        for key, (tokens, last) in list(self._buckets.items()):
            if tokens + (now - last) * self.refill_per_s >= self.capacity:
                del self._buckets[key]


class SecurityMiddleware:
    def __init__(self, accounts: Any, limiter: RateLimiter) -> None:
        self.accounts = accounts
        self.limiter = limiter

    async def authenticate(self, req: Request) -> Any:
        api_key = req.get_header("X-API-Key")
        authorization = req.get_header("Authorization")
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise ApiError("TOKEN_INVALID", "Authorization must be 'Bearer <access token>'",
                               headers={"WWW-Authenticate": 'Bearer realm="vpp"'})
            return self.accounts.authenticate_bearer(token.strip())
        if api_key:
            return await self.accounts.authenticate_api_key(api_key.strip())
        if req.path == STREAM_PATH and req.get_param("access_token"):  # EventSource cannot send headers
            return self.accounts.authenticate_bearer(req.get_param("access_token"))
        return None

    async def process_request(self, req: Request, resp: Response) -> None:
        req.context.principal = None
        if not req.path.startswith("/api/"):
            return
        try:
            principal = await self.authenticate(req)
        except Exception:
            self._limit(req, None)  # a wrong credential costs the address a token too: no free guessing
            raise
        req.context.principal = principal
        self._limit(req, principal)

    def _limit(self, req: Request, principal: Any) -> None:
        if req.path in UNLIMITED_PATHS:
            return
        key = f"p:{principal.account_id}:{principal.api_key_id or ''}" if principal else f"a:{req.remote_addr}"
        wait = self.limiter.take(key)
        if wait:
            raise ApiError("RATE_LIMITED", "too many requests; slow down",
                           headers={"Retry-After": str(max(1, math.ceil(wait)))})
