"""Server-sent events: the ledger's token events, as the caller may see them.

Each valid transaction with events becomes one SSE event ``ledger`` with ``id: <block>:<tx_id>``; a client that
reconnects with ``Last-Event-ID`` resumes right after it (the ledger replays that block, the gateway skips what
was already sent). Owners get only the events about their own account (owner, buyer, seller or holder, or their
market events); the operator, the utility and auditors get everything. A comment line every
``VPP_SSE_HEARTBEAT_S`` keeps proxies from closing an idle stream.

The credential that opened the stream is checked again before everything sent (an event or a heartbeat): once the
token expires, its session is logged out or the API key is revoked, the stream sends one ``error`` event with the
refusal's code (``TOKEN_EXPIRED``, ``TOKEN_REVOKED``, ``API_KEY_REVOKED``, ...) and ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

from falcon.asgi import SSEvent

from ...ledger_client import LedgerError, LedgerEvent
from ..deps import Resource
from ..endpoint import Call, operation
from ..errors import ApiError, FieldError
from ..models.events import EventStreamQuery, LedgerEventData

log = logging.getLogger("vpp_gateway.api.events")

PRIVILEGED = frozenset({"admin", "utility", "auditor"})
ACCOUNT_FIELDS = ("owner", "buyer", "seller", "holder", "account", "utility")
_EVENT_ID = re.compile(r"([0-9]{1,18}):([0-9A-Za-z_-]{1,128})")


def visible_events(payload: dict[str, Any], principal: Any) -> list[dict[str, Any]]:
    events = [e for e in payload.get("events", []) if isinstance(e, dict)]
    if principal.role in PRIVILEGED:
        return events
    me = principal.ledger_account
    return [e for e in events
            if any(e.get(name) == me for name in ACCOUNT_FIELDS) or e.get("asset") == f"account:{me}"]


def start_of(ledger_client: Any, query: EventStreamQuery, last_event_id: str | None) -> tuple[int, str | None]:
    """(first block to read, tx id to resume after)."""
    if last_event_id:
        match = _EVENT_ID.fullmatch(last_event_id.strip())
        if not match:
            raise ApiError("VALIDATION_ERROR", "Last-Event-ID must be <block>:<tx_id>", fields=[
                FieldError("header.Last-Event-ID", "event_id", "expected <block>:<tx_id>")])
        return int(match.group(1)), match.group(2)
    if query.from_block is not None:
        return query.from_block, None
    # New events only. The embedded ledger knows its height; other backends replay from the genesis block.
    height = getattr(getattr(ledger_client, "ledger", None), "height", None)
    return (height if isinstance(height, int) else 0), None


def credential_of(req: Any) -> tuple[str, str]:
    """What authenticated this request, to check again later: ("bearer", token) or ("api_key", key)."""
    authorization = req.get_header("Authorization")
    if authorization:
        return "bearer", authorization.partition(" ")[2].strip()
    api_key = req.get_header("X-API-Key")
    if api_key:
        return "api_key", api_key.strip()
    return "bearer", req.get_param("access_token") or ""


class EventStream(Resource):
    @operation("Server-sent events of the caller's accounts (all for admin, utility, auditor); id = block:tx, "
               "resume with Last-Event-ID", tags="events", query=EventStreamQuery, response=LedgerEventData,
               media=("text/event-stream",))
    async def on_get(self, call: Call):
        start_block, resume_after = start_of(self.deps.ledger_client, call.query, call.req.get_header("Last-Event-ID"))
        call.resp.sse = self._emit(call.principal, start_block, resume_after, credential_of(call.req))
        call.resp.set_header("Cache-Control", "no-cache")
        call.resp.set_header("X-Accel-Buffering", "no")  # nginx: do not buffer the stream
        return None

    async def _refusal(self, credential: tuple[str, str]) -> Exception | None:
        from ...accounts import AuthError  # the accounts package owns this type

        kind, secret = credential
        try:
            if kind == "api_key":
                await self.deps.accounts.authenticate_api_key(secret)
            else:
                self.deps.accounts.authenticate_bearer(secret)
        except AuthError as exc:
            return exc
        return None

    async def _emit(self, principal: Any, start_block: int, resume_after: str | None,
                    credential: tuple[str, str]) -> AsyncIterator[SSEvent]:
        queue: asyncio.Queue[LedgerEvent | Exception] = asyncio.Queue(maxsize=1000)

        async def pump() -> None:
            try:
                async for event in self.deps.ledger_client.events(start_block):
                    await queue.put(event)
            except (LedgerError, OSError) as exc:
                await queue.put(exc)

        task = asyncio.create_task(pump())
        skipping = resume_after is not None
        seen_in_block: tuple[int, set[str]] = (-1, set())
        try:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), timeout=self.deps.config.sse_heartbeat_s)
                except TimeoutError:
                    item = None
                refusal = await self._refusal(credential)
                if refusal is not None:
                    log.info("event stream of %s ended: %s", principal.account_id, refusal)
                    yield SSEvent(event="error", json={"code": refusal.code, "message": refusal.message})
                    return
                if item is None:
                    yield SSEvent(comment="heartbeat")
                    continue
                if isinstance(item, Exception):
                    log.warning("event stream ended: %s", item)
                    yield SSEvent(event="error", json={"code": "LEDGER_UNAVAILABLE", "message": str(item)})
                    return
                if skipping:  # the resumed block again, up to and including the last event the client saw
                    if item.block_number > start_block:
                        skipping = False
                    else:
                        if item.tx_id == resume_after:
                            skipping = False
                        continue
                block, sent = seen_in_block
                if block != item.block_number:
                    seen_in_block = block, sent = item.block_number, set()
                if item.tx_id in sent:  # events of a block may repeat after a resume (LedgerClient.events)
                    continue
                sent.add(item.tx_id)
                try:
                    payload = json.loads(item.payload)
                except ValueError:
                    continue
                events = visible_events(payload if isinstance(payload, dict) else {}, principal)
                if events:
                    data = {"block": item.block_number, "tx_id": item.tx_id, "events": events}
                    yield SSEvent(event="ledger", event_id=f"{item.block_number}:{item.tx_id}", json=data)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
