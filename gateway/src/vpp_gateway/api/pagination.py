"""Cursor pagination: an opaque, URL-safe cursor that carries where the next page starts.

Lists the gateway slices itself (sites, assets, lots, trades, readings of a meter) use a position; lists the
ledger pages (rich queries) carry the ledger's bookmark. Either way the client only echoes ``next_cursor``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .errors import ApiError, FieldError

T = TypeVar("T")


def encode_cursor(state: dict[str, Any]) -> str:
    raw = json.dumps(state, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, kind: str) -> dict[str, Any] | None:
    """The state inside ``cursor``; 422 when it is not one this kind of list issued."""
    if not cursor:
        return None
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        state = None
    if not isinstance(state, dict) or state.get("k") != kind:
        raise ApiError("VALIDATION_ERROR", "invalid cursor",
                       fields=[FieldError("query.cursor", "invalid_cursor", "not a cursor of this list")])
    return state


def page_after(items: Sequence[T], key: Callable[[T], Any], limit: int, cursor: str | None, kind: str
               ) -> tuple[list[T], str | None]:
    """Items sorted by ``key`` (a str or int) after the cursor's key, ``limit`` of them, and the next cursor."""
    state = decode_cursor(cursor, kind)
    ordered = sorted(items, key=key)
    if state is not None:
        after = state.get("after")
        try:
            ordered = [item for item in ordered if key(item) > after]
        except TypeError as exc:
            raise ApiError("VALIDATION_ERROR", "invalid cursor", fields=[
                FieldError("query.cursor", "invalid_cursor", "not a cursor of this list")]) from exc
    page = ordered[:limit]
    more = len(ordered) > limit
    return page, encode_cursor({"k": kind, "after": key(page[-1])}) if more and page else None
