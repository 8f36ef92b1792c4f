"""The OpenAPI 3.1 document, generated from the routes and the operations declared on their responders.

Nothing here is written by hand per route: paths and methods come from the route table, parameters from the
path template and the query model, request and response schemas from the pydantic models (JSON Schema 2020-12,
which OpenAPI 3.1 uses as is), and the error responses from the operation's codes plus the ones every operation
of its kind can answer (authentication, validation, limits, ledger).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .endpoint import Operation
from .errors import ERROR_STATUS
from .models.common import ErrorResponse

__all__ = ["METHODS", "build_document", "operations_of"]

METHODS = ("get", "post", "put", "patch", "delete")
REF = "#/components/schemas/{model}"
AUTH_CODES = ("UNAUTHENTICATED", "TOKEN_INVALID", "TOKEN_EXPIRED", "TOKEN_REVOKED", "API_KEY_INVALID",
              "API_KEY_REVOKED")
BODY_CODES = ("INVALID_JSON", "JSON_TOO_DEEP", "JSON_TOO_COMPLEX", "BODY_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE",
              "VALIDATION_ERROR")
LEDGER_CODES = ("MVCC_CONFLICT", "LEDGER_ERROR", "LEDGER_UNAVAILABLE", "CHAINCODE_REJECTED")
ALWAYS_CODES = ("RATE_LIMITED", "INTERNAL")
STATUS_TEXT = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content"}


def operations_of(routes: Iterable[tuple[str, object]]) -> list[tuple[str, str, Operation]]:
    """(path, method, operation) for every declared responder of every route."""
    found = []
    for path, resource in routes:
        for method in METHODS:
            responder = getattr(resource, f"on_{method}", None)
            op = getattr(responder, "operation", None)
            if isinstance(op, Operation):
                found.append((path, method, op))
    return found


def _operation_id(method: str, path: str) -> str:
    words = [w for w in re.split(r"[^A-Za-z0-9]+", path.removeprefix("/api/v1")) if w]
    return method + "".join(w[:1].upper() + w[1:] for w in words)


def _error_codes(op: Operation) -> list[str]:
    codes = list(ALWAYS_CODES)
    if op.auth:
        codes += AUTH_CODES
    if op.roles is not None:
        codes.append("FORBIDDEN")
    if op.body is not None:
        codes += BODY_CODES
    if op.query is not None:
        codes.append("VALIDATION_ERROR")
    if op.admin_fields:
        codes.append("PROPERTY_FORBIDDEN")
    if op.ledger:
        codes += LEDGER_CODES
    codes += op.errors
    return sorted(set(codes))


def _schemas(ops: list[tuple[str, str, Operation]]) -> tuple[dict, dict]:
    wanted: list[tuple[type[BaseModel], str]] = [(ErrorResponse, "serialization")]
    for _, _, op in ops:
        if op.body is not None:
            wanted.append((op.body, "validation"))
        if op.response is not None:
            wanted.append((op.response, "serialization"))
    unique = list(dict.fromkeys(wanted))
    refs, definitions = models_json_schema(unique, ref_template=REF, by_alias=True)
    return {key: value for key, value in refs.items()}, definitions.get("$defs", {})


def _query_parameters(model: type[BaseModel], components: dict) -> list[dict]:
    schema = model.model_json_schema(ref_template=REF, by_alias=True, mode="validation")
    components.update(schema.pop("$defs", {}))
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", None) or prop.get("title", "")
        prop.pop("title", None)
        parameters.append({"name": name, "in": "query", "required": name in required, "schema": prop,
                           "description": description})
    return parameters


def build_document(routes: Iterable[tuple[str, object]], *, title: str = "VPP Ledger API",
                   version: str = "1.0.0", limits: dict[str, int] | None = None) -> dict[str, Any]:
    ops = operations_of(list(routes))
    refs, components = _schemas(ops)
    error_ref = refs[(ErrorResponse, "serialization")]
    paths: dict[str, dict] = defaultdict(dict)
    for path, method, op in ops:
        parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                      for name in re.findall(r"{(\w+)}", path)]
        if op.query is not None:
            parameters += _query_parameters(op.query, components)
        success: dict[str, Any] = {"description": STATUS_TEXT.get(op.status, "Success")}
        if op.status != 204:
            content: dict[str, Any] = {}
            if op.response is not None:
                content["application/json"] = {"schema": refs[(op.response, "serialization")]}
            elif "application/json" in op.media:
                content["application/json"] = {"schema": {"type": "object"}}
            for media in op.media:
                if media != "application/json":
                    content[media] = {"schema": {"type": "string"}}
            if "text/event-stream" in op.media:
                content.pop("application/json", None)
                content["text/event-stream"]["x-event-data"] = refs[(op.response, "serialization")] \
                    if op.response else {}
            success["content"] = content
        responses: dict[str, Any] = {str(op.status): success}
        by_status: dict[int, list[str]] = defaultdict(list)
        for code in _error_codes(op):
            by_status[ERROR_STATUS[code]].append(code)
        for status, codes in sorted(by_status.items()):
            responses[str(status)] = {"description": "error: " + ", ".join(codes), "x-error-codes": codes,
                                      "content": {"application/json": {"schema": error_ref}}}
        entry: dict[str, Any] = {"operationId": _operation_id(method, path), "summary": op.summary,
                                 "tags": list(op.tags), "parameters": parameters, "responses": responses,
                                 "security": [{"bearerAuth": []}, {"apiKey": []}] if op.auth else []}
        if op.roles is not None:
            entry["x-roles"] = sorted(op.roles)
        if op.description:
            entry["description"] = op.description
        if op.body is not None:
            entry["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": refs[(op.body, "validation")]}}}
        paths[path][method] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version,
                 "description": "VPP Ledger REST gateway. Energy in integer Wh, money in integer micro-units: JSON "
                                "numbers with a fraction are refused. Every error is "
                                "{\"error\": {\"code\", \"message\", ...}}; x-error-table maps each code to its "
                                "HTTP status.",
                 "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
        "paths": dict(paths),
        "components": {"schemas": components, "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                           "description": "access token from POST /api/v1/auth/login"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                       "description": "integrators: a key from POST /api/v1/api-keys (vpp_<id>_<secret>)"}}},
        "x-error-table": dict(sorted(ERROR_STATUS.items())),
        "x-limits": limits or {},
    }
