"""Balances, lots, supply, offers, trades, credit, the standing bid, settlement and battery state."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from .common import (
    Body,
    EpochSeconds,
    InstantFrom,
    InstantTo,
    Micro,
    Name,
    PageQuery,
    RateMicroPerKwh,
    Record,
    WattHours,
)

Token = Literal["Tgen", "Tstorage"]


class BalanceResponse(Record):
    account: str
    Tgen: int
    Tstorage: int
    TstorageReserved: int
    credit_micro: int


class LotsQuery(PageQuery):
    token: Literal["Tgen", "Tstorage", "TstorageReserved"]


class LotResponse(Record):
    lot_id: str | None = None
    owner: str | None = None
    token: str | None = None
    amount: int | None = None


class LotListResponse(BaseModel):
    lots: list[LotResponse]
    next_cursor: str | None


class SupplyRow(BaseModel):
    minted: int
    burned: int
    outstanding: int
    conserved: bool


class SupplyResponse(BaseModel):
    Tgen: SupplyRow
    Tstorage: SupplyRow


class OfferCreateRequest(Body):
    token: Token
    quantity_wh: WattHours
    rate_micro_per_kwh: RateMicroPerKwh
    valid_from: EpochSeconds
    valid_until: EpochSeconds


class OfferResponse(Record):
    offer_id: str
    seller: str
    token: str
    quantity_wh: int
    remaining_wh: int
    rate_micro_per_kwh: int
    valid_from: int
    valid_until: int
    status: str
    created_at: int


class OfferListQuery(PageQuery):
    status: Literal["active", "sold", "cancelled"] = "active"
    token: Token = "Tgen"


class OfferListResponse(BaseModel):
    offers: list[OfferResponse]
    next_cursor: str | None


class AcceptOfferRequest(Body):
    quantity_wh: WattHours


class TradeResponse(Record):
    offer_id: str
    buyer: str
    seller: str
    token: str
    quantity_wh: int
    price_micro: int
    at: int
    tx_id: str
    origins: list[str]
    delivered_to_grid: bool


class TradeListResponse(BaseModel):
    trades: list[TradeResponse]
    next_cursor: str | None


class DepositRequest(Body):
    account: Name
    amount_micro: Micro


class DepositResponse(BaseModel):
    account: str
    credit_micro: int


class StandingBidRequest(Body):
    rate_micro_per_kwh: RateMicroPerKwh
    active: bool


class StandingBidResponse(Record):
    utility: str
    rate_micro_per_kwh: int
    active: bool
    updated_at: int


class SettlementRequest(Body):
    owner: Name
    window_s: int = Field(ge=900, le=366 * 86400, description="Tgen older than this has left to the grid")


class SettlementResponse(BaseModel):
    owner: str
    expired_wh: int
    delivered_wh: int
    unsold_wh: int


class AssetEventsQuery(PageQuery):
    from_: InstantFrom | None = Field(None, alias="from")
    to: InstantTo | None = None


class AssetEventListResponse(BaseModel):
    events: list[dict[str, Any]]
    next_cursor: str | None


class BatteryStateResponse(BaseModel):
    asset_id: str
    params: dict[str, Any]
    state: dict[str, Any] | None
