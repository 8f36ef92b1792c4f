"""The caller and the per-transaction working set: guards written once, a write-through view, lots, supply
deltas and the one event a Fabric transaction carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from fabric_ccaas import ChaincodeError, Context

from .canonical import canonical
from .codes import Code
from .domain.tokens import TGEN, TSTORAGE, TSTORAGE_RESERVED, Lot, Take, scale_shares, take_fifo
from .ledger import LedgerView, event_key, key

ROLES = ("admin", "owner", "utility", "auditor")
EVENT_NAME = "VppLedger"
ALL_TOKENS = (TGEN, TSTORAGE, TSTORAGE_RESERVED)


@dataclass(frozen=True)
class Caller:
    account: str
    role: str


def caller_of(ctx: Context) -> Caller:
    identity = ctx.client_identity
    role = identity.get_attribute_value("role")
    if role not in ROLES:
        raise ChaincodeError(Code.UNKNOWN_ROLE, f"certificate role {role!r} is not one of {', '.join(ROLES)}")
    enrollment = identity.get_attribute_value("hf.EnrollmentID")
    return Caller(f"{identity.msp_id}:{enrollment}" if enrollment else identity.id, role)


def require_role(caller: Caller, *roles: str) -> None:
    if caller.role not in roles:
        raise ChaincodeError(Code.FORBIDDEN, f"role {caller.role} cannot do this (needs {' or '.join(roles)})")


def require_account_access(caller: Caller, account: str) -> None:
    """Owners see their own account only; the operator, the utility and auditors see all."""
    if caller.role == "owner" and caller.account != account:
        raise ChaincodeError(Code.FORBIDDEN, "owners can only see their own account")


def positive(value: int, name: str) -> int:
    if value <= 0:
        raise ChaincodeError(Code.INVALID_ARGUMENT, f"{name} must be positive")
    if value > 2**53:
        raise ChaincodeError(Code.OVERFLOW, f"{name} is too large")
    return value


def checked_name(value: str, what: str) -> str:
    if not value or len(value) > 128 or "/" in value or not value.isprintable():
        raise ChaincodeError(Code.INVALID_ARGUMENT, f"{what} must be 1-128 printable characters without '/'")
    return value


@dataclass
class Tx:
    ctx: Context
    view: LedgerView
    events: list[dict] = field(default_factory=list)
    indexed: list[int] = field(default_factory=list)
    supply: dict[str, list[int]] = field(default_factory=dict)  # token -> [minted, burned]
    lot_seq: int = 0

    @classmethod
    def open(cls, ctx: Context) -> Tx:
        return cls(ctx, LedgerView(ctx.stub))

    # read from the proposal only when used: a query that needs neither answers from state and identity alone,
    # which lets the embedded ledger keep its answer until a block changes what it read
    @cached_property
    def now(self) -> int:
        return self.ctx.stub.get_tx_timestamp().seconds

    @cached_property
    def tx_id(self) -> str:
        return self.ctx.stub.tx_id

    def new_lot_id(self) -> str:
        self.lot_seq += 1
        return f"{self.tx_id[:16]}.{self.lot_seq:05d}"

    def count(self, token: str, minted: int = 0, burned: int = 0) -> None:
        row = self.supply.setdefault(token, [0, 0])
        row[0] += minted
        row[1] += burned

    def event(self, kind: str, subject: str, start: int, indexed: bool = True, **detail) -> None:
        """``subject`` is the asset the event concerns, or ``account:<id>`` for market events. Events caused by
        a reading are not indexed on their own: the reading record carries them (one write less per reading)."""
        self.events.append({"type": kind, "asset": subject, "start": start, **detail})
        if indexed:
            self.indexed.append(len(self.events) - 1)

    # lots
    async def lots(self, owner: str, token: str) -> list[Lot]:
        return [Lot.from_json(v) for _, v in await self.view.scan("lot", owner, token)]

    async def balances(self, owner: str) -> dict[str, int]:
        """Per token, the sum of the owner's lots: one range read for every token."""
        totals = dict.fromkeys(ALL_TOKENS, 0)
        for _, lot in await self.view.scan("lot", owner):
            totals[lot["token"]] += lot["amount"]
        return totals

    async def put_lot(self, lot: Lot) -> None:
        await self.view.put_json(key("lot", lot.owner, lot.token, lot.origin_start, lot.lot_id), lot.to_json())

    async def remove(self, takes: list[Take]) -> None:
        for take in takes:
            k = key("lot", take.lot.owner, take.lot.token, take.lot.origin_start, take.lot.lot_id)
            rest = take.rest
            if rest is None:
                await self.view.delete(k)
            else:
                await self.view.put_json(k, rest.to_json())

    async def mint(self, owner: str, token: str, amount: int, origin_asset: str, start: int,
                   shares: tuple = ()) -> Lot:
        lot = Lot(self.new_lot_id(), owner, token, amount, start, origin_asset, shares)
        await self.put_lot(lot)
        self.count(token, minted=amount)
        return lot

    async def burn_fifo(self, owner: str, token: str, amount: int) -> list[Take]:
        takes, _ = take_fifo(await self.lots(owner, token), amount)
        await self.remove(takes)
        self.count(TSTORAGE if token == TSTORAGE_RESERVED else token, burned=sum(t.taken for t in takes))
        return takes

    async def move_fifo(self, owner: str, token: str, amount: int, to_owner: str, to_token: str | None = None
                        ) -> list[Take]:
        """Move lots (or parts) to another holder or token type, keeping their origin. Supply is unchanged."""
        takes, shortfall = take_fifo(await self.lots(owner, token), amount)
        if shortfall:
            raise ChaincodeError(Code.INSUFFICIENT_BALANCE,
                                 f"{owner} holds {amount - shortfall} {token}, {amount} needed")
        await self.remove(takes)
        for take in takes:
            shares = scale_shares(take.lot.shares, take.taken) if take.lot.shares else ()
            await self.put_lot(Lot(self.new_lot_id(), to_owner, to_token or token, take.taken,
                                   take.lot.origin_start, take.lot.origin_asset, shares))
            if take.lot.token == TSTORAGE:
                await note_holder(self, take.lot.origin_asset, to_owner)
        return takes

    async def finish(self) -> None:
        """Write the supply deltas and the event index, and emit the one event Fabric allows per transaction."""
        for token, (minted, burned) in sorted(self.supply.items()):
            if minted or burned:
                await self.view.put_json(key("supply", token, self.tx_id), {"minted": minted, "burned": burned})
        for n in self.indexed:
            event = self.events[n]
            await self.view.put_json(event_key(event["asset"], event["start"], self.tx_id, n),
                                     {**event, "tx_id": self.tx_id})
        if self.events:
            self.ctx.stub.set_event(EVENT_NAME, canonical({"tx_id": self.tx_id, "events": self.events}))

async def note_holder(tx: Tx, battery: str, holder: str) -> None:
    """Who may hold this battery's Tstorage: the burn algorithm must see every holder."""
    k = key("holder", battery, holder)
    if not await tx.view.get(k):
        await tx.view.put_json(k, {"battery": battery, "holder": holder})
