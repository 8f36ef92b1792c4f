"""A site's statement for a period: JSON, or a CSV/XML attachment with the same figures."""

from __future__ import annotations

import falcon

from ..deps import Resource
from ..endpoint import Call, operation
from ..models.statements import StatementQuery, StatementResponse
from ..statement_export import attachment_name, to_csv, to_xml
from .lookups import time_range

EXPORTS = {"csv": ("text/csv; charset=utf-8", to_csv), "xml": ("application/xml; charset=utf-8", to_xml)}


class SiteStatement(Resource):
    @operation("A site's statement in [from, to): per interval what its meters measured and what it did to tokens, "
               "and the totals (format=csv|xml: an attachment with the same figures)", tags="statements",
               query=StatementQuery, response=StatementResponse, media=("text/csv", "application/xml"),
               errors=("NOT_FOUND", "FORBIDDEN", "INVALID_ARGUMENT"))
    async def on_get(self, call: Call):
        start, end = time_range(self.deps, call.query)
        statement = await self.deps.ledger.query(call.principal.identity, "GetSiteStatement", call.params["site_id"],
                                                 start, end)
        if call.query.format == "json":
            return StatementResponse.model_validate(statement)
        content_type, render = EXPORTS[call.query.format]
        call.resp.status = falcon.HTTP_200
        call.resp.content_type = content_type
        call.resp.text = render(statement)
        call.resp.downloadable_as = attachment_name(statement, call.query.format)
        return None
