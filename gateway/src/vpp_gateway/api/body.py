"""Reading a request body safely: size limit while reading, JSON only, bounded nesting and size of the tree.

Python's ``json`` parses any nesting its recursion limit allows and any number of keys; a hostile body could
make validation slow or crash the responder. Everything here raises :class:`ApiError` with a 4xx code.
"""

from __future__ import annotations

import json
import re
from typing import Any

from falcon.asgi import Request

from .errors import ApiError

MAX_DEPTH = 32          # signed readings need 3 levels; battery parameters 4
MAX_NODES = 200_000     # values in one document (a 500-reading batch is about 6,000)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # \ud800-\udfff: half of a pair, or alone


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def read_body(req: Request, max_bytes: int) -> bytes:
    """The raw body, refused with 413 BODY_TOO_LARGE as soon as it exceeds ``max_bytes`` (declared or sent)."""
    declared = req.content_length
    if declared is not None and declared > max_bytes:
        raise ApiError("BODY_TOO_LARGE", f"request bodies are limited to {max_bytes} bytes", limit=max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in req.stream:  # chunked uploads have no Content-Length: count while reading
        size += len(chunk)
        if size > max_bytes:
            raise ApiError("BODY_TOO_LARGE", f"request bodies are limited to {max_bytes} bytes", limit=max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes) -> Any:
    """Strict JSON (no NaN/Infinity), UTF-8, at most :data:`MAX_DEPTH` deep and :data:`MAX_NODES` values."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError("INVALID_JSON", f"the body is not UTF-8 (byte {exc.start})") from exc
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise ApiError("JSON_TOO_DEEP", f"JSON nested deeper than {MAX_DEPTH} levels", limit=MAX_DEPTH) from exc
    except ValueError as exc:
        raise ApiError("INVALID_JSON", f"the body is not valid JSON: {exc}") from exc
    check_shape(document)
    if _SURROGATE_ESCAPE.search(text) and not _is_unicode(document):
        # json decodes a lone "\ud800" to a str no UTF-8 encoder writes; found by tests/fuzz: a reading batch with
        # one answered 502 (the ledger call could not encode its argument)
        raise ApiError("INVALID_JSON", "the body has a \\ud800-\\udfff escape that is not part of a surrogate pair")
    return document


def _is_unicode(document: Any) -> bool:
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_shape(document: Any) -> None:
    """Walk the tree iteratively (no recursion to exhaust) and refuse deep or huge documents."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise ApiError("JSON_TOO_COMPLEX", f"more than {MAX_NODES} JSON values in one body", limit=MAX_NODES)
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise ApiError("JSON_TOO_DEEP", f"JSON nested deeper than {MAX_DEPTH} levels", limit=MAX_DEPTH)
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
