"""Sites, assets and meters."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from .common import MAX_JSON_INT, Body, EpochSeconds, Name, PageQuery, Record

PemKey = Annotated[str, Field(min_length=1, max_length=4096, description="ECDSA P-256 public key, PEM")]


class SiteCreateRequest(Body):
    site_id: Name
    location: str = Field(max_length=256)
    owner: Name | None = Field(None, description="ledger account of the owner: admins only (owners get themselves)")


class SiteResponse(Record):
    site_id: str
    owner: str
    location: str
    registered_at: int
    assets: list[str] = Field(default_factory=list)


class SiteListQuery(PageQuery):
    owner: Name | None = Field(None, description="admin, utility, auditor: one owner's sites")


class SiteListResponse(BaseModel):
    sites: list[SiteResponse]
    next_cursor: str | None


class BatteryParamsRequest(Body):
    """Battery parameters; omitted ones take the chemistry's documented defaults (custom needs them all)."""

    chemistry: Literal["nmc", "lfp", "lead_acid", "vanadium_flow", "custom"] = "custom"
    capacity_wh: int = Field(ge=1, le=10**9)
    soc_min_permille: int | None = Field(None, ge=0, le=999)
    soc_max_permille: int | None = Field(None, ge=1, le=1000)
    charge_eff_ppm: int | None = Field(None, ge=1, le=1_000_000)
    discharge_eff_ppm: int | None = Field(None, ge=1, le=1_000_000)
    self_discharge_ppm_per_day: int | None = Field(None, ge=0, le=1_000_000)
    calendar_fade_ppm_per_year: int | None = Field(None, ge=0, le=1_000_000)
    cycle_fade_ppm_per_efc: int | None = Field(None, ge=0, le=1_000_000)
    reserve_horizon_s: int | None = Field(None, ge=1, le=366 * 86400)
    max_soc_gap_s: int | None = Field(None, ge=1, le=7 * 86400)
    soc_noise_permille: int | None = Field(None, ge=0, le=100)
    tolerance_wh: int | None = Field(None, ge=0, le=MAX_JSON_INT)


class AssetCreateRequest(Body):
    asset_id: Name
    kind: Literal["generator", "battery", "load", "grid"]
    max_power_w: int = Field(ge=1, le=MAX_JSON_INT, description="W (integer)")
    battery: BatteryParamsRequest | None = Field(None, description="required for kind battery")


class AssetResponse(Record):
    asset_id: str
    site_id: str
    owner: str
    kind: str
    max_power_w: int
    battery: dict[str, Any] | None = None
    registered_at: int
    meters: list[str] = Field(default_factory=list)


class AssetRef(BaseModel):
    asset_id: str


class AssetListResponse(BaseModel):
    assets: list[AssetRef]
    next_cursor: str | None


class MeterCreateRequest(Body):
    meter_id: Name
    interval_s: Literal[300, 900]
    public_key_pem: PemKey


class MeterKey(Record):
    version: int
    pem: str
    from_: int = Field(alias="from")
    retired_at: int


class MeterResponse(Record):
    meter_id: str
    asset_id: str
    site_id: str
    owner: str
    kind: str
    interval_s: int
    max_power_w: int
    active: bool
    keys: list[MeterKey]


class MeterKeyRequest(Body):
    public_key_pem: PemKey


class MeterActiveRequest(Body):
    active: bool


class MeterStatusResponse(BaseModel):
    """What the contract lets the gateway read of a meter today: that the caller may read it, and its last reading
    of the past two days (the contract has no GetMeter query yet)."""

    meter_id: str
    last_reading: dict[str, Any] | None
    checked_from: EpochSeconds
