"""Operations: liveness, readiness, metrics, the OpenAPI document and its documentation page."""

from __future__ import annotations

import falcon

from ...ledger_client import ContractError, LedgerError
from ..deps import Resource
from ..docs_page import DOCS_HTML
from ..endpoint import Call, Reply, operation
from ..models.events import HealthResponse, ReadyResponse

TAG = "operations"
READY_PROBE_ACCOUNT = "Org1MSP:__readiness_probe__"  # an owner with no sites: the cheapest query that runs


class Health(Resource):
    @operation("The process is up", tags=TAG, auth=False, ledger=False, response=HealthResponse)
    async def on_get(self, call: Call):
        return HealthResponse(status="ok")


class Ready(Resource):
    @operation("The ledger answers a query", tags=TAG, auth=False, ledger=False, response=ReadyResponse,
               errors=("LEDGER_UNAVAILABLE",))
    async def on_get(self, call: Call):
        backend = self.deps.config.backend
        try:
            await self.deps.ledger.query(self.deps.accounts.operator_identity(), "GetSites", READY_PROBE_ACCOUNT)
        except ContractError as exc:  # the contract answered: the ledger is up
            return ReadyResponse(status="ready", backend=backend, detail=exc.code)
        except LedgerError as exc:
            return Reply(ReadyResponse(status="unavailable", backend=backend, detail=exc.reason), 503,
                         {"Retry-After": "2"})
        return ReadyResponse(status="ready", backend=backend)


class MetricsText(Resource):
    @operation("Prometheus metrics (text exposition format 0.0.4)", tags=TAG, auth=False, ledger=False,
               media=("text/plain",))
    async def on_get(self, call: Call):
        call.resp.content_type = "text/plain; version=0.0.4; charset=utf-8"
        call.resp.text = self.deps.metrics.expose()
        return None


class OpenApiDocument(Resource):
    def __init__(self, deps, document_factory) -> None:
        super().__init__(deps)
        self._factory = document_factory
        self._document: dict | None = None

    @operation("This API's OpenAPI 3.1 document", tags=TAG, auth=False, ledger=False)
    async def on_get(self, call: Call):
        if self._document is None:
            self._document = self._factory()
        call.resp.media = self._document
        return None


class Docs(Resource):
    @operation("The API documentation page (self-contained: no CDN)", tags=TAG, auth=False, ledger=False,
               media=("text/html",))
    async def on_get(self, call: Call):
        call.resp.status = falcon.HTTP_200
        call.resp.content_type = falcon.MEDIA_HTML
        call.resp.text = DOCS_HTML
        call.resp.set_header("Content-Security-Policy",
                             "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                             "connect-src 'self'")
        return None
