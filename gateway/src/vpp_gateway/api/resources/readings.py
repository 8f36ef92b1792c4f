"""Signed meter readings: batches from the edge bridge, and readings by meter, site and location."""

from __future__ import annotations

from ..deps import Resource
from ..endpoint import Call, operation
from ..errors import ApiError
from ..models.readings import (
    LocationReadingsQuery,
    LocationReadingsResponse,
    ReadingBatchRequest,
    ReadingBatchResponse,
    ReadingListResponse,
    ReadingRangeQuery,
    ReadingRecord,
    ReadingResult,
)
from ..pagination import decode_cursor, encode_cursor, page_after
from .lookups import rich_query, time_range

TAG = "readings"
ADMIN = frozenset({"admin"})
PRIVILEGED = frozenset({"admin", "utility", "auditor"})


class ReadingBatches(Resource):
    @operation("Submit a batch of meter-signed readings (admin or admin API key: the edge bridge). One result per "
               "reading: accepted, duplicate (already on the ledger) or rejected with a code", tags=TAG, roles=ADMIN,
               body=ReadingBatchRequest, response=ReadingBatchResponse, errors=("BATCH_TOO_LARGE",))
    async def on_post(self, call: Call):
        readings = call.body.readings
        limit = self.deps.config.max_batch
        if len(readings) > limit:
            raise ApiError("BATCH_TOO_LARGE", f"at most {limit} readings per batch, got {len(readings)}",
                           limit=limit)
        results, committed = await self.deps.ledger.submit(call.principal.identity, "SubmitReadings", readings)
        parsed = [ReadingResult.model_validate(r) for r in results]
        count = {status: sum(1 for r in parsed if r.status == status) for status in ("accepted", "duplicate",
                                                                                     "rejected")}
        return ReadingBatchResponse(tx_id=committed.tx_id, block=committed.block_number, results=parsed,
                                    accepted=count["accepted"], duplicates=count["duplicate"],
                                    rejected=count["rejected"])


class MeterReadings(Resource):
    @operation("A meter's readings in [from, to) (default: the last day; at most 3,000 intervals)", tags=TAG,
               query=ReadingRangeQuery, response=ReadingListResponse,
               errors=("UNKNOWN_METER", "FORBIDDEN", "INVALID_ARGUMENT"))
    async def on_get(self, call: Call):
        start, end = time_range(self.deps, call.query)
        readings = await self.deps.ledger.query(call.principal.identity, "GetReadings", call.params["meter_id"],
                                                start, end)
        page, cursor = page_after(readings, lambda r: r["start"], call.query.limit, call.query.cursor,
                                  "meter-readings")
        return ReadingListResponse(readings=[ReadingRecord.model_validate(r) for r in page], next_cursor=cursor)


class SiteReadings(Resource):
    @operation("Every reading of a site's meters in [from, to), paged by the ledger (rich query)", tags=TAG,
               query=ReadingRangeQuery, response=ReadingListResponse,
               errors=("NOT_FOUND", "FORBIDDEN", "NOT_SUPPORTED_ON_THIS_BACKEND"))
    async def on_get(self, call: Call):
        q = call.query
        start, end = time_range(self.deps, q)
        bookmark = (decode_cursor(q.cursor, "site-readings") or {}).get("b", "")
        answer = await rich_query(self.deps, call.principal.identity, "QueryReadingsBySite", call.params["site_id"],
                                  start, end, q.limit, bookmark)
        next_cursor = encode_cursor({"k": "site-readings", "b": answer["bookmark"]}) \
            if answer["bookmark"] and len(answer["readings"]) >= q.limit else None
        return ReadingListResponse(readings=[ReadingRecord.model_validate(r) for r in answer["readings"]],
                                   next_cursor=next_cursor)


class LocationReadings(Resource):
    @operation("Readings of every site at a location (admin, utility, auditor; rich queries)", tags=TAG,
               roles=PRIVILEGED, query=LocationReadingsQuery, response=LocationReadingsResponse,
               errors=("NOT_SUPPORTED_ON_THIS_BACKEND",))
    async def on_get(self, call: Call):
        q = call.query
        start, end = time_range(self.deps, q)
        identity = call.principal.identity
        sites = sorted(s["site_id"] for s in await rich_query(self.deps, identity, "QuerySitesByLocation",
                                                               q.location))
        state = decode_cursor(q.cursor, "location-readings") or {"i": 0, "b": ""}
        index, bookmark = int(state.get("i", 0)), str(state.get("b", ""))
        readings: list[dict] = []
        while index < len(sites) and len(readings) < q.limit:
            answer = await rich_query(self.deps, identity, "QueryReadingsBySite", sites[index], start, end,
                                      q.limit - len(readings), bookmark)
            readings += answer["readings"]
            if answer["bookmark"] and len(readings) >= q.limit:
                bookmark = answer["bookmark"]  # the page is full and this site may have more: resume inside it
                break
            index, bookmark = index + 1, ""
        more = index < len(sites)
        cursor = encode_cursor({"k": "location-readings", "i": index, "b": bookmark}) if more else None
        return LocationReadingsResponse(sites=sites, readings=[ReadingRecord.model_validate(r) for r in readings],
                                        next_cursor=cursor)
