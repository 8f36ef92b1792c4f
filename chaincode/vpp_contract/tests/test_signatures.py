"""Batch signature verification: the same verdicts on one core or several, and a dead worker loses nothing."""

import os
import signal

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from vpp_contract import signatures
from vpp_contract.codes import Code


def _pem(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture(scope="module")
def items():
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(5)]
    out, expected = [], []
    for i in range(300):
        key = keys[i % 5]
        data = f'{{"meter":"m{i}","start":{i * 900}}}'.encode()
        signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
        if i % 7 == 3:        # signed by another meter's key
            signature = keys[(i + 1) % 5].sign(data, ec.ECDSA(hashes.SHA256()))
            expected.append(Code.BAD_SIGNATURE)
        elif i % 11 == 5:     # the payload changed after signing
            data += b" "
            expected.append(Code.BAD_SIGNATURE)
        elif i % 13 == 6:     # a corrupt registered key
            out.append(("-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n", data, signature))
            expected.append(Code.UNKNOWN_KEY)
            continue
        else:
            expected.append(None)
        out.append((_pem(key), data, signature))
    return out, expected


async def test_in_process_and_worker_pool_give_the_same_verdicts(items, monkeypatch):
    batch, expected = items
    monkeypatch.setenv("VPP_VERIFY_WORKERS", "0")
    here = await signatures.verify_batch(batch)
    monkeypatch.setenv("VPP_VERIFY_WORKERS", "2")
    pooled = await signatures.verify_batch(batch)
    assert signatures._pool is not None  # the large batch really went to worker processes
    assert here == pooled == expected
    assert expected.count(None) < len(expected)  # the fixture has failures of both kinds
    assert {Code.BAD_SIGNATURE, Code.UNKNOWN_KEY} <= set(expected)


async def test_small_batches_stay_in_process(items, monkeypatch):
    batch, expected = items
    monkeypatch.setenv("VPP_VERIFY_WORKERS", "2")
    signatures.shutdown()
    assert await signatures.verify_batch(batch[: signatures.PARALLEL_FROM - 1]) == \
        expected[: signatures.PARALLEL_FROM - 1]
    assert signatures._pool is None


async def test_a_killed_worker_falls_back_to_verifying_here(items, monkeypatch):
    batch, expected = items
    monkeypatch.setenv("VPP_VERIFY_WORKERS", "1")
    signatures.shutdown()
    assert await signatures.verify_batch(batch) == expected
    for pid in list(signatures._pool._processes):
        os.kill(pid, signal.SIGKILL)
    assert await signatures.verify_batch(batch) == expected  # broken pool: answered in process
    assert await signatures.verify_batch(batch) == expected  # and a new pool next time
    signatures.shutdown()
