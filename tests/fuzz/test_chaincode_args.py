"""Every transaction of the contract called with arbitrary arguments (hypothesis) on the embedded ledger, by every
role: no uncaught exception (every refusal is ``CODE: message`` with a code of the contract or of the runtime, never
``INTERNAL``), and a refused transaction leaves the world state hash and the block height as they were. Evaluate
transactions never change the state; a reading batch whose readings were all refused or duplicates changes nothing.

The world is seeded once per module (two owners' sites with generator, battery and load meters, minted Tgen, credit
and an open offer) so that generated arguments name real ids half of the time and reach the contract's deeper
checks rather than stopping at NOT_FOUND.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_ccaas.errors import RuntimeCode
from fabric_ccaas.testing import TestCA, TestIdentity
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vpp_contract.codes import Code
from vpp_contract.contract import chaincode
from vpp_contract.domain.readings import canonical
from vpp_gateway.embedded import EmbeddedLedger
from vpp_gateway.embedded.errors import EndorsementError

TRANSACTIONS = {t["name"]: t for t in chaincode.metadata["contracts"]["energy"]["transactions"]}
ALLOWED_CODES = {c.value for c in Code} | {c.value for c in RuntimeCode} - {RuntimeCode.INTERNAL.value}
BATTERY = {"chemistry": "LFP", "capacity_wh": 10_000, "soc_min_permille": 100, "soc_max_permille": 950,
           "charge_eff_ppm": 950_000, "discharge_eff_ppm": 950_000}
EXAMPLES = int(__import__("os").environ.get("VPP_CHAINCODE_EXAMPLES", "30"))


@dataclass
class Seeded:
    loop: asyncio.AbstractEventLoop
    ledger: EmbeddedLedger
    who: dict[str, TestIdentity]
    keys: dict[str, ec.EllipticCurvePrivateKey]
    ids: list[str]
    start: int

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    def call(self, function: str, args: list, identity: TestIdentity) -> tuple[bool, str]:
        """(succeeded, payload or CODE: message) as a client would see it."""
        raw = [a if isinstance(a, str | bytes) else json.dumps(a) for a in args]
        call = self.ledger.evaluate if TRANSACTIONS.get(function, {}).get("tag") == ["EVALUATE"] else self.ledger.submit
        try:
            answer = self.run(call("vpp", function, raw, identity.creator))
        except EndorsementError as exc:
            return False, exc.message
        return True, (answer if isinstance(answer, bytes) else answer.result).decode()


def sign(key: ec.EllipticCurvePrivateKey, payload: dict) -> dict:
    signature = key.sign(canonical(payload), ec.ECDSA(hashes.SHA256()))
    return {"payload": payload, "signature": base64.b64encode(signature).decode()}


def pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Iterator[Seeded]:
    org1, org2 = TestCA("Org1MSP", "org1.example.com"), TestCA("Org2MSP", "org2.example.com")
    who = {
        "admin": org1.issue("operator", {"role": "admin", "hf.EnrollmentID": "operator"}),
        "alice": org1.issue("alice", {"role": "owner", "hf.EnrollmentID": "alice"}),
        "bob": org1.issue("bob", {"role": "owner", "hf.EnrollmentID": "bob"}),
        "utility": org2.issue("utility", {"role": "utility", "hf.EnrollmentID": "utility"}),
        "auditor": org2.issue("auditor", {"role": "auditor", "hf.EnrollmentID": "auditor"}),
        "nobody": org1.issue("nobody", {"hf.EnrollmentID": "nobody"}),
    }
    loop = asyncio.new_event_loop()
    ledger = EmbeddedLedger.open(tmp_path_factory.mktemp("chaincode-args") / "ledger.db", block_size=1,
                                 block_timeout=0.001)
    ledger.install("vpp", chaincode)
    now = int(time.time())
    world = Seeded(loop, ledger, who, {}, [], now - now % 900 - 8 * 900)
    admin = who["admin"]
    for owner in ("alice", "bob"):
        site = f"site-{owner}"
        assert world.call("RegisterSite", [site, f"Org1MSP:{owner}", "Utrecht"], admin)[0]
        for suffix, kind in (("gen", "generator"), ("bat", "battery"), ("load", "load")):
            asset = f"{site}-{suffix}"
            ok, why = world.call("RegisterAsset", [asset, site, kind, "5000", BATTERY if kind == "battery" else {}],
                                 admin)
            assert ok, why
            key = world.keys[f"m-{asset}"] = ec.generate_private_key(ec.SECP256R1())
            assert world.call("RegisterMeter", [f"m-{asset}", asset, "900", pem(key)], admin)[0]
            world.ids += [asset, f"m-{asset}"]
        world.ids += [site, f"Org1MSP:{owner}"]
        readings = [sign(world.keys[f"m-{site}-gen"], {"meter": f"m-{site}-gen", "key": 1, "kind": "generation",
                                                         "start": world.start + n * 900, "interval": 900, "wh": 900})
                    for n in range(3)]
        assert world.call("SubmitReadings", [readings], admin)[0]
        assert world.call("DepositCredit", [f"Org1MSP:{owner}", "50000000"], admin)[0]
    assert world.call("DepositCredit", ["Org2MSP:utility", "50000000"], admin)[0]
    ok, offer = world.call("CreateOffer", ["Tgen", "600", "200000", str(now - 60), str(now + 86_400)], who["alice"])
    assert ok, offer
    world.ids += [json.loads(offer)["offer_id"], "Org2MSP:utility", "Tgen", "Tstorage", "Tstorage_reserved"]
    yield world
    ledger.close()
    loop.run_until_complete(asyncio.sleep(0))  # the cancelled orderer task ends on its loop
    loop.close()


# -- argument strategies --------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=12)
    | st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=2),  # lone surrogates
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
odd_texts = st.sampled_from(["", " ", "true", "false", "null", "NaN", "1e400", "-0", "0x10", " 1", "1.5", "-1",
                             "9" * 30, "[]", "{}", "\x00", "a:b", "x" * 300, "Org1MSP:", "../../etc", "\u202e"])


def argument(kind: str, ids: list[str]) -> st.SearchStrategy:
    """Mostly well-typed values (real ids, integers of every size) so that calls get past the runtime's argument
    conversion; a third of the time anything at all. ``.map`` keeps the garbage branch one choice of the union."""
    garbage = (odd_texts | st.text(max_size=40) | st.binary(max_size=16) | json_values.map(json.dumps)).map(
        lambda value: value)
    if kind == "integer":
        return st.integers(-2**70, 2**70).map(str) | st.integers(0, 2 * 10**9).map(str) | garbage
    if kind == "boolean":
        return st.sampled_from(["true", "false"]) | st.sampled_from(["true", "false"]) | garbage
    if kind == "object":
        battery = st.fixed_dictionaries({k: st.just(v) | json_values for k, v in BATTERY.items()},
                                        optional={"x": json_values, "soh_permille": json_values})
        return battery.map(json.dumps) | st.dictionaries(st.text(max_size=8), json_values).map(json.dumps) | garbage
    return st.sampled_from(ids) | st.sampled_from(ids) | garbage


def readings_batch(world: Seeded) -> st.SearchStrategy:
    """A SubmitReadings argument: readings built from real meters with arbitrary values, half of them signed."""
    meters = sorted(world.keys)
    field_value = st.integers(-5, 3000) | json_values
    payload = st.fixed_dictionaries({
        "meter": st.sampled_from(meters) | st.text(max_size=5), "key": st.sampled_from([1, 2]) | field_value,
        "kind": st.sampled_from(["generation", "battery", "load", "grid"]) | field_value,
        "start": st.integers(0, 40).map(lambda n: world.start - n * 300) | field_value,
        "interval": st.sampled_from([900, 300]) | field_value,
    }, optional={"wh": field_value, "charge_wh": field_value, "discharge_wh": field_value,
                 "soc_permille": field_value, "x": field_value})

    @st.composite
    def reading(draw):
        body = draw(payload)
        key = world.keys.get(body["meter"]) if isinstance(body["meter"], str) else None
        if key is not None and draw(st.booleans()):
            try:
                return sign(key, body)
            except (TypeError, ValueError):  # a value canonical JSON cannot write: sent unsigned
                pass
        return {"payload": body, "signature": draw(st.sampled_from(["AA==", "", "not base64"]) | st.text(max_size=8))}

    return st.lists(reading() | json_values, max_size=6).map(json.dumps)


# -- the checks -----------------------------------------------------------------------------------------------

def refused_with_a_code(message: str) -> str:
    code, sep, _ = message.partition(": ")
    assert sep and code in ALLOWED_CODES, f"refusal without a known code (uncaught exception?): {message[:300]!r}"
    return code


def check_call(world: Seeded, function: str, args: list, role: str) -> None:
    before = (world.ledger.state_hash(), world.ledger.height)
    ok, answer = world.call(function, args, world.who[role])
    if not ok:
        refused_with_a_code(answer)
        assert (world.ledger.state_hash(), world.ledger.height) == before, f"{function} refused but changed state"
    elif TRANSACTIONS[function]["tag"] == ["EVALUATE"]:
        assert world.ledger.state_hash() == before[0], f"evaluate {function} changed the state"


@pytest.mark.parametrize("function", sorted(TRANSACTIONS))
def test_any_arguments_any_role(seeded: Seeded, function: str):
    kinds = [p["schema"].get("type", "string") for p in TRANSACTIONS[function]["parameters"]]
    exact = st.tuples(*(argument(kind, seeded.ids) for kind in kinds)).map(list)
    wrong_count = st.lists(argument("string", seeded.ids), max_size=len(kinds) + 2).filter(
        lambda args: len(args) != len(kinds))
    roles = st.sampled_from(sorted(seeded.who))

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(args=st.one_of(exact, exact, exact, wrong_count), role=roles)
    def check(args: list, role: str) -> None:
        check_call(seeded, function, args, role)

    check()


def test_reading_batches_rejected_whole_change_nothing(seeded: Seeded):
    roles = st.sampled_from(["admin", "admin", "admin", "alice", "utility"])

    @settings(max_examples=60, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(batch=readings_batch(seeded), role=roles)
    def check(batch: str, role: str) -> None:
        before = (seeded.ledger.state_hash(), seeded.ledger.height)
        ok, answer = seeded.call("SubmitReadings", [batch], seeded.who[role])
        if not ok:
            refused_with_a_code(answer)
            assert (seeded.ledger.state_hash(), seeded.ledger.height) == before
            return
        results = json.loads(answer)
        assert len(results) == len(json.loads(batch))
        for result in results:
            assert result["status"] in ("accepted", "duplicate", "rejected"), result
            if result["status"] == "rejected":
                assert result["code"] in ALLOWED_CODES, result
        if not any(r["status"] == "accepted" for r in results):
            assert seeded.ledger.state_hash() == before[0], "a batch without an accepted reading changed the state"

    check()


def test_deep_and_huge_arguments_are_refused_with_a_code(seeded: Seeded):
    """Found by the fuzz target reading_payload: the stdlib fallback of parse_batch raised RecursionError and
    decimal.InvalidOperation, which reached the runtime as INTERNAL."""
    for batch in ("[" * 5000 + "]" * 5000, '[{"payload": {"key": 1e999999999999999999}}]', '["\\ud800"]',
                  '[{"payload": {"meter": "\\udfff", "key": 1, "kind": "load", "start": 0, "interval": 900, '
                  '"wh": 1}, "signature": "AA=="}]'):
        check_call(seeded, "SubmitReadings", [batch], "admin")
    for function in ("RegisterAsset", "DepositCredit", "GetSites"):
        arity = len(TRANSACTIONS[function]["parameters"])
        check_call(seeded, function, ["[" * 5000 + "]" * 5000] * arity, "admin")
