"""Where the bridge sends a batch of signed readings: the embedded/Fabric ledger client in-process, or the REST
gateway. Both answer one result per reading (accepted, duplicate, rejected with a code) once the batch committed.

Errors the bridge acts on:

* :class:`SubmitUnavailableError` — try again later (ledger down, 503, timeout, MVCC conflict). The bridge backs off.
* :class:`SubmitRefusedError` — the whole batch was refused (4xx, contract error). ``retryable`` is True for refusals
  that are about the caller, not the readings (401/403: a key or role to fix), so the bridge waits for the operator
  instead of discarding data; otherwise it splits the batch to isolate the reading that causes it.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Protocol

import requests


@dataclass(frozen=True, slots=True)
class ReadingResult:
    index: int
    status: str                 # accepted | duplicate | rejected
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class BatchResult:
    tx_id: str
    block: int
    results: tuple[ReadingResult, ...]


class SubmitUnavailableError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SubmitRefusedError(Exception):
    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable


class Submitter(Protocol):
    async def submit(self, readings: list[dict]) -> BatchResult: ...


def parse_results(raw: Any, expected: int) -> tuple[ReadingResult, ...]:
    if not isinstance(raw, list) or len(raw) != expected:
        raise SubmitUnavailableError(f"the ledger answered {type(raw).__name__} instead of {expected} results")
    out = []
    for i, item in enumerate(raw):
        status = item.get("status") if isinstance(item, dict) else None
        if status not in ("accepted", "duplicate", "rejected"):
            raise SubmitUnavailableError(f"result {i} has no valid status: {item!r}")
        out.append(ReadingResult(int(item.get("index", i)), status, item.get("code"), item.get("message")))
    return tuple(out)


class LedgerSubmitter:
    """``SubmitReadings`` through a :class:`vpp_gateway.ledger_client.LedgerClient` as ``identity`` (an admin)."""

    def __init__(self, ledger_client: Any, identity: Any, function: str = "SubmitReadings") -> None:
        self.client = ledger_client
        self.identity = identity
        self.function = function

    async def submit(self, readings: list[dict]) -> BatchResult:
        from vpp_gateway.ledger_client import ConflictError, ContractError, LedgerError, UnavailableError

        batch = json.dumps(readings, separators=(",", ":"))
        try:
            committed = await self.client.submit(self.function, [batch], self.identity)
        except (UnavailableError, ConflictError) as exc:
            raise SubmitUnavailableError(f"{type(exc).__name__}: {exc}") from exc
        except ContractError as exc:
            code = exc.code or "CONTRACT_ERROR"
            raise SubmitRefusedError(code, exc.message, retryable=code in ("FORBIDDEN", "UNAUTHORIZED")) from exc
        except LedgerError as exc:  # ledger-level failure (invalid block, duplicate tx id): the batch did not commit
            raise SubmitUnavailableError(f"{exc.reason or 'LEDGER_ERROR'}: {exc}") from exc
        results = parse_results(json.loads(committed.result), len(readings))
        return BatchResult(committed.tx_id, committed.block_number, results)


class RestSubmitter:
    """``POST {base_url}/api/v1/readings/batches`` with ``X-API-Key``; body ``{"readings": [...]}``.

    200 → ``{"tx_id", "block", "results": [{"index", "status", "code"?, "message"?}]}``; 4xx →
    ``{"error": {"code", "message"}}``; 5xx, 429 and connection failures → unavailable (retry)."""

    PATH = "/api/v1/readings/batches"

    def __init__(self, base_url: str, api_key: str, *, timeout_s: float = 30.0) -> None:
        self.url = base_url.rstrip("/") + self.PATH
        self._api_key = api_key
        self.timeout_s = timeout_s
        self._session = requests.Session()

    def __repr__(self) -> str:
        return f"RestSubmitter({self.url!r})"  # never the key

    def _post(self, readings: list[dict]) -> BatchResult:
        try:
            response = self._session.post(self.url, json={"readings": readings}, timeout=self.timeout_s,
                                          headers={"X-API-Key": self._api_key})
        except requests.RequestException as exc:
            raise SubmitUnavailableError(f"gateway unreachable: {type(exc).__name__}") from exc
        status = response.status_code
        if status == 200:
            try:
                body = response.json()
                results = parse_results(body["results"], len(readings))
                return BatchResult(str(body.get("tx_id", "")), int(body.get("block", 0)), results)
            except (ValueError, KeyError, TypeError) as exc:
                raise SubmitUnavailableError(f"gateway answered 200 without results: {exc}") from exc
        if status == 429 or status >= 500:
            raise SubmitUnavailableError(f"gateway answered {status}")
        try:
            error = response.json()["error"]
            code, message = str(error["code"]), str(error.get("message", ""))
        except (ValueError, KeyError, TypeError):
            code, message = f"HTTP_{status}", response.text[:200]
        raise SubmitRefusedError(code, message, retryable=status in (401, 403))

    async def submit(self, readings: list[dict]) -> BatchResult:
        return await asyncio.to_thread(self._post, readings)

    def close(self) -> None:
        self._session.close()
