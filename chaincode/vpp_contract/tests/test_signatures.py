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


CHILD = """
import asyncio, os, sys
os.environ["VPP_VERIFY_WORKERS"] = "1"
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from vpp_contract import signatures

async def main():
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    items = [(pem, b"m%d" % i, key.sign(b"m%d" % i, ec.ECDSA(hashes.SHA256()))) for i in range(100)]
    assert await signatures.verify_batch(items) == [None] * 100
    print(" ".join(str(pid) for pid in signatures._pool._processes), flush=True)
    await asyncio.sleep(60)

if __name__ == "__main__":
    asyncio.run(main())
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_workers_and_their_server_end_when_the_process_that_made_them_is_killed(tmp_path):
    import subprocess
    import sys
    import time

    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    workers = [int(pid) for pid in child.stdout.readline().split()]
    servers = {int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1]) for pid in workers}
    assert workers and all(_alive(pid) for pid in workers + list(servers))
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers + list(servers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers + list(servers)), "verification processes outlived their parent"
