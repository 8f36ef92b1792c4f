"""Token lots and the rules that move them. Pure functions over plain data; integers only.

A lot is an amount of one token type held by one account, with its origin: the asset and interval that
produced it (Tgen), or the battery, interval and origin shares of the energy stored (Tstorage). Balances are
sums of lots. Burns and transfers take lots oldest origin first (FIFO), so every Wh burned traces back to the
interval that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

TGEN = "Tgen"
TSTORAGE = "Tstorage"
TSTORAGE_RESERVED = "TstorageReserved"  # the owner's Tstorage set aside by the burn algorithm
TOKENS = (TGEN, TSTORAGE)
GRID = "grid"


@dataclass(frozen=True, slots=True)
class Lot:
    lot_id: str                  # unique; with origin_start it orders the owner's lots
    owner: str
    token: str
    amount: int
    origin_start: int            # interval start that produced the energy
    origin_asset: str            # generator, battery, or "grid"
    shares: tuple[tuple[str, int], ...] = field(default=())  # Tstorage: (origin asset or "grid", Wh) behind it

    def to_json(self) -> dict:
        return {"lot_id": self.lot_id, "owner": self.owner, "token": self.token, "amount": self.amount,
                "origin_start": self.origin_start, "origin_asset": self.origin_asset,
                "shares": [list(s) for s in self.shares]}

    @classmethod
    def from_json(cls, data: dict) -> Lot:
        return cls(data["lot_id"], data["owner"], data["token"], data["amount"], data["origin_start"],
                   data["origin_asset"], tuple((a, w) for a, w in data.get("shares", ())))


@dataclass(frozen=True, slots=True)
class Take:
    """``taken`` Wh out of ``lot``; ``rest`` is what remains of the lot (None when used up)."""

    lot: Lot
    taken: int

    @property
    def rest(self) -> Lot | None:
        left = self.lot.amount - self.taken
        return replace(self.lot, amount=left) if left else None


def fifo_order(lots: list[Lot]) -> list[Lot]:
    return sorted(lots, key=lambda lot: (lot.origin_start, lot.lot_id))


def take_fifo(lots: list[Lot], amount: int) -> tuple[list[Take], int]:
    """Take up to ``amount`` from ``lots`` oldest first. Returns the takes and the shortfall (≥ 0)."""
    if amount < 0:
        raise ValueError("amount must not be negative")
    takes: list[Take] = []
    needed = amount
    for lot in fifo_order(lots):
        if needed == 0:
            break
        if lot.amount <= 0:
            continue
        taken = min(lot.amount, needed)
        takes.append(Take(lot, taken))
        needed -= taken
    return takes, needed


def origin_shares(takes: list[Take], grid_wh: int) -> tuple[tuple[str, int], ...]:
    """Where the energy of a charge came from: the generators behind the Tgen burned, plus the grid."""
    shares: dict[str, int] = {}
    for take in takes:
        shares[take.lot.origin_asset] = shares.get(take.lot.origin_asset, 0) + take.taken
    if grid_wh:
        shares[GRID] = shares.get(GRID, 0) + grid_wh
    return tuple(sorted(shares.items()))


def scale_shares(shares: tuple[tuple[str, int], ...], total: int) -> tuple[tuple[str, int], ...]:
    """Scale origin shares to ``total`` Wh (largest remainder, ties by name): Tstorage is smaller than the
    charge that made it (efficiency), and a transferred part of a lot carries its part of the shares."""
    whole = sum(w for _, w in shares)
    if whole == 0 or total == 0:
        return ()
    parts = [(name, w * total // whole, w * total % whole) for name, w in shares]
    missing = total - sum(p for _, p, _ in parts)
    bonus = {name for name, _, _ in sorted(parts, key=lambda p: (-p[2], p[0]))[:missing]}
    return tuple((name, p + (1 if name in bonus else 0)) for name, p, _ in parts if p or name in bonus)


def tstorage_for_charge(charge_wh: int, charge_eff_ppm: int, discharge_eff_ppm: int) -> int:
    """Tstorage minted for a charge: the energy the battery can deliver back from it, rounded down."""
    return charge_wh * charge_eff_ppm * discharge_eff_ppm // 1_000_000_000_000


def payment_micro(quantity_wh: int, rate_micro_per_kwh: int) -> int:
    """Price of ``quantity_wh`` at a rate in micro-units per kWh, rounded down to a micro-unit."""
    return quantity_wh * rate_micro_per_kwh // 1000
