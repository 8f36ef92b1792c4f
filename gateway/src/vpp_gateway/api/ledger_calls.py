"""Calling the contract for a principal: arguments encoded as the contract expects, JSON answers decoded,
latency measured, MVCC conflicts retried as new transactions.

Every call takes the identity to sign with (``principal.identity``); the gateway never substitutes a shared one,
except where a resource documents an operator self-service submission.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Sequence
from typing import Any

from ..ledger_client import Committed, ConflictError, LedgerClient, LedgerError
from .metrics import Metrics

__all__ = ["LedgerCalls"]

log = logging.getLogger("vpp_gateway.api.ledger")


def encode_arg(value: Any) -> str:
    """Strings as they are; integers in decimal; booleans as true/false; objects and arrays as canonical JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def decode(payload: bytes) -> Any:
    return json.loads(payload) if payload else None


class LedgerCalls:
    def __init__(self, client: LedgerClient, metrics: Metrics, conflict_retries: int = 3) -> None:
        self.client = client
        self.metrics = metrics
        self.conflict_retries = conflict_retries

    async def query(self, identity: Any, function: str, *args: Any) -> Any:
        started = time.perf_counter()
        outcome = "ok"
        try:
            return decode(await self.client.evaluate(function, [encode_arg(a) for a in args], identity))
        except LedgerError as exc:
            outcome = exc.code or exc.reason or type(exc).__name__
            raise
        finally:
            self.metrics.evaluate.observe((function, outcome), time.perf_counter() - started)

    async def submit(self, identity: Any, function: str, *args: Any) -> tuple[Any, Committed]:
        """Submit and wait for the commit. A conflict (another transaction changed what this one read) is endorsed
        again as a new transaction, a few times with jitter: nothing of the conflicted one was committed."""
        encoded: Sequence[str] = [encode_arg(a) for a in args]
        for attempt in range(self.conflict_retries + 1):
            started = time.perf_counter()
            outcome = "ok"
            try:
                committed = await self.client.submit(function, encoded, identity)
                return decode(committed.result), committed
            except ConflictError as exc:
                outcome = "MVCC_CONFLICT"
                if attempt == self.conflict_retries:
                    raise
                log.info("%s conflicted (tx %s); retrying as a new transaction", function, exc.tx_id)
            except LedgerError as exc:
                outcome = exc.code or exc.reason or type(exc).__name__
                raise
            finally:
                self.metrics.submit.observe((function, outcome), time.perf_counter() - started)
            await asyncio.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
        raise AssertionError("unreachable")
