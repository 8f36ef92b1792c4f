"""Declaring an operation once: who may call it, what it reads, what it answers.

``@operation(...)`` on a resource's ``on_get``/``on_post``/... records an :class:`Operation` (the OpenAPI document
is generated from these) and wraps the responder so that every request goes through the same steps, in one place:

1. authentication required? (401 UNAUTHENTICATED) — the principal itself is resolved by the security middleware;
2. role allowed? (function level, 403 FORBIDDEN);
3. body: read within the size limit, JSON parsed with bounded depth, fields only admins may set refused
   (property level, 403 PROPERTY_FORBIDDEN), then validated against the body model (422 VALIDATION_ERROR);
4. query string validated against the query model (page size against VPP_MAX_PAGE);
5. the handler runs with a :class:`Call`; the model it returns is serialised with the documented status.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import falcon
from falcon.asgi import Request, Response
from pydantic import BaseModel, ValidationError

from .body import parse_json, read_body
from .errors import ApiError, FieldError

__all__ = ["Call", "Operation", "Reply", "operation"]

ADMIN = "admin"


@dataclass(frozen=True)
class Operation:
    summary: str
    tags: tuple[str, ...]
    auth: bool = True                                 # a principal is required
    roles: frozenset[str] | None = None               # None: every role
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[str, ...] = ()                      # codes this operation answers besides the common ones
    admin_fields: frozenset[str] = frozenset()        # body fields only admins may send
    media: tuple[str, ...] = ("application/json",)    # other representations of the success answer
    ledger: bool = True                               # talks to the ledger (documents 409/503)
    description: str = ""
    operation_id: str = ""


@dataclass
class Call:
    """What a handler gets: the request already authenticated and validated."""

    req: Request
    resp: Response
    principal: Any
    params: dict[str, str]
    body: Any = None
    query: Any = None

    @property
    def is_admin(self) -> bool:
        return self.principal is not None and self.principal.role == ADMIN


@dataclass
class Reply:
    model: BaseModel | None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _field_errors(exc: ValidationError, where: str) -> list[FieldError]:
    problems = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        location = ".".join(str(part) for part in error["loc"])
        problems.append(FieldError(f"{where}.{location}" if location else where, error["type"], error["msg"]))
    return problems


def validation_error(problems: list[FieldError]) -> ApiError:
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return ApiError("VALIDATION_ERROR", f"{first['field']}: {first['message']}{more}", fields=problems)


def validate(model: type[BaseModel], data: Any, where: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(_field_errors(exc, where)) from None


async def _read_model(req: Request, op: Operation, principal: Any, max_bytes: int) -> BaseModel:
    content_type = (req.content_type or "").split(";")[0].strip().lower()
    raw = await read_body(req, max_bytes)
    if content_type != "application/json" and (raw or content_type):
        raise ApiError("UNSUPPORTED_MEDIA_TYPE", "send the body as application/json")
    if not raw.strip():
        raise validation_error([FieldError("body", "missing", "a JSON body is required")])
    document = parse_json(raw)
    if isinstance(document, dict) and (principal is None or principal.role != ADMIN):
        refused = sorted(op.admin_fields & document.keys())
        if refused:
            raise ApiError("PROPERTY_FORBIDDEN", f"only an admin may set {', '.join(refused)}", fields=[
                FieldError(f"body.{name}", "property_forbidden", "only an admin may set this field")
                for name in refused])
    assert op.body is not None
    return validate(op.body, document, "body")


def _read_query(req: Request, op: Operation, max_page: int) -> BaseModel | None:
    if op.query is None:
        return None
    query = validate(op.query, dict(req.params), "query")
    limit = getattr(query, "limit", None)
    if isinstance(limit, int) and limit > max_page:
        raise validation_error([FieldError("query.limit", "less_than_equal", f"limit is at most {max_page}")])
    return query


Handler = Callable[[Any, Call], Awaitable[BaseModel | Reply | None]]


def operation(summary: str, *, tags: tuple[str, ...] | str, **options: Any) -> Callable[[Handler], Any]:
    """Declare a responder; see the module doc for what the wrapper checks, in order."""
    op = Operation(summary=summary, tags=(tags,) if isinstance(tags, str) else tuple(tags), **options)

    def decorate(handler: Handler):
        @functools.wraps(handler)
        async def responder(self, req: Request, resp: Response, **params: str) -> None:
            principal = req.context.principal
            if op.auth and principal is None:
                raise ApiError("UNAUTHENTICATED", "send Authorization: Bearer <token> or X-API-Key",
                               headers={"WWW-Authenticate": 'Bearer realm="vpp"'})
            if op.roles is not None and (principal is None or principal.role not in op.roles):
                raise ApiError("FORBIDDEN", f"this operation needs the role {' or '.join(sorted(op.roles))}")
            limits = self.deps.config
            body = await _read_model(req, op, principal, limits.max_body_bytes) if op.body else None
            query = _read_query(req, op, limits.max_page)
            answer = await handler(self, Call(req, resp, principal, params, body, query))
            if answer is None:  # the handler wrote the response itself (CSV, XML, SSE)
                return
            reply = answer if isinstance(answer, Reply) else Reply(answer)
            resp.status = falcon.code_to_http_status(reply.status or op.status)
            for name, value in reply.headers.items():
                resp.set_header(name, value)
            if reply.model is not None:  # pydantic-core writes the JSON (no dict in between)
                resp.data = reply.model.model_dump_json(by_alias=True).encode()
                resp.content_type = falcon.MEDIA_JSON

        responder.operation = op  # type: ignore[attr-defined]
        return responder

    return decorate
