"""The server-sent event stream and the operational endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from .common import Query, QueryInt


class EventStreamQuery(Query):
    from_block: QueryInt | None = Field(None, ge=0, description="replay from this block (default: new events only; "
                                        "Last-Event-ID resumes after the last event seen)")
    access_token: str | None = Field(None, max_length=4096,
                                     description="the access token, for EventSource clients that cannot set headers")


class LedgerEventData(BaseModel):
    """The data of one SSE ``ledger`` event (``id: <block>:<tx_id>``)."""

    block: int
    tx_id: str
    events: list[dict[str, Any]]


class HealthResponse(BaseModel):
    status: str


class ReadyResponse(BaseModel):
    status: str
    backend: str
    detail: str | None = None
