"""A small subset of CouchDB's Mango selectors, shared by the in-process peers (``testing`` and the embedded ledger).

Field paths (``"a.b"``) with equality or the operators in :data:`OPERATORS`. Documents that are not JSON
objects never match, as in CouchDB.
"""

from __future__ import annotations

import json
from typing import Any

OPERATORS = {
    "$eq": lambda a, b: a == b, "$ne": lambda a, b: a != b,
    "$gt": lambda a, b: a is not None and a > b, "$gte": lambda a, b: a is not None and a >= b,
    "$lt": lambda a, b: a is not None and a < b, "$lte": lambda a, b: a is not None and a <= b,
    "$in": lambda a, b: a in b,
}


def matches(raw: bytes, selector: dict[str, Any]) -> bool:
    """Whether the JSON document ``raw`` satisfies ``selector``."""
    try:
        document = json.loads(raw)
    except ValueError:
        return False
    if not isinstance(document, dict):
        return False
    for path, condition in selector.items():
        value: Any = document
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(condition, dict):
            for op, operand in condition.items():
                try:
                    if not OPERATORS[op](value, operand):
                        return False
                except TypeError:
                    return False
        elif value != condition:
            return False
    return True


def selector_of(query: str) -> dict[str, Any]:
    """The ``selector`` of a Mango query string (``{}`` matches every JSON object)."""
    return json.loads(query).get("selector", {})
