"""Signed meter readings and their batches."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, WithJsonSchema

from .common import Body, InstantFrom, InstantTo, PageQuery, Record

#: One signed reading as the edge sends it (vpp_contract.domain.readings). The gateway passes each one to the
#: chaincode untouched and gets one result per reading: a malformed one is rejected alone, never the batch.
SIGNED_READING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["payload", "signature"],
    "additionalProperties": False,
    "properties": {
        "payload": {
            "type": "object",
            "required": ["meter", "key", "kind", "start", "interval"],
            "properties": {
                "meter": {"type": "string", "maxLength": 128},
                "key": {"type": "integer", "minimum": 1, "description": "version of the meter key that signed"},
                "kind": {"enum": ["generation", "battery", "load", "grid"]},
                "start": {"type": "integer", "description": "interval start, UTC epoch seconds, aligned"},
                "interval": {"enum": [300, 900]},
                "wh": {"type": "integer", "minimum": 0},
                "charge_wh": {"type": "integer", "minimum": 0},
                "discharge_wh": {"type": "integer", "minimum": 0},
                "soc_permille": {"type": "integer", "minimum": 0, "maximum": 1000},
                "soh_permille": {"type": "integer", "minimum": 0, "maximum": 1000},
                "import_wh": {"type": "integer", "minimum": 0},
                "export_wh": {"type": "integer", "minimum": 0},
            },
        },
        "signature": {"type": "string", "description": "base64 DER ECDSA P-256/SHA-256 over the canonical payload "
                                                      "(sorted keys, no spaces, UTF-8)"},
    },
}

SignedReading = Annotated[Any, WithJsonSchema(SIGNED_READING_SCHEMA)]  # checked per reading by the contract


class ReadingBatchRequest(Body):
    readings: list[SignedReading] = Field(min_length=1, description="at most VPP_MAX_BATCH (413 BATCH_TOO_LARGE)")


class ReadingResult(BaseModel):
    index: int
    status: Literal["accepted", "duplicate", "rejected"]
    code: str | None = None
    message: str | None = None
    meter: str | None = None
    start: int | None = None


class ReadingBatchResponse(BaseModel):
    tx_id: str
    block: int
    results: list[ReadingResult]
    accepted: int
    duplicates: int
    rejected: int


class ReadingRecord(Record):
    meter: str
    asset: str
    site: str
    kind: str
    start: int
    interval: int
    values: dict[str, int]
    effects: dict[str, Any]
    tx_id: str


class ReadingListResponse(BaseModel):
    readings: list[ReadingRecord]
    next_cursor: str | None


class ReadingRangeQuery(PageQuery):
    from_: InstantFrom | None = Field(None, alias="from")
    to: InstantTo | None = None


class LocationReadingsQuery(ReadingRangeQuery):
    location: str = Field(min_length=1, max_length=256)


class LocationReadingsResponse(BaseModel):
    sites: list[str] = Field(description="the sites at the location (all of them, on every page)")
    readings: list[ReadingRecord]
    next_cursor: str | None


__all__ = ["SignedReading"]
