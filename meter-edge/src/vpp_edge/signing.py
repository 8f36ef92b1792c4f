"""Signed readings exactly as the contract verifies them (chaincode/vpp_contract/domain/readings.py).

A reading travels as ``{"payload": {...}, "signature": "<base64 DER ECDSA P-256 over SHA-256>"}``; the signature
covers the canonical JSON of the payload (sorted keys, compact separators, UTF-8). Payload fields: meter, key
(the key version registered on the ledger), kind, start, interval, and per kind the energy fields of
``sample.COUNTERS`` (generation/load: wh; battery: charge_wh, discharge_wh, soc_permille, [soh_permille];
grid: import_wh, export_wh).
"""

from __future__ import annotations

import base64
import json

from .errors import EdgeError
from .intervals import Interval
from .keys import MeterKey
from .sample import COUNTERS


def canonical(obj: object) -> bytes:
    """The bytes a meter signs: the same function as the contract's ``readings.canonical``."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def reading_payload(interval: Interval, key_version: int) -> dict:
    """The contract's payload for one interval; raises EdgeError(NO_SOC) for a battery that never reported SoC."""
    payload: dict = {"meter": interval.device, "key": key_version, "kind": interval.kind, "start": interval.start,
                     "interval": interval.length}
    for counter, field_name in COUNTERS[interval.kind].items():
        payload[field_name] = interval.energy[counter]
    if interval.kind == "battery":
        if "soc_permille" not in interval.gauges:
            raise EdgeError(f"battery {interval.device} has reported no soc_permille by {interval.end}",
                            code="NO_SOC")
        payload["soc_permille"] = interval.gauges["soc_permille"]
        if "soh_permille" in interval.gauges:
            payload["soh_permille"] = interval.gauges["soh_permille"]
    return payload


def sign_payload(payload: dict, key: MeterKey) -> dict:
    if payload.get("meter") != key.meter_id:
        raise EdgeError(f"key of {key.meter_id} cannot sign for {payload.get('meter')}", code="WRONG_KEY")
    return {"payload": payload, "signature": base64.b64encode(key.sign(canonical(payload))).decode("ascii")}


def sign_interval(interval: Interval, key: MeterKey, key_version: int) -> dict:
    return sign_payload(reading_payload(interval, key_version), key)
