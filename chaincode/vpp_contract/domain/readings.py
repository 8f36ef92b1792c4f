"""Meter readings: the canonical payload a meter signs, its signature, and the checks before any token moves.

A signed reading travels as ``{"payload": {...}, "signature": "<base64 DER ECDSA P-256 over SHA-256>"}``.
The signature covers the canonical JSON of the payload (sorted keys, no spaces, UTF-8), so the edge and the
contract agree on the bytes whatever JSON library wrote them. Payload fields::

    meter      meter id
    key        version of the meter key that signed (keys rotate)
    kind       generation | battery | load | grid (must match the meter's kind)
    start      interval start, UTC epoch seconds, aligned to the meter's interval
    interval   300 or 900 (must match the meter)
    generation / load:  wh
    battery:            charge_wh, discharge_wh, soc_permille, [soh_permille]
    grid:               import_wh, export_wh
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from ..canonical import canonical
from ..codes import Code
from .errors import DomainError

INTERVALS = (300, 900)
KIND_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {  # kind -> (required, optional)
    "generation": (frozenset({"wh"}), frozenset()),
    "load": (frozenset({"wh"}), frozenset()),
    "battery": (frozenset({"charge_wh", "discharge_wh", "soc_permille"}), frozenset({"soh_permille"})),
    "grid": (frozenset({"import_wh", "export_wh"}), frozenset()),
}
ENVELOPE_FIELDS = frozenset({"meter", "key", "kind", "start", "interval"})
MAX_INT = 2**53 - 1  # what every JSON client can carry exactly


@dataclass(frozen=True, slots=True)
class Reading:
    meter: str
    key: int
    kind: str
    start: int
    interval: int
    values: tuple[tuple[str, int], ...]  # sorted (field, value) pairs
    signature: bytes
    payload_bytes: bytes

    def value(self, name: str, default: int = 0) -> int:
        for field, value in self.values:
            if field == name:
                return value
        return default

    @property
    def digest_key(self) -> str:
        """What identifies the content: the same reading resubmitted has the same payload bytes."""
        return self.payload_bytes.decode("utf-8")


def _int(value: object, field: str, low: int = 0, high: int = MAX_INT) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainError(Code.INVALID_ARGUMENT, f"{field} must be an integer")
    if not low <= value <= high:
        raise DomainError(Code.INVALID_ARGUMENT, f"{field} must be between {low} and {high}, got {value}")
    return value


def parse_signed_reading(obj: object) -> Reading:
    """Shape checks only (no registry, no signature): raises DomainError(INVALID_ARGUMENT) with the field."""
    if not isinstance(obj, dict) or set(obj) != {"payload", "signature"}:
        raise DomainError(Code.INVALID_ARGUMENT, "a signed reading is {\"payload\": {...}, \"signature\": \"...\"}")
    payload, signature = obj["payload"], obj["signature"]
    if not isinstance(payload, dict):
        raise DomainError(Code.INVALID_ARGUMENT, "payload must be an object")
    if not isinstance(signature, str):
        raise DomainError(Code.INVALID_ARGUMENT, "signature must be base64 text")
    try:
        signature_bytes = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DomainError(Code.INVALID_ARGUMENT, "signature is not valid base64") from exc
    _refuse_lone_surrogates(payload)
    kind = payload.get("kind")
    if not isinstance(kind, str) or kind not in KIND_FIELDS:  # a list or object is not hashable: check the type
        raise DomainError(Code.INVALID_ARGUMENT, f"kind must be one of {', '.join(sorted(KIND_FIELDS))}")
    required, optional = KIND_FIELDS[kind]
    fields = set(payload) - ENVELOPE_FIELDS
    missing = (ENVELOPE_FIELDS | required) - set(payload)
    if missing:
        raise DomainError(Code.INVALID_ARGUMENT, f"missing field(s): {', '.join(sorted(missing))}")
    unknown = fields - required - optional
    if unknown:
        raise DomainError(Code.INVALID_ARGUMENT, f"unknown field(s) for {kind}: {', '.join(sorted(unknown))}")
    meter = payload["meter"]
    if not isinstance(meter, str) or not 0 < len(meter) <= 128:
        raise DomainError(Code.INVALID_ARGUMENT, "meter must be a non-empty string of at most 128 characters")
    values = []
    for field in sorted(fields):
        high = 1000 if field.endswith("_permille") else MAX_INT
        values.append((field, _int(payload[field], field, 0, high)))
    return Reading(
        meter=meter,
        key=_int(payload["key"], "key", 1, 1_000_000),
        kind=kind,
        start=_int(payload["start"], "start"),
        interval=_int(payload["interval"], "interval", 1, 86_400),
        values=tuple(values),
        signature=signature_bytes,
        payload_bytes=canonical(payload),
    )


def _refuse_lone_surrogates(payload: dict) -> None:
    """JSON's ``\\ud800`` escapes decode to lone surrogates, which no UTF-8 encoder writes: refused before the
    canonical bytes or a message naming a field ever meet one (found by fuzzing: it crashed the whole batch)."""
    for name, value in payload.items():
        for text in (name, value):
            if isinstance(text, str) and not text.isascii():  # ASCII (nearly every field) holds no surrogate
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError as exc:
                    raise DomainError(Code.INVALID_ARGUMENT, "payload text must be valid Unicode: no lone "
                                                             "surrogate escapes (\\ud800-\\udfff)") from exc


def signature_problem(code: Code, reading: Reading) -> str:
    """The message for a signature that failed (verification itself is in vpp_contract.signatures)."""
    if code is Code.BAD_SIGNATURE:
        return f"signature of {reading.meter} at {reading.start} does not verify"
    return f"meter {reading.meter} key {reading.key} cannot be loaded as an EC public key"


def check_against_meter(reading: Reading, meter_kind: str, meter_interval: int, max_power_w: int, now: int) -> None:
    """Alignment, time and physical limits, given the registered meter and the transaction time."""
    if reading.kind != meter_kind:
        raise DomainError(Code.WRONG_KIND, f"meter {reading.meter} reports {meter_kind}, not {reading.kind}")
    if reading.interval != meter_interval or reading.start % meter_interval:
        raise DomainError(Code.MISALIGNED_INTERVAL,
                          f"meter {reading.meter} reads {meter_interval}-second intervals aligned to UTC")
    if reading.start + reading.interval > now:
        raise DomainError(Code.FUTURE_INTERVAL, f"interval {reading.start} has not ended at {now}")
    limit_wh = max_power_w * reading.interval // 3600
    for field, value in reading.values:
        if (field == "wh" or field.endswith("_wh")) and value > limit_wh:
            raise DomainError(Code.PHYSICAL_LIMIT,
                              f"{field} {value} Wh exceeds {limit_wh} Wh ({max_power_w} W for {reading.interval} s)")


def public_key_is_p256(pem: str) -> bool:
    try:
        key = load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        return False
    return isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)
