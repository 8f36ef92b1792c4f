"""Types shared by every request and response model.

Request bodies are validated in strict mode (a JSON ``1.0`` or ``"1"`` is not an integer: energy and money are
integers only); query strings are text, so their integers are parsed from digits only (``1.0``, ``1e3`` refused).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

MAX_JSON_INT = 2**53  # what every JSON client carries exactly; the chaincode's OVERFLOW bound


class Body(BaseModel):
    """A request body: unknown fields refused, strict types."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Query(BaseModel):
    """A query string: unknown parameters refused (a typo must not silently mean "no filter")."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Record(BaseModel):
    """A response that mirrors a ledger record: documented fields, and whatever the contract adds passes through."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


def _ledger_name(value: str) -> str:
    if "/" in value or not value.isprintable():
        raise ValueError("must be printable characters without '/'")
    return value


#: Identifiers the chaincode accepts (``checked_name``): 1-128 printable characters without "/".
Name = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_ledger_name)]
WattHours = Annotated[int, Field(ge=1, le=MAX_JSON_INT, description="energy in Wh (integer)")]
Micro = Annotated[int, Field(ge=1, le=MAX_JSON_INT, description="money in micro-units (integer)")]
RateMicroPerKwh = Annotated[int, Field(ge=1, le=MAX_JSON_INT, description="micro-units per kWh (integer)")]
EpochSeconds = Annotated[int, Field(ge=0, le=MAX_JSON_INT, description="UTC epoch seconds")]

_DIGITS = re.compile(r"-?[0-9]{1,16}")


def _query_int(value: Any) -> Any:
    if isinstance(value, str) and not _DIGITS.fullmatch(value):
        raise ValueError("must be an integer written with digits only")
    return value


QueryInt = Annotated[int, BeforeValidator(_query_int)]


def _instant(value: Any, end_of_day: bool) -> Any:
    """Epoch seconds, an ISO date (UTC midnight; for ``to`` the end of that day) or an ISO date-time."""
    if isinstance(value, int) or not isinstance(value, str):
        return value
    if _DIGITS.fullmatch(value):
        return int(value)
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            moment = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
            return int((moment + (dt.timedelta(days=1) if end_of_day else dt.timedelta())).timestamp())
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError("must be epoch seconds, an ISO date (2024-05-01) or an ISO date-time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp())


_INSTANT_SCHEMA = {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "format": "date"},
                             {"type": "string", "format": "date-time"}]}
InstantFrom = Annotated[int, BeforeValidator(lambda v: _instant(v, False)), Field(ge=0, le=MAX_JSON_INT),
                        WithJsonSchema({**_INSTANT_SCHEMA, "description": "from (inclusive): epoch seconds, "
                                        "ISO date (UTC midnight) or ISO date-time"})]
InstantTo = Annotated[int, BeforeValidator(lambda v: _instant(v, True)), Field(ge=0, le=MAX_JSON_INT),
                      WithJsonSchema({**_INSTANT_SCHEMA, "description": "to (exclusive): epoch seconds or ISO "
                                      "date-time; an ISO date means the end of that day"})]


class PageQuery(Query):
    limit: QueryInt = Field(50, ge=1, description="items per page (at most VPP_MAX_PAGE)")
    cursor: str | None = Field(None, max_length=512, description="next_cursor of the previous page")


class RangeQuery(PageQuery):
    from_: InstantFrom | None = Field(None, alias="from")
    to: InstantTo | None = None


class FieldProblem(BaseModel):
    field: str = Field(description="where: body.x, query.limit, path.site_id")
    code: str = Field(description="pydantic error type, e.g. int_type, missing, extra_forbidden")
    message: str


class ErrorObject(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str = Field(description="stable machine-readable code (see the error table)")
    message: str
    fields: list[FieldProblem] | None = None
    tx_id: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorObject


class Status(BaseModel):
    status: str
