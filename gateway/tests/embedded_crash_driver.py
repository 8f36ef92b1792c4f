"""Load driver for the crash test (``test_embedded_crash.py``); runs until it is killed.

    python gateway/tests/embedded_crash_driver.py <db> <ack-file> [clients] [block_size] [block_timeout]

Opens the embedded ledger at ``<db>`` (creating it or continuing it), installs the ``records`` contract and runs
``clients`` concurrent clients, each submitting ``CreateRecord(<unique id>, <value>)`` in a loop. Only after
``submit`` has *returned* (the block holding the transaction is committed) is the id appended to ``<ack-file>``
as one line, written with one ``write`` and fsync'd. The test kills this process with SIGKILL at arbitrary
moments and then checks that every acknowledged id is on the ledger.

Needs ``chaincode/examples`` on ``PYTHONPATH`` (for ``records``) and ``vpp_gateway`` / ``fabric_ccaas``
importable.
"""

from __future__ import annotations

import asyncio
import os
import sys

from fabric_ccaas.testing import TestCA
from records import chaincode as records
from vpp_gateway.embedded import EmbeddedLedger


def open_ack_file(ack_path: str) -> int:
    """An append-only descriptor. A kill during an earlier run may have left a partial last line (never a
    complete ack): cut it off so that every line in the file is one whole id, the partial tail excepted."""
    fd = os.open(ack_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    with os.fdopen(os.dup(fd), "rb") as existing:
        data = existing.read()
    if data and not data.endswith(b"\n"):
        os.ftruncate(fd, data.rfind(b"\n") + 1)
        os.fsync(fd)
    return fd


async def run(db: str, ack_path: str, clients: int, block_size: int, block_timeout: float) -> None:
    creator = TestCA().issue("crash-driver").creator
    ledger = EmbeddedLedger.open(db, block_size=block_size, block_timeout=block_timeout)
    ledger.install("records", records)
    run_id = f"{os.getpid()}-{os.urandom(4).hex()}"  # ids never repeat across restarts on the same file
    fd = open_ack_file(ack_path)

    async def client(number: int) -> None:
        n = 0
        while True:
            record_id = f"r-{run_id}-{number}-{n}"
            await ledger.submit("records", "CreateRecord", [record_id, str(n)], creator)
            os.write(fd, f"{record_id}\n".encode())  # acknowledged: committed, so it must survive a crash
            os.fsync(fd)
            n += 1

    print(f"driver {run_id} running", flush=True)
    await asyncio.gather(*(client(i) for i in range(clients)))


def main(argv: list[str]) -> None:
    db, ack_path = argv[0], argv[1]
    clients = int(argv[2]) if len(argv) > 2 else 16
    block_size = int(argv[3]) if len(argv) > 3 else 8
    block_timeout = float(argv[4]) if len(argv) > 4 else 0.005
    asyncio.run(run(db, ack_path, clients, block_size, block_timeout))


if __name__ == "__main__":
    main(sys.argv[1:])
