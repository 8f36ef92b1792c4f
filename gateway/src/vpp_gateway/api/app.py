"""``create_app(config, ledger, accounts)``: the Falcon ASGI application, every dependency passed in.

The route table below is the single list of routes; the OpenAPI document is generated from it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import falcon
import falcon.asgi

from ..ledger_client import LedgerClient
from .config import Config
from .deps import Deps
from .errors import ApiError, install_error_handlers
from .ledger_calls import LedgerCalls
from .metrics import Metrics, MetricsMiddleware
from .openapi import build_document
from .resources import auth, events, market, ops, readings, registry, statements
from .security import RateLimiter, SecurityMiddleware

__all__ = ["API_PREFIX", "ROUTES", "create_app"]

log = logging.getLogger("vpp_gateway.api")

API_PREFIX = "/api/v1"

#: (path under /api/v1, resource class). One class per route.
ROUTES: tuple[tuple[str, type], ...] = (
    ("/auth/register", auth.Register),
    ("/auth/verify", auth.Verify),
    ("/auth/resend", auth.Resend),
    ("/auth/login", auth.Login),
    ("/auth/refresh", auth.Refresh),
    ("/auth/logout", auth.Logout),
    ("/me", auth.Me),
    ("/me/balance", market.MyBalance),
    ("/api-keys", auth.ApiKeys),
    ("/api-keys/{key_id}", auth.ApiKey),
    ("/accounts", auth.Accounts),
    ("/sites", registry.Sites),
    ("/sites/{site_id}", registry.Site),
    ("/sites/{site_id}/assets", registry.SiteAssets),
    ("/sites/{site_id}/readings", readings.SiteReadings),
    ("/sites/{site_id}/statement", statements.SiteStatement),
    ("/assets/{asset_id}", registry.Asset),
    ("/assets/{asset_id}/meters", registry.AssetMeters),
    ("/assets/{asset_id}/events", market.AssetEvents),
    ("/assets/{asset_id}/battery", market.Battery),
    ("/meters/{meter_id}", registry.Meter),
    ("/meters/{meter_id}/key", registry.MeterKey),
    ("/meters/{meter_id}/active", registry.MeterActive),
    ("/meters/{meter_id}/readings", readings.MeterReadings),
    ("/readings/batches", readings.ReadingBatches),
    ("/readings", readings.LocationReadings),
    ("/balances/{account}", market.Balance),
    ("/lots/{account}", market.Lots),
    ("/supply", market.Supply),
    ("/offers", market.Offers),
    ("/offers/{offer_id}", market.Offer),
    ("/offers/{offer_id}/accept", market.OfferAccept),
    ("/offers/{offer_id}/trades", market.OfferTrades),
    ("/credit/deposits", market.Deposits),
    ("/standing-bid", market.StandingBid),
    ("/settlements", market.Settlements),
    ("/events/stream", events.EventStream),
    ("/health", ops.Health),
    ("/ready", ops.Ready),
    ("/metrics", ops.MetricsText),
    ("/docs", ops.Docs),
)
OPENAPI_PATH = "/openapi.json"


class Lifespan:
    """Closes what the app was given to own (the asgi module's ledger and accounts) when the server stops."""

    def __init__(self, on_shutdown: Callable[[], Any] | None) -> None:
        self.on_shutdown = on_shutdown

    async def process_startup(self, scope: dict, event: dict) -> None:
        log.info("gateway started")

    async def process_shutdown(self, scope: dict, event: dict) -> None:
        if self.on_shutdown is not None:
            result = self.on_shutdown()
            if hasattr(result, "__await__"):
                await result
        log.info("gateway stopped")


async def _unknown_api_route(req: falcon.asgi.Request, resp: falcon.asgi.Response, **params: Any) -> None:
    raise ApiError("ROUTE_NOT_FOUND", f"no route {req.path}")


def create_app(config: Config, ledger: LedgerClient, accounts: Any, *, metrics: Metrics | None = None,
               clock: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic,
               on_shutdown: Callable[[], Any] | None = None) -> falcon.asgi.App:
    """The gateway. ``accounts`` is a :class:`vpp_gateway.accounts.AccountService` (or anything with its interface);
    ``on_shutdown`` runs at ASGI lifespan shutdown (close the ledger and accounts the caller opened for the app)."""
    from ..accounts import AuthError  # the accounts package owns this type

    metrics = metrics or Metrics()
    deps = Deps(config=config, ledger_client=ledger, accounts=accounts, metrics=metrics,
                ledger=LedgerCalls(ledger, metrics), clock=clock)
    app = falcon.asgi.App(middleware=[MetricsMiddleware(metrics),
                                      SecurityMiddleware(accounts, RateLimiter(config.rate_per_min, monotonic)),
                                      Lifespan(on_shutdown)])
    app.req_options.strip_url_path_trailing_slash = True
    routes = [(API_PREFIX + path, resource(deps)) for path, resource in ROUTES]
    for path, resource in routes:
        app.add_route(path, resource)
    limits = {"max_body_bytes": config.max_body_bytes, "max_batch": config.max_batch, "max_page": config.max_page,
              "rate_per_min": config.rate_per_min}
    document = ops.OpenApiDocument(deps, lambda: build_document(routes, limits=limits))
    routes.append((API_PREFIX + OPENAPI_PATH, document))  # documented too: the factory reads the list lazily
    app.add_route(API_PREFIX + OPENAPI_PATH, document)
    app.add_sink(_unknown_api_route, r"^/api(/|$)")
    web_dir = Path(config.web_dir) if config.web_dir else None
    if web_dir is not None and web_dir.is_dir():
        app.add_static_route("/", str(web_dir.resolve()), fallback_filename="index.html")
        log.info("serving the web app from %s", web_dir)
    install_error_handlers(app, AuthError)
    return app

