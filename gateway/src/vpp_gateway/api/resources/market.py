"""Balances, lots, supply, offers and trades, credit, the utility's standing bid, settlement, asset events and
battery state. The contract decides who may see what (owners: their own account); the gateway adds the
function-level checks it can make without the ledger."""

from __future__ import annotations

from ..deps import Resource
from ..endpoint import Call, operation
from ..models.common import PageQuery
from ..models.market import (
    AcceptOfferRequest,
    AssetEventListResponse,
    AssetEventsQuery,
    BalanceResponse,
    BatteryStateResponse,
    DepositRequest,
    DepositResponse,
    LotListResponse,
    LotResponse,
    LotsQuery,
    OfferCreateRequest,
    OfferListQuery,
    OfferListResponse,
    OfferResponse,
    SettlementRequest,
    SettlementResponse,
    StandingBidRequest,
    StandingBidResponse,
    SupplyResponse,
    TradeListResponse,
    TradeResponse,
)
from ..pagination import decode_cursor, encode_cursor, page_after
from .lookups import committed_reply, rich_query, time_range

TOKENS_TAG = "tokens"
MARKET_TAG = "market"
PRIVILEGED = frozenset({"admin", "utility", "auditor"})


class Balance(Resource):
    @operation("An account's balances and credit (owners: their own)", tags=TOKENS_TAG, response=BalanceResponse,
               errors=("FORBIDDEN",))
    async def on_get(self, call: Call):
        return BalanceResponse.model_validate(await self.deps.ledger.query(
            call.principal.identity, "GetBalance", call.params["account"]))


class MyBalance(Resource):
    @operation("The caller's balances and credit", tags=TOKENS_TAG, response=BalanceResponse)
    async def on_get(self, call: Call):
        return BalanceResponse.model_validate(await self.deps.ledger.query(
            call.principal.identity, "GetBalance", call.principal.ledger_account))


class Lots(Resource):
    @operation("An account's lots of one token, oldest origin first (owners: their own)", tags=TOKENS_TAG,
               query=LotsQuery, response=LotListResponse, errors=("FORBIDDEN", "INVALID_ARGUMENT"))
    async def on_get(self, call: Call):
        lots = await self.deps.ledger.query(call.principal.identity, "GetLots", call.params["account"],
                                            call.query.token)
        page, cursor = page_after(lots, lambda lot: f"{lot['origin_start']:011d}/{lot['lot_id']}", call.query.limit,
                                  call.query.cursor, "lots")
        return LotListResponse(lots=[LotResponse.model_validate(lot) for lot in page], next_cursor=cursor)


class Supply(Resource):
    @operation("Minted, burned and outstanding per token, with the conservation check", tags=TOKENS_TAG,
               roles=PRIVILEGED, response=SupplyResponse)
    async def on_get(self, call: Call):
        return SupplyResponse.model_validate(await self.deps.ledger.query(call.principal.identity, "GetSupply"))


class Offers(Resource):
    @operation("Offers by status and token, paged by the ledger (rich query)", tags=MARKET_TAG, query=OfferListQuery,
               response=OfferListResponse, errors=("NOT_SUPPORTED_ON_THIS_BACKEND",))
    async def on_get(self, call: Call):
        q = call.query
        bookmark = (decode_cursor(q.cursor, "offers") or {}).get("b", "")
        answer = await rich_query(self.deps, call.principal.identity, "QueryOffers", q.status, q.token, q.limit,
                                  bookmark)
        cursor = encode_cursor({"k": "offers", "b": answer["bookmark"]}) \
            if answer["bookmark"] and len(answer["offers"]) >= q.limit else None
        return OfferListResponse(offers=[OfferResponse.model_validate(o) for o in answer["offers"]],
                                 next_cursor=cursor)

    @operation("Offer free Tgen or Tstorage for a validity window (owners); the tokens go to escrow",
               tags=MARKET_TAG, roles=frozenset({"owner"}), body=OfferCreateRequest, response=OfferResponse,
               status=201, errors=("INSUFFICIENT_BALANCE", "INVALID_ARGUMENT", "OVERFLOW"))
    async def on_post(self, call: Call):
        b: OfferCreateRequest = call.body
        offer, committed = await self.deps.ledger.submit(call.principal.identity, "CreateOffer", b.token,
                                                         b.quantity_wh, b.rate_micro_per_kwh, b.valid_from,
                                                         b.valid_until)
        return committed_reply(OfferResponse.model_validate(offer), committed)


class Offer(Resource):
    @operation("One offer", tags=MARKET_TAG, response=OfferResponse, errors=("NOT_FOUND",))
    async def on_get(self, call: Call):
        return OfferResponse.model_validate(await self.deps.ledger.query(call.principal.identity, "GetOffer",
                                                                         call.params["offer_id"]))

    @operation("Cancel an offer (its seller or the operator); unsold tokens return to the seller", tags=MARKET_TAG,
               response=OfferResponse, errors=("NOT_FOUND", "FORBIDDEN", "OFFER_NOT_ACTIVE"))
    async def on_delete(self, call: Call):
        offer, committed = await self.deps.ledger.submit(call.principal.identity, "CancelOffer",
                                                         call.params["offer_id"])
        return committed_reply(OfferResponse.model_validate(offer), committed)


class OfferAccept(Resource):
    @operation("Buy all or part of an offer (owners, the utility): credit moves to the seller, tokens to the buyer",
               tags=MARKET_TAG, roles=frozenset({"owner", "utility"}), body=AcceptOfferRequest,
               response=TradeResponse, errors=("NOT_FOUND", "OFFER_NOT_ACTIVE", "OFFER_EXCEEDED",
                                                "INSUFFICIENT_CREDIT", "FORBIDDEN"))
    async def on_post(self, call: Call):
        trade, committed = await self.deps.ledger.submit(call.principal.identity, "AcceptOffer",
                                                         call.params["offer_id"], call.body.quantity_wh)
        return committed_reply(TradeResponse.model_validate(trade), committed)


class OfferTrades(Resource):
    @operation("The trades of an offer (owners who are not the seller: their own purchases)", tags=MARKET_TAG,
               query=PageQuery, response=TradeListResponse, errors=("NOT_FOUND",))
    async def on_get(self, call: Call):
        trades = await self.deps.ledger.query(call.principal.identity, "GetTrades", call.params["offer_id"])
        page, cursor = page_after(trades, lambda t: f"{t['at']:011d}/{t['tx_id']}", call.query.limit,
                                  call.query.cursor, "trades")
        return TradeListResponse(trades=[TradeResponse.model_validate(t) for t in page], next_cursor=cursor)


class Deposits(Resource):
    @operation("Deposit prepaid credit on an account (admin, utility)", tags=MARKET_TAG,
               roles=frozenset({"admin", "utility"}), body=DepositRequest, response=DepositResponse,
               errors=("INVALID_ARGUMENT", "OVERFLOW"))
    async def on_post(self, call: Call):
        result, committed = await self.deps.ledger.submit(call.principal.identity, "DepositCredit",
                                                          call.body.account, call.body.amount_micro)
        return committed_reply(DepositResponse.model_validate(result), committed)


class StandingBid(Resource):
    @operation("Set the utility's standing bid for Tgen nobody consumed (utility)", tags=MARKET_TAG,
               roles=frozenset({"utility"}), body=StandingBidRequest, response=StandingBidResponse,
               errors=("INVALID_ARGUMENT", "OVERFLOW"))
    async def on_put(self, call: Call):
        bid, committed = await self.deps.ledger.submit(call.principal.identity, "SetStandingBid",
                                                       call.body.rate_micro_per_kwh, call.body.active)
        return committed_reply(StandingBidResponse.model_validate(bid), committed)


class Settlements(Resource):
    @operation("Settle an owner's expired Tgen: delivered to the standing bid or burned as exported-unsold (admin)",
               tags=MARKET_TAG, roles=frozenset({"admin"}), body=SettlementRequest, response=SettlementResponse,
               errors=("INVALID_ARGUMENT",))
    async def on_post(self, call: Call):
        result, committed = await self.deps.ledger.submit(call.principal.identity, "SettleExpiredTgen",
                                                          call.body.owner, call.body.window_s)
        return committed_reply(SettlementResponse.model_validate(result), committed)


class AssetEvents(Resource):
    @operation("Token events and readings of an asset in [from, to)", tags=TOKENS_TAG, query=AssetEventsQuery,
               response=AssetEventListResponse, errors=("NOT_FOUND", "FORBIDDEN"))
    async def on_get(self, call: Call):
        start, end = time_range(self.deps, call.query)
        events = await self.deps.ledger.query(call.principal.identity, "GetAssetEvents", call.params["asset_id"],
                                              start, end)
        numbered = list(enumerate(events))  # the contract's order is stable: page by position in it
        page, cursor = page_after(numbered, lambda pair: pair[0], call.query.limit, call.query.cursor,
                                  "asset-events")
        return AssetEventListResponse(events=[event for _, event in page], next_cursor=cursor)


class Battery(Resource):
    @operation("The burn algorithm's view of a battery", tags=TOKENS_TAG, response=BatteryStateResponse,
               errors=("NOT_FOUND", "FORBIDDEN"))
    async def on_get(self, call: Call):
        return BatteryStateResponse.model_validate(await self.deps.ledger.query(
            call.principal.identity, "GetBatteryState", call.params["asset_id"]))
