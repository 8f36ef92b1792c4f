"""The token rules of DESIGN §5 and §6 applied to the ledger: readings, the burn algorithm, credit, look-ups."""

from __future__ import annotations

from dataclasses import asdict

from fabric_ccaas import ChaincodeError

from .codes import Code
from .domain.battery import (
    BatteryParams,
    BatteryReading,
    BatteryState,
    Burn,
    Outstanding,
    Release,
    Reserve,
    on_battery_reading,
)
from .domain.readings import Reading, check_against_meter, parse_signed_reading, signature_problem
from .domain.tokens import (
    TGEN,
    TSTORAGE,
    TSTORAGE_RESERVED,
    Lot,
    origin_shares,
    scale_shares,
    take_fifo,
    tstorage_for_charge,
)
from .ledger import key, meter_key, reading_key
from .signatures import verify_batch
from .txn import Tx, note_holder


def battery_params(params: dict, now: int) -> dict:
    """Validated by the battery domain (chemistry defaults filled in, CUSTOM needs every field); stored whole."""
    if not isinstance(params, dict) or any(isinstance(v, bool) or not isinstance(v, (int, str))
                                           for v in params.values()):
        raise ChaincodeError(Code.INVALID_ARGUMENT, "battery must be an object of integers and a chemistry name")
    try:
        battery = BatteryParams.from_registration(params, commissioned_at=now)
    except (ValueError, TypeError) as exc:
        raise ChaincodeError(Code.INVALID_ARGUMENT, f"battery: {exc}") from exc
    return {name: (str(value) if name == "chemistry" else value) for name, value in sorted(asdict(battery).items())}


async def meter_record(tx: Tx, meter_id: str) -> dict:
    meter = await tx.view.get_json(meter_key(meter_id))
    if meter is None:
        raise ChaincodeError(Code.UNKNOWN_METER, f"meter {meter_id} is not registered")
    return meter


MAX_QUERY_INTERVALS = 3000  # a month of 15-minute intervals, ten days of 5-minute ones


async def readings_of(tx: Tx, meter: dict, from_start: int, to_start: int) -> list[dict]:
    """A meter's readings in [from_start, to_start): one look-up per interval (keys are interval first)."""
    step = meter["interval_s"]
    first = -(-from_start // step) * step
    if (to_start - first) // step > MAX_QUERY_INTERVALS:
        raise ChaincodeError(Code.INVALID_ARGUMENT, f"at most {MAX_QUERY_INTERVALS} intervals per query")
    found = []
    for start in range(first, to_start, step):
        record = await tx.view.get_json(reading_key(meter["meter_id"], start))
        if record:
            found.append(record)
    return found


async def prefetch(tx: Tx, readings: list[Reading]) -> None:
    """Two range reads per batch instead of two reads per reading: the meters, and per interval the readings
    already on the ledger for the batch's run of meters. Batches of one interval for a contiguous run of meter
    ids (how the edge bridge cuts them) read nothing they do not need."""
    if not readings:
        return
    meters = sorted({r.meter for r in readings})
    limit = 2 * len(meters) + 16
    await tx.view.prefetch(meter_key(meters[0]), meter_key(meters[-1]) + "\x00", limit)
    for start in sorted({r.start for r in readings}):
        in_interval = sorted({r.meter for r in readings if r.start == start})
        await tx.view.prefetch(reading_key(in_interval[0], start), reading_key(in_interval[-1], start) + "\x00",
                               2 * len(in_interval) + 16)


async def offer_record(tx: Tx, offer_id: str) -> dict:
    offer = await tx.view.get_json(key("offer", offer_id))
    if offer is None:
        raise ChaincodeError(Code.NOT_FOUND, f"offer {offer_id} does not exist")
    return offer


def check_reading(reading: Reading, meter: dict, now: int) -> str:
    """Every check but the signature's; returns the PEM of the key the signature must verify under."""
    if not meter["active"]:
        raise ChaincodeError(Code.METER_INACTIVE, f"meter {reading.meter} is not active")
    entry = next((k for k in meter["keys"] if k["version"] == reading.key), None)
    if entry is None:
        raise ChaincodeError(Code.UNKNOWN_KEY, f"meter {reading.meter} has no key version {reading.key}")
    if entry["retired_at"] and reading.start >= entry["retired_at"]:
        raise ChaincodeError(Code.UNKNOWN_KEY, f"key {reading.key} of {reading.meter} was retired before "
                                               f"interval {reading.start}")
    check_against_meter(reading, meter["kind"], meter["interval_s"], meter["max_power_w"], now)
    return entry["pem"]


async def apply_reading(tx: Tx, reading: Reading, meter: dict) -> dict:
    """The token rules of one accepted reading (DESIGN §5). Returns what it did, stored with the reading."""
    owner, asset, start = meter["owner"], meter["asset_id"], reading.start
    if reading.kind == "generation":
        energy = reading.value("wh")
        if energy:
            await tx.mint(owner, TGEN, energy, asset, start)
            tx.event("mint", asset, start, indexed=False, token=TGEN, owner=owner, amount=energy)
        return {"minted_tgen": energy}
    if reading.kind == "battery":
        charge = reading.value("charge_wh")
        effects = {"burned_tgen": 0, "minted_tstorage": 0, "grid_charge_wh": 0}
        if charge:
            battery = (await tx.view.get_json(key("asset", asset)))["battery"]
            takes = await tx.burn_fifo(owner, TGEN, charge)
            covered = sum(t.taken for t in takes)
            stored = tstorage_for_charge(charge, battery["charge_eff_ppm"], battery["discharge_eff_ppm"])
            if stored:
                await note_holder(tx, asset, owner)
            shares = scale_shares(origin_shares(takes, charge - covered), stored)
            if stored:
                await tx.mint(owner, TSTORAGE, stored, asset, start, shares)
            effects.update(burned_tgen=covered, minted_tstorage=stored, grid_charge_wh=charge - covered)
            tx.event("exchange", asset, start, indexed=False, owner=owner, burned_tgen=covered, minted_tstorage=stored,
                     grid_charge_wh=charge - covered, shares=[list(s) for s in shares])
        effects["algorithm"] = await run_burn_algorithm(tx, reading, meter)
        return effects
    if reading.kind == "load":
        energy = reading.value("wh")
        burned_gen = sum(t.taken for t in await tx.burn_fifo(owner, TGEN, energy))
        burned_storage = sum(t.taken for t in await tx.burn_fifo(owner, TSTORAGE, energy - burned_gen))
        # reserved Tstorage cannot be offered or transferred, but it is the owner's own energy to consume
        burned_storage += sum(t.taken for t in await tx.burn_fifo(owner, TSTORAGE_RESERVED,
                                                                   energy - burned_gen - burned_storage))
        grid = energy - burned_gen - burned_storage
        if burned_gen or burned_storage:
            tx.event("burn", asset, start, indexed=False, owner=owner, reason="consumption", tgen=burned_gen,
                     tstorage=burned_storage, grid_import_wh=grid)
        return {"burned_tgen": burned_gen, "burned_tstorage": burned_storage, "grid_import_wh": grid}
    return {"import_wh": reading.value("import_wh"), "export_wh": reading.value("export_wh")}


async def battery_lots(tx: Tx, holder: str, token: str, battery: str) -> list[Lot]:
    return [lot for lot in await tx.lots(holder, token) if lot.origin_asset == battery]


async def run_burn_algorithm(tx: Tx, reading: Reading, meter: dict) -> list[dict]:
    """DESIGN §6: feed the reading to the battery domain, then carry out its reserve, release and burns."""
    asset_id, owner = meter["asset_id"], meter["owner"]
    asset = await tx.view.get_json(key("asset", asset_id))
    params = BatteryParams(**asset["battery"])  # stored complete and validated at registration
    state_key = key("battery", asset_id)
    stored = await tx.view.get_json(state_key)
    state = BatteryState.from_dict(stored) if stored else BatteryState()
    holders = sorted(v["holder"] for _, v in await tx.view.scan("holder", asset_id))
    free = sum(lot.amount for lot in await battery_lots(tx, owner, TSTORAGE, asset_id))
    reserved = sum(lot.amount for lot in await battery_lots(tx, owner, TSTORAGE_RESERVED, asset_id))
    others = {}
    for holder in holders:
        if holder != owner:
            amount = sum(lot.amount for lot in await battery_lots(tx, holder, TSTORAGE, asset_id))
            if amount:
                others[holder] = amount
    battery_reading = BatteryReading(reading.start, reading.interval, reading.value("charge_wh"),
                                     reading.value("discharge_wh"), reading.value("soc_permille"),
                                     dict(reading.values).get("soh_permille"))
    state, actions = on_battery_reading(state, params, battery_reading, Outstanding(owner, free, reserved, others))
    await tx.view.put_json(state_key, state.to_dict())
    done = []
    for action in actions:
        if isinstance(action, Reserve) and action.amount:
            await move_battery_lots(tx, owner, TSTORAGE, TSTORAGE_RESERVED, asset_id, action.amount)
            done.append({"type": "reserve", "amount": action.amount, "horizon_s": action.horizon_s})
        elif isinstance(action, Release) and action.amount:
            await move_battery_lots(tx, owner, TSTORAGE_RESERVED, TSTORAGE, asset_id, action.amount)
            done.append({"type": "release", "amount": action.amount})
        elif isinstance(action, Burn) and action.amount:
            token = TSTORAGE_RESERVED if action.from_reserved else TSTORAGE
            takes, _ = take_fifo(await battery_lots(tx, action.holder, token, asset_id), action.amount)
            await tx.remove(takes)
            burned = sum(t.taken for t in takes)
            tx.count(TSTORAGE, burned=burned)
            if action.holder.startswith("offer:") and burned:
                await shrink_offer(tx, action.holder.removeprefix("offer:"), burned)
            done.append({"type": "burn", "holder": action.holder, "amount": burned, "reserved": action.from_reserved,
                         "reason": str(action.reason)})
    for entry in done:
        tx.event(entry["type"], asset_id, reading.start, owner=owner, token=TSTORAGE,
                 **{k: v for k, v in entry.items() if k != "type"})
    return done


async def move_battery_lots(tx: Tx, owner: str, token: str, to_token: str, battery: str, amount: int) -> None:
    takes, shortfall = take_fifo(await battery_lots(tx, owner, token, battery), amount)
    if shortfall:
        raise ChaincodeError(Code.INSUFFICIENT_BALANCE, f"{owner} holds too little {token} of {battery}")
    await tx.remove(takes)
    for take in takes:
        shares = scale_shares(take.lot.shares, take.taken) if take.lot.shares else ()
        await tx.put_lot(Lot(tx.new_lot_id(), owner, to_token, take.taken, take.lot.origin_start,
                             take.lot.origin_asset, shares))


async def shrink_offer(tx: Tx, offer_id: str, burned: int) -> None:
    """Escrowed Tstorage the battery no longer backs: the offer has that much less to sell."""
    offer = await tx.view.get_json(key("offer", offer_id))
    if offer is None:
        return
    offer["remaining_wh"] = max(0, offer["remaining_wh"] - burned)
    if not offer["remaining_wh"] and offer["status"] == "active":
        offer["status"] = "exhausted"
    await tx.view.put_json(key("offer", offer_id), offer)


async def credit(tx: Tx, account: str) -> int:
    return sum(v["amount"] for _, v in await tx.view.scan("credit", account))


async def add_credit(tx: Tx, account: str, amount: int) -> None:
    tx.lot_seq += 1
    await tx.view.put_json(key("credit", account, tx.tx_id, f"{tx.lot_seq:05d}"), {"amount": amount})


READING_ORDER = {"generation": 0, "battery": 1, "load": 2, "grid": 3}


async def ingest_batch(tx: Tx, batch: list) -> list[dict]:
    """One result per item, in order: accepted, duplicate, or rejected with a code; a bad reading never loses
    the others. Accepted readings apply in interval order, generation → battery → load → grid within one."""
    results: list[dict] = [{"index": i} for i in range(len(batch))]
    parsed: list[tuple[int, Reading]] = []
    for index, item in enumerate(batch):
        try:
            reading = parse_signed_reading(item)
            results[index].update(meter=reading.meter, start=reading.start)
            parsed.append((index, reading))
        except ChaincodeError as exc:
            results[index].update(status="rejected", code=exc.code.value, message=exc.detail)
    await prefetch(tx, [r for _, r in parsed])
    checked: list[tuple[int, Reading, dict, str]] = []
    for index, reading in parsed:
        try:
            meter = await meter_record(tx, reading.meter)
            checked.append((index, reading, meter, check_reading(reading, meter, tx.now)))
        except ChaincodeError as exc:
            results[index].update(status="rejected", code=exc.code.value, message=exc.detail)
    # the signature is the last check; a whole batch verifies at once (on several cores when it is large)
    verdicts = await verify_batch([(pem, r.payload_bytes, r.signature) for _, r, _, pem in checked])
    accepted: list[tuple[Reading, dict, int]] = []
    seen: dict[str, str] = {}
    for (index, reading, meter, _), verdict in zip(checked, verdicts, strict=True):
        result = results[index]
        try:
            if verdict is not None:
                raise ChaincodeError(verdict, signature_problem(verdict, reading))
            rkey = reading_key(reading.meter, reading.start)
            stored = seen.get(rkey)
            if stored is None:
                record = await tx.view.get_json(rkey)
                stored = record["payload"] if record else None
            if stored is not None:
                if stored != reading.digest_key:
                    raise ChaincodeError(Code.CONFLICTING_READING,
                                         f"a different reading of {reading.meter} at {reading.start} is on the "
                                         "ledger")
                result["status"] = "duplicate"
                continue
            seen[rkey] = reading.digest_key
            result["status"] = "accepted"
            accepted.append((reading, meter, index))
        except ChaincodeError as exc:
            result.update(status="rejected", code=exc.code.value, message=exc.detail)
    for reading, meter, _ in sorted(accepted, key=lambda a: (a[0].start, READING_ORDER[a[0].kind], a[0].meter)):
        effects = await apply_reading(tx, reading, meter)
        await tx.view.put_json(reading_key(reading.meter, reading.start), {
            "docType": "reading", "meter": reading.meter, "asset": meter["asset_id"], "site": meter["site_id"],
            "kind": reading.kind, "start": reading.start, "interval": reading.interval,
            "values": dict(reading.values), "payload": reading.digest_key, "effects": effects,
            "tx_id": tx.tx_id})
    return results
