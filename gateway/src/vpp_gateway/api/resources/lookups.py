"""Look-ups several resources share: a site or asset as the caller may see it, and a submit's answer headers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ...ledger_client import Committed, ContractError
from ..deps import Deps
from ..endpoint import Reply
from ..errors import ApiError

#: the Fabric peer's answer to a rich query on LevelDB (CouchDB-only feature)
_RICH_QUERY_UNSUPPORTED = ("not supported for leveldb", "executequery not supported", "rich queries")


def committed_reply(model: BaseModel, committed: Committed, status: int | None = None) -> Reply:
    """Where the change landed, for clients that audit or wait for events."""
    return Reply(model, status, {"X-Tx-Id": committed.tx_id, "X-Block": str(committed.block_number)})


async def visible_sites(deps: Deps, principal: Any) -> list[dict]:
    """Owners: their own sites; the operator, utility and auditors: all (the contract enforces the same)."""
    owner = principal.ledger_account if principal.role == "owner" else ""
    return [s for s in await deps.ledger.query(principal.identity, "GetSites", owner) if s]


async def find_site(deps: Deps, principal: Any, site_id: str) -> dict:
    """The site, or 404 — also when it belongs to another owner (its existence is not theirs to learn)."""
    for site in await visible_sites(deps, principal):
        if site["site_id"] == site_id:
            return site
    raise ApiError("NOT_FOUND", f"site {site_id} does not exist")


async def owner_has_asset(deps: Deps, principal: Any, asset_id: str) -> bool:
    return any(asset_id in site.get("assets", []) for site in await visible_sites(deps, principal))


async def rich_query(deps: Deps, identity: Any, function: str, *args: Any) -> Any:
    """A CouchDB rich query: 501 on a backend without CouchDB instead of a puzzling ledger error."""
    try:
        return await deps.ledger.query(identity, function, *args)
    except ContractError as exc:
        if exc.code is None and any(marker in exc.message.lower() for marker in _RICH_QUERY_UNSUPPORTED):
            raise ApiError("NOT_SUPPORTED_ON_THIS_BACKEND",
                           f"{function} needs CouchDB state (rich queries); this ledger cannot run it") from exc
        raise


def time_range(deps: Deps, query: Any, default_span_s: int = 86_400) -> tuple[int, int]:
    """``from``/``to`` of a query, defaulting to the last day; 422 when to is not after from."""
    to = query.to if query.to is not None else deps.now()
    start = query.from_ if query.from_ is not None else max(0, to - default_span_s)
    if to <= start:
        from ..endpoint import validation_error
        from ..errors import FieldError
        raise validation_error([FieldError("query.to", "range", "to must be after from")])
    return start, to
