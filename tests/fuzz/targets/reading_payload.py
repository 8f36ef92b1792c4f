"""The reading payload as the contract takes it: SubmitReadings' argument (UTF-8 text, ``parse_batch``),
each signed reading's shape checks, the meter checks, the signature verification and the per-reading result.

Byte 0, bit 0: the harness signs each payload with the fuzz meter's key before the checks, so mutated payloads get
past the signature and exercise the alignment, time and physical-limit checks; a payload the harness signed must
then verify. Bit 1: the registered meter's kind is the reading's own kind (else generation), so WRONG_KIND does not
stop every mutation.

The fuzz meter's key is a fixed test fixture (derived from a constant scalar), so that committed seed readings
verify: it signs nothing outside this fuzzer.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_ccaas import ChaincodeError
from vpp_contract.canonical import canonical
from vpp_contract.codes import Code
from vpp_contract.contract import MAX_BATCH, parse_batch
from vpp_contract.domain.readings import check_against_meter, parse_signed_reading
from vpp_contract.signatures import verify_one

from tests.fuzz.targets.harness import is_coded

FUZZ_METER_KEY = ec.derive_private_key(0xF022_5EC0_0000_0000_0000_0001, ec.SECP256R1())  # test fixture, see above
FUZZ_METER_PEM = FUZZ_METER_KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo).decode()
NOW = 1_790_000_000
MAX_POWER_W = 5_000


def sign(payload: dict) -> dict:
    signature = FUZZ_METER_KEY.sign(canonical(payload), ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    return {"payload": payload, "signature": base64.b64encode(signature).decode()}


def rejected(result: dict, exc: ChaincodeError) -> None:
    """As ingest_batch records a refusal; the whole result must still serialise as the contract answers it."""
    result.update(status="rejected", code=exc.code.value, message=exc.detail)
    canonical(result)


def check(data: bytes) -> None:
    if not data:
        return
    mode = data[0]
    try:
        text = data[1:].decode("utf-8")
    except UnicodeDecodeError:
        return  # the runtime refuses a str argument that is not UTF-8: INVALID_ARGUMENT
    try:
        batch = parse_batch(text)  # SubmitReadings' own parsing of its argument
    except Exception as exc:
        if not is_coded(exc):
            raise
        return
    items = batch if isinstance(batch, list) else [batch]
    for index, item in enumerate(items[:MAX_BATCH]):
        signed_here = False
        if mode & 0b01 and isinstance(item, dict) and isinstance(item.get("payload"), dict):
            try:
                item = sign(item["payload"])
                signed_here = True
            except (TypeError, ValueError):
                pass  # a payload canonical JSON cannot write: the contract must refuse it with a code below
        result: dict = {"index": index}
        try:
            reading = parse_signed_reading(item)
        except Exception as exc:
            if not is_coded(exc):
                raise
            rejected(result, exc)
            continue
        result.update(meter=reading.meter, start=reading.start)
        assert reading.payload_bytes == canonical(item["payload"])
        kind = reading.kind if mode & 0b10 else "generation"
        try:
            check_against_meter(reading, kind, 900, MAX_POWER_W, NOW)
        except Exception as exc:
            if not is_coded(exc):
                raise
            rejected(result, exc)
        verdict = verify_one(FUZZ_METER_PEM, reading.payload_bytes, reading.signature)
        if signed_here:
            assert verdict is None, "a payload signed with the registered key did not verify"
        assert verdict in (None, Code.BAD_SIGNATURE), verdict
        result["status"] = "accepted" if verdict is None else "rejected"
        canonical(result)
