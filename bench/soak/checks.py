"""Nothing lost, asked of the ledger through the contract's own queries (the same calls on either backend).

* per meter and UTC day: readings published = readings on the ledger, and Σ Wh published = Σ Wh on the ledger =
  Σ Tgen minted for them (each reading's recorded effects);
* per asset and day: Σ Tgen lots held (the balances, by origin) = Σ minted (nothing here burns or moves Tgen);
* GetSupply: Tgen minted = Σ Wh published, minted − burned = outstanding (the contract's own conservation flag);
  Σ of every owner's GetBalance = outstanding.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict

from .load import DAY, INTERVAL


async def nothing_lost(client, admin, plan, published: int, concurrency: int = 8) -> dict:
    expected = plan.expected(published)
    semaphore = asyncio.Semaphore(concurrency)

    async def evaluate(fn: str, *args: str):
        async with semaphore:
            return json.loads(await client.evaluate(fn, list(args), admin))

    intervals = -(-published // plan.meters)
    first, end = plan.day0, plan.start_of(intervals)
    ledger: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: {"readings": 0, "wh": 0, "minted": 0})

    async def readings_of(m: int) -> None:
        for record in await evaluate("GetReadings", plan.meter_id(m), str(first), str(end)):
            row = ledger[(record["meter"], record["start"] // DAY * DAY)]
            row["readings"] += 1
            row["wh"] += record["values"]["wh"]
            row["minted"] += record["effects"]["minted_tgen"]

    await asyncio.gather(*(readings_of(m) for m in range(plan.meters)))
    lots: dict[tuple[str, int], int] = defaultdict(int)
    balances = 0

    async def holdings_of(s: int) -> None:
        nonlocal balances
        owner = plan.owner_of_site(s)
        for lot in await evaluate("GetLots", owner, "Tgen"):
            lots[(lot["origin_asset"], lot["origin_start"] // DAY * DAY)] += lot["amount"]
        balance = (await evaluate("GetBalance", owner))["Tgen"]
        balances += balance      # after the await: ``balances += await ...`` would lose concurrent additions

    await asyncio.gather(*(holdings_of(s) for s in range(plan.sites)))
    mismatches = []
    for key in sorted(set(expected) | set(ledger)):
        want = expected.get(key, {"readings": 0, "wh": 0})
        got = ledger.get(key, {"readings": 0, "wh": 0, "minted": 0})
        held = lots.get((plan.asset_id(int(key[0][2:])), key[1]), 0)
        if not (want["readings"] == got["readings"] and want["wh"] == got["wh"] == got["minted"] == held):
            mismatches.append({"meter": key[0], "day": key[1], "published": want, "ledger": got, "lots_wh": held})
    began = time.monotonic()
    try:
        supply = (await evaluate("GetSupply"))["Tgen"]
        supply_error = None
    except Exception as exc:  # reported as a failed check, with the reason, never hidden
        supply, supply_error = None, f"{type(exc).__name__}: {exc}"[:500]
    published_wh = sum(row["wh"] for row in expected.values())
    supply_ok = (supply is not None and supply["minted"] == published_wh and supply["conserved"]
                 and supply["outstanding"] == balances)
    return {
        "meter_days": len(expected), "meter_day_mismatches": len(mismatches), "mismatch_samples": mismatches[:5],
        "published_readings": published, "ledger_readings": sum(r["readings"] for r in ledger.values()),
        "published_wh": published_wh, "ledger_wh": sum(r["wh"] for r in ledger.values()),
        "minted_wh_by_readings": sum(r["minted"] for r in ledger.values()), "lots_wh": sum(lots.values()),
        "sum_of_balances_wh": balances, "supply": supply, "supply_error": supply_error,
        "supply_s": round(time.monotonic() - began, 1),
        "intervals_per_meter": intervals, "interval_s": INTERVAL,
        "ok": not mismatches and supply_ok,
    }
