"""Canonical JSON: sorted keys, no spaces, UTF-8. The bytes a meter signs and the bytes the contract stores.

orjson writes exactly what ``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
writes for plain str, int (64-bit), bool, None, list and str-keyed dict values, several times faster. Anything
else (a dataclass, a subclass, a big integer, a non-str key) is passed to the standard library, so the bytes
never depend on which of the two wrote them; `tests/test_canonical.py` checks the equivalence.
"""

from __future__ import annotations

import json

import orjson

_OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
            | orjson.OPT_PASSTHROUGH_SUBCLASS)


def canonical_stdlib(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def canonical(obj: object) -> bytes:
    try:
        return orjson.dumps(obj, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: a value outside the plain types; the standard library decides
        return canonical_stdlib(obj)
