"""The energy token contract: thin transactions (parse → guard → domain → persist → emit).

Roles come from the caller's certificate (Fabric CA attribute ``role``: admin, owner, utility, auditor), the
account from its enrollment id — never from an argument. Time is the transaction timestamp.
"""

from __future__ import annotations

import json
from decimal import Decimal

import orjson
from fabric_ccaas import ChaincodeError, Context, Contract, ContractChaincode, evaluate, transaction
from fabric_ccaas.keys import split_composite_key

from .canonical import canonical
from .codes import Code
from .domain.readings import INTERVALS, public_key_is_p256
from .domain.tokens import TGEN, TOKENS, TSTORAGE, TSTORAGE_RESERVED, Take, payment_micro
from .ledger import key, meter_key
from .rules import (
    add_credit,
    battery_params,
    credit,
    ingest_batch,
    meter_record,
    offer_record,
    readings_of,
)
from .txn import ALL_TOKENS, Tx, caller_of, checked_name, positive, require_account_access, require_role

ASSET_KINDS = {"generator": "generation", "battery": "battery", "load": "load", "grid": "grid"}
MAX_BATCH = 1000


def parse_batch(batch_json: str) -> object:
    """The batch argument as JSON. orjson first (several times faster); what it refuses (NaN, an exponent beyond
    a double, a lone surrogate) goes to json with floats as Decimal. Either way a non-integer number (orjson reads
    an integer beyond 64 bits as a float) reaches the reading checks, which reject that reading alone ("must be an
    integer"), never the batch."""
    try:
        return orjson.loads(batch_json)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(batch_json, parse_float=Decimal, parse_constant=Decimal)
    except (ValueError, ArithmeticError, RecursionError) as exc:  # fuzzing: 1e999999999999 (Decimal), [[[… deep
        raise ChaincodeError(Code.INVALID_ARGUMENT, f"batch_json is not JSON: {exc}") from exc


# -- the contract ---------------------------------------------------------------------------------------------

class EnergyContract(Contract):
    name = "energy"
    version = "0.1.0"

    # registry ---------------------------------------------------------------------------------------------
    @transaction
    async def RegisterSite(self, ctx: Context, site_id: str, owner: str, location: str) -> dict:
        require_role(caller_of(ctx), "admin")
        tx = Tx.open(ctx)
        site_key = key("site", checked_name(site_id, "site_id"))
        if await tx.view.get(site_key):
            raise ChaincodeError(Code.ALREADY_EXISTS, f"site {site_id} exists")
        site = {"docType": "site", "site_id": site_id, "owner": checked_name(owner, "owner"),
                "location": location[:256], "registered_at": tx.now}
        await tx.view.put_json(site_key, site)
        await tx.view.put_json(key("owner_site", owner, site_id), {"site_id": site_id})
        return site

    @transaction
    async def RegisterAsset(self, ctx: Context, asset_id: str, site_id: str, kind: str, max_power_w: int,
                            battery: dict) -> dict:
        require_role(caller_of(ctx), "admin")
        tx = Tx.open(ctx)
        if kind not in ASSET_KINDS:
            raise ChaincodeError(Code.INVALID_ARGUMENT, f"kind must be one of {', '.join(sorted(ASSET_KINDS))}")
        site = await tx.view.get_json(key("site", site_id))
        if site is None:
            raise ChaincodeError(Code.NOT_FOUND, f"site {site_id} does not exist")
        asset_key = key("asset", checked_name(asset_id, "asset_id"))
        if await tx.view.get(asset_key):
            raise ChaincodeError(Code.ALREADY_EXISTS, f"asset {asset_id} exists")
        asset = {"docType": "asset", "asset_id": asset_id, "site_id": site_id, "owner": site["owner"],
                 "kind": kind, "max_power_w": positive(max_power_w, "max_power_w"),
                 "battery": battery_params(battery, tx.now) if kind == "battery" else None,
                 "registered_at": tx.now}
        await tx.view.put_json(asset_key, asset)
        site["assets"] = sorted({*site.get("assets", []), asset_id})
        await tx.view.put_json(key("site", site_id), site)
        return asset

    @transaction
    async def RegisterMeter(self, ctx: Context, meter_id: str, asset_id: str, interval_s: int,
                            public_key_pem: str) -> dict:
        require_role(caller_of(ctx), "admin")
        tx = Tx.open(ctx)
        asset = await tx.view.get_json(key("asset", asset_id))
        if asset is None:
            raise ChaincodeError(Code.NOT_FOUND, f"asset {asset_id} does not exist")
        if interval_s not in INTERVALS:
            raise ChaincodeError(Code.INVALID_ARGUMENT, "interval_s must be 300 or 900")
        if not public_key_is_p256(public_key_pem):
            raise ChaincodeError(Code.INVALID_ARGUMENT, "public_key_pem must be an ECDSA P-256 public key (PEM)")
        mkey = meter_key(checked_name(meter_id, "meter_id"))
        if await tx.view.get(mkey):
            raise ChaincodeError(Code.ALREADY_EXISTS, f"meter {meter_id} exists")
        meter = {"docType": "meter", "meter_id": meter_id, "asset_id": asset_id, "site_id": asset["site_id"],
                 "owner": asset["owner"], "kind": ASSET_KINDS[asset["kind"]], "interval_s": interval_s,
                 "max_power_w": asset["max_power_w"], "active": True,
                 "keys": [{"version": 1, "pem": public_key_pem, "from": 0, "retired_at": 0}]}
        await tx.view.put_json(mkey, meter)
        asset["meters"] = sorted({*asset.get("meters", []), meter_id})
        await tx.view.put_json(key("asset", asset_id), asset)
        return meter

    @transaction
    async def RotateMeterKey(self, ctx: Context, meter_id: str, public_key_pem: str) -> dict:
        """A new key signs from now on; the old one stays valid for intervals that started before now."""
        require_role(caller_of(ctx), "admin")
        tx = Tx.open(ctx)
        meter = await meter_record(tx, meter_id)
        if not public_key_is_p256(public_key_pem):
            raise ChaincodeError(Code.INVALID_ARGUMENT, "public_key_pem must be an ECDSA P-256 public key (PEM)")
        for entry in meter["keys"]:
            if not entry["retired_at"]:
                entry["retired_at"] = tx.now
        meter["keys"].append({"version": len(meter["keys"]) + 1, "pem": public_key_pem, "from": tx.now,
                              "retired_at": 0})
        await tx.view.put_json(meter_key(meter_id), meter)
        return meter

    @transaction
    async def SetMeterActive(self, ctx: Context, meter_id: str, active: bool) -> dict:
        require_role(caller_of(ctx), "admin")
        tx = Tx.open(ctx)
        meter = await meter_record(tx, meter_id)
        meter["active"] = active
        await tx.view.put_json(meter_key(meter_id), meter)
        return meter

    # readings -------------------------------------------------------------------------------------------------
    @transaction
    async def SubmitReadings(self, ctx: Context, batch_json: str) -> list:
        """A JSON array of meter-signed interval readings. One result per reading, in order: accepted,
        duplicate or rejected with a code; a bad reading (even one with a float in it) never loses the others.
        Accepted readings are applied in interval order (generation, battery, load, grid within an interval),
        so a batch's effect does not depend on how the edge ordered it."""
        require_role(caller_of(ctx), "admin")
        batch = parse_batch(batch_json)
        if not isinstance(batch, list):
            raise ChaincodeError(Code.INVALID_ARGUMENT, "batch_json must be a JSON array of signed readings")
        if len(batch) > MAX_BATCH:
            raise ChaincodeError(Code.BATCH_TOO_LARGE, f"at most {MAX_BATCH} readings per batch")
        tx = Tx.open(ctx)
        results = await ingest_batch(tx, batch)
        await tx.finish()
        return canonical(results)  # the list as its canonical JSON, written by orjson (the runtime would use json)

    # credit and market ----------------------------------------------------------------------------------------
    @transaction
    async def DepositCredit(self, ctx: Context, account: str, amount_micro: int) -> dict:
        require_role(caller_of(ctx), "admin", "utility")
        tx = Tx.open(ctx)
        await add_credit(tx, checked_name(account, "account"), positive(amount_micro, "amount_micro"))
        return {"account": account, "credit_micro": await credit(tx, account)}

    @transaction
    async def CreateOffer(self, ctx: Context, token: str, quantity_wh: int, rate_micro_per_kwh: int,
                          valid_from: int, valid_until: int) -> dict:
        caller = caller_of(ctx)
        require_role(caller, "owner")
        tx = Tx.open(ctx)
        if token not in TOKENS:
            raise ChaincodeError(Code.INVALID_ARGUMENT, f"token must be {TGEN} or {TSTORAGE}")
        positive(quantity_wh, "quantity_wh")
        positive(rate_micro_per_kwh, "rate_micro_per_kwh")
        if valid_until <= max(valid_from, tx.now):
            raise ChaincodeError(Code.INVALID_ARGUMENT, "valid_until must be after valid_from and now")
        offer_id = tx.tx_id[:24]
        escrow = f"offer:{offer_id}"
        await tx.move_fifo(caller.account, token, quantity_wh, escrow)  # free tokens only: reserved cannot be offered
        offer = {"docType": "offer", "offer_id": offer_id, "seller": caller.account, "token": token,
                 "quantity_wh": quantity_wh, "remaining_wh": quantity_wh, "rate_micro_per_kwh": rate_micro_per_kwh,
                 "valid_from": valid_from, "valid_until": valid_until, "status": "active", "created_at": tx.now}
        await tx.view.put_json(key("offer", offer_id), offer)
        tx.event("offer", f"account:{caller.account}", tx.now, offer_id=offer_id, token=token, amount=quantity_wh,
                 rate_micro_per_kwh=rate_micro_per_kwh)
        await tx.finish()
        return offer

    @transaction
    async def CancelOffer(self, ctx: Context, offer_id: str) -> dict:
        caller = caller_of(ctx)
        tx = Tx.open(ctx)
        offer = await offer_record(tx, offer_id)
        if caller.account != offer["seller"] and caller.role != "admin":
            raise ChaincodeError(Code.FORBIDDEN, "only the seller or the operator can cancel an offer")
        if offer["status"] != "active":
            raise ChaincodeError(Code.OFFER_NOT_ACTIVE, f"offer {offer_id} is {offer['status']}")
        if offer["remaining_wh"]:
            await tx.move_fifo(f"offer:{offer_id}", offer["token"], offer["remaining_wh"], offer["seller"])
        offer.update(status="cancelled", remaining_wh=0)
        await tx.view.put_json(key("offer", offer_id), offer)
        tx.event("offer_cancelled", f"account:{offer['seller']}", tx.now, offer_id=offer_id)
        await tx.finish()
        return offer

    @transaction
    async def AcceptOffer(self, ctx: Context, offer_id: str, quantity_wh: int) -> dict:
        """Buy all or part of an offer: payment from the buyer's credit to the seller, tokens to the buyer.
        Tokens bought by the utility leave to the grid at once: they are burned as delivered."""
        caller = caller_of(ctx)
        require_role(caller, "owner", "utility")
        tx = Tx.open(ctx)
        offer = await offer_record(tx, offer_id)
        positive(quantity_wh, "quantity_wh")
        if offer["status"] != "active" or not offer["valid_from"] <= tx.now < offer["valid_until"]:
            raise ChaincodeError(Code.OFFER_NOT_ACTIVE, f"offer {offer_id} is not open at {tx.now}")
        if caller.account == offer["seller"]:
            raise ChaincodeError(Code.FORBIDDEN, "a seller cannot buy its own offer")
        if quantity_wh > offer["remaining_wh"]:
            raise ChaincodeError(Code.OFFER_EXCEEDED, f"offer {offer_id} has {offer['remaining_wh']} Wh left")
        price = payment_micro(quantity_wh, offer["rate_micro_per_kwh"])
        balance = await credit(tx, caller.account)
        if balance < price:
            raise ChaincodeError(Code.INSUFFICIENT_CREDIT, f"{price} micro-units needed, {balance} available")
        await add_credit(tx, caller.account, -price)
        await add_credit(tx, offer["seller"], price)
        takes = await tx.move_fifo(f"offer:{offer_id}", offer["token"], quantity_wh, caller.account)
        if caller.role == "utility":
            await tx.burn_fifo(caller.account, offer["token"], quantity_wh)
        offer["remaining_wh"] -= quantity_wh
        if not offer["remaining_wh"]:
            offer["status"] = "sold"
        await tx.view.put_json(key("offer", offer_id), offer)
        trade = {"docType": "trade", "offer_id": offer_id, "buyer": caller.account, "seller": offer["seller"],
                 "token": offer["token"], "quantity_wh": quantity_wh, "price_micro": price, "at": tx.now,
                 "tx_id": tx.tx_id, "origins": sorted({t.lot.origin_asset for t in takes}),
                 "delivered_to_grid": caller.role == "utility"}
        await tx.view.put_json(key("trade", offer_id, tx.tx_id), trade)
        for asset in trade["origins"]:
            tx.event("trade", asset, tx.now, offer_id=offer_id, buyer=caller.account, seller=offer["seller"],
                     token=offer["token"], amount=quantity_wh, price_micro=price)
        await tx.finish()
        return trade

    @transaction
    async def SetStandingBid(self, ctx: Context, rate_micro_per_kwh: int, active: bool) -> dict:
        """The utility's standing bid for Tgen nobody consumed: settlement delivers it at this rate."""
        caller = caller_of(ctx)
        require_role(caller, "utility")
        tx = Tx.open(ctx)
        bid = {"docType": "bid", "utility": caller.account, "rate_micro_per_kwh": positive(rate_micro_per_kwh,
               "rate_micro_per_kwh"), "active": active, "updated_at": tx.now}
        await tx.view.put_json(key("bid", caller.account), bid)
        return bid

    @transaction
    async def SettleExpiredTgen(self, ctx: Context, owner: str, window_s: int) -> dict:
        """Tgen of ``owner`` produced more than ``window_s`` ago has physically left to the grid: delivered to the
        utility's standing bid (paid from the utility's credit) or, without a bid or credit, burned as
        exported-unsold. One owner per transaction: settlement never rewrites everybody's lots at once."""
        require_role(caller_of(ctx), "admin")
        tx = Tx.open(ctx)
        if window_s < 900:
            raise ChaincodeError(Code.INVALID_ARGUMENT, "window_s must be at least one interval (900 s)")
        expired = [lot for lot in await tx.lots(owner, TGEN) if lot.origin_start + window_s <= tx.now]
        total = sum(lot.amount for lot in expired)
        bids = [v for _, v in await tx.view.scan("bid") if v["active"]]
        delivered = 0
        if bids and total:
            bid = bids[0]  # one utility per channel; the first active bid by account order otherwise
            affordable = await credit(tx, bid["utility"]) * 1000 // bid["rate_micro_per_kwh"]
            delivered = min(total, affordable)
            price = payment_micro(delivered, bid["rate_micro_per_kwh"])
            if delivered:
                await add_credit(tx, bid["utility"], -price)
                await add_credit(tx, owner, price)
        remaining = delivered
        for lot in sorted(expired, key=lambda lt: (lt.origin_start, lt.lot_id)):
            await tx.remove([Take(lot, lot.amount)])
            tx.count(TGEN, burned=lot.amount)
            to_bid = min(remaining, lot.amount)
            remaining -= to_bid
            for amount, reason in ((to_bid, "delivered_to_grid"), (lot.amount - to_bid, "exported_unsold")):
                if amount:
                    tx.event("burn", lot.origin_asset, lot.origin_start, owner=owner, token=TGEN, amount=amount,
                             reason=reason, **({"buyer": bids[0]["utility"]} if reason == "delivered_to_grid"
                                               else {}))
        await tx.finish()
        return {"owner": owner, "expired_wh": total, "delivered_wh": delivered, "unsold_wh": total - delivered}

    # queries --------------------------------------------------------------------------------------------------
    @evaluate
    async def GetBalance(self, ctx: Context, account: str) -> dict:
        caller = caller_of(ctx)
        require_account_access(caller, account)
        tx = Tx.open(ctx)
        return {"account": account, **await tx.balances(account), "credit_micro": await credit(tx, account)}

    @evaluate
    async def GetLots(self, ctx: Context, account: str, token: str) -> list:
        require_account_access(caller_of(ctx), account)
        if token not in ALL_TOKENS:
            raise ChaincodeError(Code.INVALID_ARGUMENT, f"token must be one of {', '.join(ALL_TOKENS)}")
        return [lot.to_json() for lot in await Tx.open(ctx).lots(account, token)]

    @evaluate
    async def GetSupply(self, ctx: Context) -> dict:
        """Per token: minted, burned and the sum of all balances, with the conservation check."""
        require_role(caller_of(ctx), "admin", "utility", "auditor")
        tx = Tx.open(ctx)
        totals = {token: {"minted": 0, "burned": 0, "outstanding": 0} for token in (TGEN, TSTORAGE)}
        for supply_key, delta in await tx.view.scan_all("supply"):  # paged: more rows than one peer query returns
            token = split_composite_key(supply_key)[1][0]
            if token in totals:
                totals[token]["minted"] += delta["minted"]
                totals[token]["burned"] += delta["burned"]
        for _, lot in await tx.view.scan_all("lot"):
            base = TSTORAGE if lot["token"] == TSTORAGE_RESERVED else lot["token"]
            totals[base]["outstanding"] += lot["amount"]
        for row in totals.values():
            row["conserved"] = row["minted"] - row["burned"] == row["outstanding"]
        return totals

    @evaluate
    async def GetReadings(self, ctx: Context, meter_id: str, from_start: int, to_start: int) -> list:
        caller = caller_of(ctx)
        tx = Tx.open(ctx)
        meter = await meter_record(tx, meter_id)
        require_account_access(caller, meter["owner"])
        return await readings_of(tx, meter, from_start, to_start)

    @evaluate
    async def GetAssetEvents(self, ctx: Context, asset_id: str, from_start: int, to_start: int) -> list:
        caller = caller_of(ctx)
        tx = Tx.open(ctx)
        asset = await tx.view.get_json(key("asset", asset_id))
        if asset is None:
            raise ChaincodeError(Code.NOT_FOUND, f"asset {asset_id} does not exist")
        require_account_access(caller, asset["owner"])
        events = [v for _, v in await tx.view.scan_range(f"E/{asset_id}/{from_start:011d}",
                                                         f"E/{asset_id}/{to_start:011d}")]
        for meter_id in asset.get("meters", []):
            for reading in await readings_of(tx, await meter_record(tx, meter_id), from_start, to_start):
                events.append({"type": "reading", "asset": asset_id, "start": reading["start"],
                               "meter": meter_id, "values": reading["values"], "effects": reading["effects"],
                               "tx_id": reading["tx_id"]})
        return sorted(events, key=lambda e: (e["start"], e["tx_id"], e["type"]))

    @evaluate
    async def GetSites(self, ctx: Context, owner: str) -> list:
        """An owner's sites (owners: their own). With owner "" the operator, utility or auditor get all."""
        caller = caller_of(ctx)
        tx = Tx.open(ctx)
        if owner:
            require_account_access(caller, owner)
            ids = [v["site_id"] for _, v in await tx.view.scan("owner_site", owner)]
            return [await tx.view.get_json(key("site", i)) for i in ids]
        require_role(caller, "admin", "utility", "auditor")
        return [v for _, v in await tx.view.scan("site")]

    @evaluate
    async def QueryReadingsBySite(self, ctx: Context, site_id: str, from_start: int, to_start: int,
                                  page_size: int, bookmark: str) -> dict:
        """Readings of every meter of a site in a date range: a CouchDB rich query (index readingsBySite),
        paginated. Evaluate only: Fabric does not re-validate rich queries at commit."""
        caller = caller_of(ctx)
        tx = Tx.open(ctx)
        site = await tx.view.get_json(key("site", site_id))
        if site is None:
            raise ChaincodeError(Code.NOT_FOUND, f"site {site_id} does not exist")
        require_account_access(caller, site["owner"])
        query = {"selector": {"docType": "reading", "site": site_id, "start": {"$gte": from_start, "$lt": to_start}},
                 "use_index": ["_design/readingsBySite", "readingsBySite"]}
        iterator, page = await ctx.stub.get_query_result_with_pagination(
            json.dumps(query, sort_keys=True), max(1, min(page_size, 1000)), bookmark)
        return {"readings": [json.loads(kv.value) async for kv in iterator], "bookmark": page.bookmark,
                "count": page.fetched_records_count}

    @evaluate
    async def QuerySitesByLocation(self, ctx: Context, location: str) -> list:
        """Sites at a location: a CouchDB rich query (index sitesByLocation). Operator, utility and auditors."""
        require_role(caller_of(ctx), "admin", "utility", "auditor")
        query = {"selector": {"docType": "site", "location": location},
                 "use_index": ["_design/sitesByLocation", "sitesByLocation"]}
        return [json.loads(kv.value) async for kv in await ctx.stub.get_query_result(json.dumps(query,
                                                                                                 sort_keys=True))]

    @evaluate
    async def QueryOffers(self, ctx: Context, status: str, token: str, page_size: int, bookmark: str) -> dict:
        """Offers by status and token (CouchDB rich query, index offersByStatus), paginated."""
        caller_of(ctx)
        query = {"selector": {"docType": "offer", "status": status, "token": token},
                 "use_index": ["_design/offersByStatus", "offersByStatus"]}
        iterator, page = await ctx.stub.get_query_result_with_pagination(
            json.dumps(query, sort_keys=True), max(1, min(page_size, 1000)), bookmark)
        return {"offers": [json.loads(kv.value) async for kv in iterator], "bookmark": page.bookmark}

    @evaluate
    async def GetAsset(self, ctx: Context, asset_id: str) -> dict:
        """One asset as registered: site, owner, kind, power, battery parameters, meters (owners: their own)."""
        caller = caller_of(ctx)
        asset = await Tx.open(ctx).view.get_json(key("asset", asset_id))
        if asset is None:
            raise ChaincodeError(Code.NOT_FOUND, f"asset {asset_id} does not exist")
        require_account_access(caller, asset["owner"])
        return asset

    @evaluate
    async def GetBatteryState(self, ctx: Context, asset_id: str) -> dict:
        """The burn algorithm's view of a battery: its parameters, its state, the last verified boundary."""
        caller = caller_of(ctx)
        tx = Tx.open(ctx)
        asset = await tx.view.get_json(key("asset", asset_id))
        if asset is None or asset["kind"] != "battery":
            raise ChaincodeError(Code.NOT_FOUND, f"battery {asset_id} does not exist")
        require_account_access(caller, asset["owner"])
        return {"asset_id": asset_id, "params": asset["battery"],
                "state": await tx.view.get_json(key("battery", asset_id))}

    @evaluate
    async def GetSiteStatement(self, ctx: Context, site_id: str, from_start: int, to_start: int) -> dict:
        """Per interval: what the site's meters measured and what it did to tokens, plus the totals."""
        caller = caller_of(ctx)
        tx = Tx.open(ctx)
        site = await tx.view.get_json(key("site", site_id))
        if site is None:
            raise ChaincodeError(Code.NOT_FOUND, f"site {site_id} does not exist")
        require_account_access(caller, site["owner"])
        fields = ("generation_wh", "charge_wh", "discharge_wh", "load_wh", "import_wh", "export_wh",
                  "minted_tgen", "burned_tgen", "minted_tstorage", "burned_tstorage", "grid_import_wh")
        rows: dict[int, dict[str, int]] = {}
        for asset_id in site.get("assets", []):
            asset = await tx.view.get_json(key("asset", asset_id))
            for meter_id in asset.get("meters", []):
                for reading in await readings_of(tx, await meter_record(tx, meter_id), from_start, to_start):
                    row = rows.setdefault(reading["start"], dict.fromkeys(fields, 0))
                    values, effects = reading["values"], reading["effects"]
                    row["generation_wh" if reading["kind"] == "generation" else "load_wh"] += (
                        values.get("wh", 0) if reading["kind"] in ("generation", "load") else 0)
                    for name in ("charge_wh", "discharge_wh", "import_wh", "export_wh"):
                        row[name] += values.get(name, 0)
                    for name in ("minted_tgen", "burned_tgen", "minted_tstorage", "burned_tstorage",
                                 "grid_import_wh"):
                        row[name] += effects.get(name, 0)
                    row["burned_tstorage"] += sum(a["amount"] for a in effects.get("algorithm", [])
                                                  if a["type"] == "burn")  # what the battery no longer held
        intervals = [{"start": start, **row} for start, row in sorted(rows.items())]
        totals = {name: sum(r[name] for r in intervals) for name in fields}
        return {"site_id": site_id, "owner": site["owner"], "from": from_start, "to": to_start,
                "intervals": intervals, "totals": totals}

    @evaluate
    async def GetTrades(self, ctx: Context, offer_id: str) -> list:
        """The trades of an offer: its seller, its buyers, the operator, the utility and auditors."""
        caller = caller_of(ctx)
        tx = Tx.open(ctx)
        offer = await offer_record(tx, offer_id)
        trades = [v for _, v in await tx.view.scan("trade", offer_id)]
        if caller.role == "owner" and caller.account != offer["seller"]:
            trades = [t for t in trades if t["buyer"] == caller.account]
        return trades

    @evaluate
    async def GetOffer(self, ctx: Context, offer_id: str) -> dict:
        caller_of(ctx)
        return await offer_record(Tx.open(ctx), offer_id)


chaincode = ContractChaincode(EnergyContract(), title="vpp-ledger", version="0.1.0")

__all__ = ["EnergyContract", "chaincode"]
