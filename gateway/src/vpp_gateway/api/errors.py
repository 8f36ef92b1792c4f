"""Every error the gateway answers, in one table, and the handlers that turn exceptions into that answer.

Every error body is ``{"error": {"code": "...", "message": "...", ...}}``. The status of a code is looked up in
:data:`ERROR_STATUS` — chaincode codes (``vpp_contract.codes.Code``), the accounts service's ``AuthError`` codes
and the gateway's own — so one code always means one HTTP status, whichever layer raised it.
"""

from __future__ import annotations

import logging
from typing import Any

import falcon
from falcon.asgi import Request, Response

from ..ledger_client import ConflictError, ContractError, LedgerError, UnavailableError

__all__ = ["ERROR_STATUS", "ApiError", "FieldError", "install_error_handlers", "status_of"]

log = logging.getLogger("vpp_gateway.api")

#: code -> HTTP status. Chaincode codes first (codes.py order), then AuthError codes, then the gateway's own.
ERROR_STATUS: dict[str, int] = {
    # chaincode: caller and permissions
    "FORBIDDEN": 403,
    "UNKNOWN_ROLE": 403,            # the certificate carries no role the contract knows: not the client's input
    # chaincode: arguments and registry
    "INVALID_ARGUMENT": 422,
    "ALREADY_EXISTS": 409,
    "NOT_FOUND": 404,
    # chaincode: readings (inside a batch these are per-reading results, not HTTP errors)
    "UNKNOWN_METER": 404,
    "METER_INACTIVE": 409,
    "BAD_SIGNATURE": 422,
    "UNKNOWN_KEY": 422,
    "MISALIGNED_INTERVAL": 422,
    "FUTURE_INTERVAL": 422,
    "WRONG_KIND": 422,
    "PHYSICAL_LIMIT": 422,
    "CONFLICTING_READING": 409,
    "BATCH_TOO_LARGE": 413,
    # chaincode: tokens and market
    "INSUFFICIENT_BALANCE": 409,    # the state (tokens held) does not allow it now
    "INSUFFICIENT_CREDIT": 402,     # pay first: deposit credit
    "OFFER_NOT_ACTIVE": 409,
    "OFFER_EXCEEDED": 409,
    "OVERFLOW": 422,
    # accounts (AuthError)
    "EMAIL_TAKEN": 409,
    "WEAK_PASSWORD": 422,
    "INVALID_EMAIL": 422,
    "BAD_CREDENTIALS": 401,
    "EMAIL_NOT_VERIFIED": 403,
    "TOKEN_INVALID": 401,
    "TOKEN_EXPIRED": 401,
    "TOKEN_REVOKED": 401,
    "API_KEY_INVALID": 401,
    "API_KEY_REVOKED": 401,
    "RATE_LIMITED": 429,
    "ACCOUNT_DISABLED": 403,
    "KEY_STORE_UNREADABLE": 503,    # the server cannot read its own key store: an operator must act
    "STORE_VERSION_UNSUPPORTED": 503,
    # (AuthError INVALID_ARGUMENT shares the chaincode's code, and so its status: 422)
    # gateway: requests
    "VALIDATION_ERROR": 422,
    "INVALID_JSON": 400,
    "JSON_TOO_DEEP": 400,
    "JSON_TOO_COMPLEX": 400,
    "BODY_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "ROUTE_NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "BAD_REQUEST": 400,             # anything else falcon refuses before a responder runs
    # gateway: who may do what
    "UNAUTHENTICATED": 401,
    "PROPERTY_FORBIDDEN": 403,
    # gateway: ledger
    "MVCC_CONFLICT": 409,           # still conflicting after the gateway's retries: try again
    "LEDGER_UNAVAILABLE": 503,
    "LEDGER_ERROR": 502,            # the ledger failed for a reason that is neither the contract's nor a conflict
    "CHAINCODE_REJECTED": 422,      # the chaincode refused without a code (argument conversion)
    "NOT_SUPPORTED_ON_THIS_BACKEND": 501,
    "INTERNAL": 500,
}

RETRY_AFTER_S = {"LEDGER_UNAVAILABLE": 2, "MVCC_CONFLICT": 1}


def status_of(code: str, fallback: int = 400) -> int:
    return ERROR_STATUS.get(code, fallback)


class FieldError(dict):
    """One entry of ``fields`` in a VALIDATION_ERROR: ``{"field": "body.x", "code": "int_type", "message": ...}``."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(field=field, code=code, message=message)


class ApiError(Exception):
    """A refusal with a code from :data:`ERROR_STATUS`; ``extra`` goes into the error object."""

    def __init__(self, code: str, message: str, *, status: int | None = None, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status or status_of(code)
        self.headers = dict(headers or {})
        self.extra = extra


def _send(resp: Response, status: int, code: str, message: str, headers: dict[str, str] | None = None,
          **extra: Any) -> None:
    resp.status = status
    resp.media = {"error": {"code": code, "message": message, **extra}}
    resp.content_type = falcon.MEDIA_JSON
    if code in RETRY_AFTER_S:
        resp.set_header("Retry-After", str(RETRY_AFTER_S[code]))
    for name, value in (headers or {}).items():
        resp.set_header(name, value)
    resp.context.error_code = code


def _ledger_error(error: LedgerError) -> ApiError:
    if isinstance(error, ContractError):
        if error.code is None:
            return ApiError("CHAINCODE_REJECTED", error.message)
        if error.code == "INTERNAL":  # the contract itself failed: a bug to fix, whose details stay in the log
            log.error("the contract failed: %s (tx %s)", error.message, error.tx_id)
            return ApiError("INTERNAL", "internal error; it has been logged", status=500, **_tx(error))
        if error.code not in ERROR_STATUS:
            log.warning("chaincode code %s is not in the gateway's error table; answering 400", error.code)
        return ApiError(error.code, error.message, status=status_of(error.code), **_tx(error))
    if isinstance(error, ConflictError):
        return ApiError("MVCC_CONFLICT", "the ledger state changed while the transaction ran; retry", **_tx(error))
    if isinstance(error, UnavailableError):
        message = "the ledger did not answer"
        if error.tx_id:
            message += "; the transaction may still commit: look for its tx_id before resubmitting"
        return ApiError("LEDGER_UNAVAILABLE", message, **_tx(error))
    log.error("ledger error: %r", error)
    return ApiError("LEDGER_ERROR", f"the ledger failed ({error.reason or 'unknown reason'})", **_tx(error))


def _tx(error: LedgerError) -> dict[str, str]:
    return {"tx_id": error.tx_id} if error.tx_id else {}


def install_error_handlers(app: falcon.asgi.App, auth_error: type[Exception]) -> None:
    """Map every exception to the one error body. Falcon picks the most specific handler registered."""

    async def on_api_error(req: Request, resp: Response, ex: ApiError, params: dict) -> None:
        _send(resp, ex.status, ex.code, ex.message, ex.headers, **ex.extra)

    async def on_auth_error(req: Request, resp: Response, ex: Any, params: dict) -> None:
        code = getattr(ex, "code", "UNAUTHENTICATED")
        status = ERROR_STATUS.get(code) or int(getattr(ex, "status", 401))
        headers = {"WWW-Authenticate": 'Bearer realm="vpp"'} if status == 401 else {}
        retry_after = getattr(ex, "retry_after", None)
        if code == "RATE_LIMITED":
            headers["Retry-After"] = str(int(retry_after) if retry_after else 60)
        _send(resp, status, code, getattr(ex, "message", str(ex)), headers)

    async def on_ledger_error(req: Request, resp: Response, ex: LedgerError, params: dict) -> None:
        api = _ledger_error(ex)
        _send(resp, api.status, api.code, api.message, **api.extra)

    async def on_http_error(req: Request, resp: Response, ex: falcon.HTTPError, params: dict) -> None:
        if isinstance(ex, falcon.HTTPRouteNotFound | falcon.HTTPNotFound):
            code = "ROUTE_NOT_FOUND"
        elif isinstance(ex, falcon.HTTPMethodNotAllowed):
            code = "METHOD_NOT_ALLOWED"
        elif isinstance(ex, falcon.HTTPPayloadTooLarge | falcon.HTTPContentTooLarge):
            code = "BODY_TOO_LARGE"
        elif isinstance(ex, falcon.HTTPUnsupportedMediaType):
            code = "UNSUPPORTED_MEDIA_TYPE"
        elif ex.status_code >= 500:
            log.error("falcon error %s: %s", ex.status, ex.description)
            code = "INTERNAL"
        else:
            code = "BAD_REQUEST"
        message = ex.description or ex.title or code
        _send(resp, ex.status_code if code not in ("INTERNAL",) else 500, code, message, dict(ex.headers or {}))

    async def on_unexpected(req: Request, resp: Response, ex: Exception, params: dict) -> None:
        log.exception("unexpected error on %s %s", req.method, req.path)
        _send(resp, 500, "INTERNAL", "internal error; it has been logged")

    app.add_error_handler(Exception, on_unexpected)
    app.add_error_handler(falcon.HTTPError, on_http_error)
    app.add_error_handler(LedgerError, on_ledger_error)
    app.add_error_handler(auth_error, on_auth_error)
    app.add_error_handler(ApiError, on_api_error)
