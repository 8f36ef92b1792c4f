"""Meter keys (0600, hidden from logs) and signed readings the contract's own code accepts."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from vpp_contract.domain import readings as contract
from vpp_edge.errors import EdgeError
from vpp_edge.intervals import Interval
from vpp_edge.keys import MeterKey, provision
from vpp_edge.signing import canonical, reading_payload, sign_interval

T0 = 1_790_000_100 // 900 * 900


def verify(reading: contract.Reading, public_pem: str) -> None:
    """What the contract does with a parsed reading: ECDSA P-256 / SHA-256 over its canonical payload bytes."""
    load_pem_public_key(public_pem.encode()).verify(reading.signature, reading.payload_bytes, ec.ECDSA(hashes.SHA256()))


@pytest.fixture
def key(tmp_path) -> MeterKey:
    made = provision(tmp_path / "keys", "m-pv-1")
    return MeterKey.load(made.private_path)


def test_provisioned_key_is_0600_in_a_0700_folder_and_never_overwritten(tmp_path):
    made = provision(tmp_path / "keys", "m1")
    assert stat.S_IMODE(made.private_path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert made.public_pem.startswith("-----BEGIN PUBLIC KEY-----") and contract.public_key_is_p256(made.public_pem)
    before = made.private_path.read_bytes()
    with pytest.raises(EdgeError) as raised:
        provision(tmp_path / "keys", "m1")
    assert raised.value.code == "KEY_EXISTS" and made.private_path.read_bytes() == before


def test_a_key_readable_by_others_is_refused(tmp_path):
    made = provision(tmp_path, "m1")
    os.chmod(made.private_path, 0o644)
    with pytest.raises(EdgeError) as raised:
        MeterKey.load(made.private_path)
    assert raised.value.code == "KEY_PERMISSIONS"
    with pytest.raises(EdgeError) as raised:
        MeterKey.load(tmp_path / "absent.key.pem")
    assert raised.value.code == "KEY_MISSING"


def test_the_private_key_never_shows_in_repr_str_logs_or_pickles(key, caplog):
    import pickle

    secret = key._private.private_numbers().private_value
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("key %s %r", key, key)
    for text in (repr(key), str(key), caplog.text):
        assert "m-pv-1" in text and str(secret) not in text and "PRIVATE" not in text and hex(secret)[2:] not in text
    with pytest.raises(TypeError):
        pickle.dumps(key)


@pytest.mark.parametrize(("kind", "energy", "gauges", "fields"), [
    ("generation", {"generated_wh": 1234}, {}, {"wh": 1234}),
    ("load", {"consumed_wh": 7}, {}, {"wh": 7}),
    ("grid", {"imported_wh": 5, "exported_wh": 9}, {}, {"import_wh": 5, "export_wh": 9}),
    ("battery", {"charged_wh": 50, "discharged_wh": 0}, {"soc_permille": 612, "soh_permille": 990},
     {"charge_wh": 50, "discharge_wh": 0, "soc_permille": 612, "soh_permille": 990}),
])
def test_signed_reading_is_what_the_contract_parses_and_verifies(key, kind, energy, gauges, fields):
    interval = Interval("m-pv-1", kind, T0, 900, energy, gauges)
    signed = sign_interval(interval, key, key_version=2)
    assert set(signed) == {"payload", "signature"}
    assert signed["payload"] == {"meter": "m-pv-1", "key": 2, "kind": kind, "start": T0, "interval": 900, **fields}
    reading = contract.parse_signed_reading(json.loads(json.dumps(signed)))  # as it travels: JSON text
    verify(reading, key.public_pem)
    contract.check_against_meter(reading, kind, 900, 10_000, T0 + 900)
    assert canonical(signed["payload"]) == contract.canonical(signed["payload"]) == reading.payload_bytes


def test_a_changed_payload_or_another_meters_key_fails_verification(key, tmp_path):
    signed = sign_interval(Interval("m-pv-1", "generation", T0, 900, {"generated_wh": 10}), key, 1)
    signed["payload"]["wh"] = 11
    with pytest.raises(InvalidSignature):
        verify(contract.parse_signed_reading(signed), key.public_pem)
    other = MeterKey.load(provision(tmp_path / "k2", "m-other").private_path)
    with pytest.raises(EdgeError) as wrong:
        sign_interval(Interval("m-pv-1", "generation", T0, 900, {"generated_wh": 10}), other, 1)
    assert wrong.value.code == "WRONG_KEY"


def test_a_battery_interval_without_soc_is_refused_with_a_code():
    with pytest.raises(EdgeError) as raised:
        reading_payload(Interval("b1", "battery", T0, 900, {"charged_wh": 1, "discharged_wh": 0}), 1)
    assert raised.value.code == "NO_SOC"


def test_provision_command_prints_only_public_keys(tmp_path):
    out = subprocess.run([sys.executable, "-m", "vpp_edge", "provision", "--keys", str(tmp_path / "k"), "m1", "m2"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.count("-----BEGIN PUBLIC KEY-----") == 2 and "PRIVATE" not in out.stdout + out.stderr
    assert stat.S_IMODE((tmp_path / "k" / "m2.key.pem").stat().st_mode) == 0o600
