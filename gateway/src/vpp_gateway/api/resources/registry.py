"""Sites, assets and meters.

Registration is an operator transaction. An admin submits it as itself and may name any owner. An owner may
register its own sites and their assets (self-service): the gateway checks the site is the owner's, then submits
as the operator's service identity with the owner forced to the caller's ledger account. Meters are the
operator's alone: registering a meter's public key is what lets readings signed by its private key mint tokens.
"""

from __future__ import annotations

from ..deps import Resource
from ..endpoint import Call, operation, validation_error
from ..errors import FieldError
from ..models.common import PageQuery
from ..models.registry import (
    AssetCreateRequest,
    AssetListResponse,
    AssetRef,
    AssetResponse,
    MeterActiveRequest,
    MeterCreateRequest,
    MeterKeyRequest,
    MeterResponse,
    MeterStatusResponse,
    SiteCreateRequest,
    SiteListQuery,
    SiteListResponse,
    SiteResponse,
)
from ..pagination import page_after
from .lookups import committed_reply, find_site

TAG = "registry"
REGISTRARS = frozenset({"admin", "owner"})
ADMIN = frozenset({"admin"})
LAST_READING_WINDOW_S = 2 * 86_400


class Sites(Resource):
    @operation("Sites: owners their own; admin, utility and auditors all (or one owner's)", tags=TAG,
               query=SiteListQuery, response=SiteListResponse, errors=("FORBIDDEN",))
    async def on_get(self, call: Call):
        p, q = call.principal, call.query
        owner = q.owner or (p.ledger_account if p.role == "owner" else "")
        sites = await self.deps.ledger.query(p.identity, "GetSites", owner)
        page, cursor = page_after([s for s in sites if s], lambda s: s["site_id"], q.limit, q.cursor, "sites")
        return SiteListResponse(sites=[SiteResponse.model_validate(s) for s in page], next_cursor=cursor)

    @operation("Register a site. Owners register their own (owner field: admins only)", tags=TAG, roles=REGISTRARS,
               body=SiteCreateRequest, response=SiteResponse, status=201, admin_fields=frozenset({"owner"}),
               errors=("ALREADY_EXISTS", "INVALID_ARGUMENT", "PROPERTY_FORBIDDEN", "FORBIDDEN"))
    async def on_post(self, call: Call):
        body: SiteCreateRequest = call.body
        if call.is_admin:
            if not body.owner:
                raise validation_error([FieldError("body.owner", "missing", "an admin must name the owner")])
            identity, owner = call.principal.identity, body.owner
        else:  # self-service: the operator registers the caller's own site
            identity, owner = self.deps.accounts.operator_identity(), call.principal.ledger_account
        site, committed = await self.deps.ledger.submit(identity, "RegisterSite", body.site_id, owner, body.location)
        return committed_reply(SiteResponse.model_validate(site), committed)


class Site(Resource):
    @operation("One site", tags=TAG, response=SiteResponse, errors=("NOT_FOUND",))
    async def on_get(self, call: Call):
        return SiteResponse.model_validate(await find_site(self.deps, call.principal, call.params["site_id"]))


class SiteAssets(Resource):
    @operation("The assets of a site", tags=TAG, query=PageQuery, response=AssetListResponse, errors=("NOT_FOUND",))
    async def on_get(self, call: Call):
        site = await find_site(self.deps, call.principal, call.params["site_id"])
        page, cursor = page_after(site.get("assets", []), str, call.query.limit, call.query.cursor, "assets")
        return AssetListResponse(assets=[AssetRef(asset_id=a) for a in page], next_cursor=cursor)

    @operation("Register an asset of a site (owners: of their own sites)", tags=TAG, roles=REGISTRARS,
               body=AssetCreateRequest, response=AssetResponse, status=201,
               errors=("NOT_FOUND", "ALREADY_EXISTS", "INVALID_ARGUMENT", "OVERFLOW", "FORBIDDEN"))
    async def on_post(self, call: Call):
        body: AssetCreateRequest = call.body
        site_id = call.params["site_id"]
        if (body.kind == "battery") != (body.battery is not None):
            raise validation_error([FieldError("body.battery", "battery_params",
                                               "battery parameters are required for a battery and only for one")])
        if call.is_admin:
            identity = call.principal.identity
        else:
            await find_site(self.deps, call.principal, site_id)  # 404 unless it is the caller's site
            identity = self.deps.accounts.operator_identity()
        battery = body.battery.model_dump(exclude_none=True) if body.battery else {}
        asset, committed = await self.deps.ledger.submit(identity, "RegisterAsset", body.asset_id, site_id, body.kind,
                                                         body.max_power_w, battery)
        return committed_reply(AssetResponse.model_validate(asset), committed)


class Asset(Resource):
    @operation("One asset as registered: site, owner, kind, power, battery parameters, meters (owners: their own)",
               tags=TAG, response=AssetResponse, errors=("NOT_FOUND", "FORBIDDEN"))
    async def on_get(self, call: Call):
        return AssetResponse.model_validate(await self.deps.ledger.query(
            call.principal.identity, "GetAsset", call.params["asset_id"]))


class AssetMeters(Resource):
    # Admin only, even for an owner's own asset: whoever registers a meter's public key could hold its private
    # key and sign any energy; meter keys are provisioned at the edge and registered by the operator (DESIGN §7).
    @operation("Register a meter of an asset with its P-256 public key (admin: the operator provisions meters)",
               tags=TAG, roles=ADMIN, body=MeterCreateRequest, response=MeterResponse, status=201,
               errors=("NOT_FOUND", "ALREADY_EXISTS", "INVALID_ARGUMENT", "FORBIDDEN"))
    async def on_post(self, call: Call):
        body: MeterCreateRequest = call.body
        meter, committed = await self.deps.ledger.submit(call.principal.identity, "RegisterMeter", body.meter_id,
                                                         call.params["asset_id"], body.interval_s,
                                                         body.public_key_pem)
        return committed_reply(MeterResponse.model_validate(meter), committed)


class Meter(Resource):
    @operation("A meter: readable by the caller, and its last reading of the past two days", tags=TAG,
               response=MeterStatusResponse, errors=("UNKNOWN_METER", "FORBIDDEN"))
    async def on_get(self, call: Call):
        now = self.deps.now()
        start = now - LAST_READING_WINDOW_S
        readings = await self.deps.ledger.query(call.principal.identity, "GetReadings", call.params["meter_id"],
                                                start, now)
        return MeterStatusResponse(meter_id=call.params["meter_id"], last_reading=readings[-1] if readings else None,
                                   checked_from=start)


class MeterKey(Resource):
    @operation("Rotate a meter's key: the new key signs from now on (admin)", tags=TAG, roles=ADMIN,
               body=MeterKeyRequest, response=MeterResponse, errors=("UNKNOWN_METER", "INVALID_ARGUMENT"))
    async def on_put(self, call: Call):
        meter, committed = await self.deps.ledger.submit(call.principal.identity, "RotateMeterKey",
                                                         call.params["meter_id"], call.body.public_key_pem)
        return committed_reply(MeterResponse.model_validate(meter), committed)


class MeterActive(Resource):
    @operation("Activate or deactivate a meter (admin)", tags=TAG, roles=ADMIN, body=MeterActiveRequest,
               response=MeterResponse, errors=("UNKNOWN_METER",))
    async def on_put(self, call: Call):
        meter, committed = await self.deps.ledger.submit(call.principal.identity, "SetMeterActive",
                                                         call.params["meter_id"], call.body.active)
        return committed_reply(MeterResponse.model_validate(meter), committed)
