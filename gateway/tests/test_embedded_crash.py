"""Crash safety of the embedded ledger: SIGKILL under load, restart, audit — nothing acknowledged is lost.

``embedded_crash_driver.py`` runs 16 concurrent clients submitting ``CreateRecord`` and appends each id to an
ack file (fsync'd) only after ``submit`` returned. The test kills the driver with SIGKILL at varying moments,
restarts it on the same database, kills it again, and after every kill checks the file as a crashed process left
it: the audit passes (hash chain, state rebuilt from the blocks equals the stored state), the block numbers are
0..height-1 without gaps, the last block is complete in state, and every acknowledged id reads back.
"""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from fabric_ccaas.testing import TestCA
from records import chaincode as records
from vpp_gateway.embedded import EmbeddedLedger, audit

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("embedded_crash_driver.py")
ACK_LINE = re.compile(rb"r-\d+-[0-9a-f]{8}-\d+-\d+")
VALID = 0


def driver_env() -> dict[str, str]:
    env = dict(os.environ)
    paths = [ROOT / "chaincode" / "examples", ROOT / "chaincode", ROOT / "gateway" / "src",
             ROOT / "chaincode" / "runtime" / "src"]
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), *filter(None, [env.get("PYTHONPATH")])])
    return env


def ack_count(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def read_acks(path: Path) -> list[str]:
    """The acknowledged ids: complete lines only (a kill may leave a partial last line)."""
    lines = path.read_bytes().split(b"\n")[:-1]  # the piece after the last newline is partial (or empty)
    ids = [line for line in lines if line]
    bad = [line for line in ids if not ACK_LINE.fullmatch(line)]
    assert not bad, f"malformed ack lines: {bad[:5]}"
    return [line.decode() for line in ids]


def run_and_kill(db: Path, acks: Path, new_acks: int, delay: float, tmp: Path, timeout: float = 15.0) -> None:
    """Start the driver, wait for ``new_acks`` more acknowledgements, wait ``delay`` seconds, SIGKILL it."""
    before = ack_count(acks)
    stderr = (tmp / "driver.stderr").open("ab")
    proc = subprocess.Popen([sys.executable, str(DRIVER), str(db), str(acks)], env=driver_env(),
                            stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + timeout
        while ack_count(acks) < before + new_acks:
            if proc.poll() is not None:
                pytest.fail(f"driver exited with {proc.returncode}: {(tmp / 'driver.stderr').read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"driver made only {ack_count(acks) - before} acks in {timeout} s")
            time.sleep(0.01)
        time.sleep(delay)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        stderr.close()
    assert proc.returncode == -signal.SIGKILL, f"driver ended with {proc.returncode}, not by SIGKILL"


@dataclass
class Checked:
    acks: int
    height: int
    transactions: int
    unacknowledged: int  # committed but killed before the ack was written (allowed)


async def check_after_crash(db: Path, acks: Path, creator: bytes) -> Checked:
    """Everything the test promises about a file a SIGKILL left behind."""
    # The audit first, on the files exactly as the killed process left them (WAL not yet recovered by a writer).
    report = audit(db)
    assert report.ok, report.summary()
    raw = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        count, low, high = raw.execute("SELECT COUNT(*), MIN(number), MAX(number) FROM blocks").fetchone()
        tx_rows = raw.execute("SELECT COUNT(*) FROM transactions").fetchone()[0]
    finally:
        raw.close()
    assert (low, count) == (0, high + 1) == (0, report.height), "block numbers must be 0..height-1 without gaps"
    assert tx_rows == report.transactions, "the tx index must hold exactly the transactions of the stored blocks"

    acked = read_acks(acks)
    assert len(acked) == len(set(acked))
    ledger = EmbeddedLedger.open(db)
    ledger.install("records", records)
    try:
        assert ledger.height == report.height
        assert ledger.state_hash() == report.state_hash
        # No partial block: every valid transaction of the last block has its write in state.
        last = ledger.store.block(ledger.height - 1)
        assert last is not None
        for tx in last.content["transactions"]:
            if tx["validation_code"] == VALID:
                record_id = tx["rwset"]["writes"][0]["key"]
                assert ledger.store.get(("records", "", record_id)) is not None, f"{record_id} of the last block"
        # Acknowledged ⇒ present.
        missing = []
        for record_id in acked:
            try:
                body = await ledger.evaluate("records", "ReadRecord", [record_id], creator)
            except Exception as exc:
                missing.append((record_id, str(exc)))
                continue
            assert f'"id":"{record_id}"'.encode() in body
        assert not missing, f"{len(missing)} of {len(acked)} acknowledged records are missing: {missing[:5]}"
        stored = len(ledger.store.all_in("records", ""))
    finally:
        ledger.close()
    assert stored >= len(acked)
    return Checked(len(acked), report.height, report.transactions, stored - len(acked))


@pytest.fixture(scope="module")
def creator() -> bytes:
    return TestCA().issue("crash-auditor").creator


@pytest.mark.slow
async def test_sigkill_under_load_loses_nothing_acknowledged(tmp_path, creator):
    db, acks = tmp_path / "ledger.db", tmp_path / "acks.txt"
    rng = random.Random()
    seed = rng.randrange(2**32)
    rng.seed(seed)
    rounds = []
    for round_number in range(8):
        # Kill after a few hundred acks, plus a delay that differs per round so the kill lands at different
        # phases of the orderer's cycle (endorsing, cutting, inside the SQLite commit, writing acks).
        delay = rng.uniform(0.0, 0.05) if round_number else 0.0
        run_and_kill(db, acks, new_acks=rng.randrange(200, 400), delay=delay, tmp=tmp_path)
        checked = await check_after_crash(db, acks, creator)
        if rounds:
            assert checked.height > rounds[-1].height, "the restarted driver must continue the same chain"
            assert checked.acks > rounds[-1].acks
        rounds.append(checked)
        print(f"seed {seed} round {round_number}: delay {delay * 1000:.1f} ms, {checked.acks} acks verified, "
              f"height {checked.height}, {checked.transactions} txs, {checked.unacknowledged} committed unacked")


async def test_one_sigkill_loses_nothing_acknowledged(tmp_path, creator):
    db, acks = tmp_path / "ledger.db", tmp_path / "acks.txt"
    run_and_kill(db, acks, new_acks=100, delay=random.uniform(0.0, 0.02), tmp=tmp_path)
    checked = await check_after_crash(db, acks, creator)
    assert checked.acks >= 100
