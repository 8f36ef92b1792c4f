"""The embedded ledger on disk: reopening, the hash chain, and the audit that catches tampering."""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
import sys

import pytest
from conformance import chaincode as conformance
from fabric_ccaas.testing import TestCA
from records import chaincode as records
from vpp_gateway.embedded import EmbeddedLedger, audit
from vpp_gateway.embedded.__main__ import main as cli
from vpp_gateway.embedded.rwset import block_hash, sha256


@pytest.fixture(scope="module")
def alice():
    return TestCA().issue("alice")


def open_ledger(path):
    ledger = EmbeddedLedger.open(path, block_timeout=0.01)
    ledger.install("records", records)
    ledger.install("conformance", conformance)
    return ledger


@pytest.fixture
async def populated(tmp_path, alice):
    """A closed ledger file with public, composite, private, deleted and metadata-carrying keys."""
    path = tmp_path / "ledger.db"
    ledger = open_ledger(path)
    for i in range(3):
        await ledger.submit("records", "CreateRecord", [f"r{i}", str(i)], alice.creator)
    await ledger.submit("conformance", "PutComposite", ["lot", '["alice","1"]', "c1"], alice.creator)
    await ledger.submit("conformance", "PutPrivate", ["secrets", "s1"], alice.creator, transient={"value": b"hidden"})
    await ledger.submit("conformance", "Put", ["gone", "x"], alice.creator)
    await ledger.submit("conformance", "Delete", ["gone"], alice.creator)
    await ledger.submit("conformance", "Put", ["guarded", "v"], alice.creator)
    await ledger.submit("conformance", "SetKeyPolicy", ["guarded", '["Org1MSP"]'], alice.creator)
    ledger.close()
    return path


async def test_reopening_gives_the_same_height_state_hash_and_values(populated, alice):
    ledger = open_ledger(populated)
    height, state_hash = ledger.height, ledger.state_hash()
    ledger.close()
    reopened = open_ledger(populated)
    try:
        assert reopened.height == height == 10  # genesis + nine blocks, one per sequential submit
        assert reopened.state_hash() == state_hash
        assert await reopened.evaluate("records", "ReadRecord", ["r1"], alice.creator) == b'{"id":"r1","value":"1"}'
        assert await reopened.evaluate("conformance", "GetPrivate", ["secrets", "s1"], alice.creator) == b"hidden"
        assert await reopened.evaluate("conformance", "GetKeyPolicy", ["guarded"], alice.creator) == b'["Org1MSP"]'
        history = json.loads(await reopened.evaluate("conformance", "History", ["gone"], alice.creator))
        assert [(h["value"], h["is_delete"]) for h in history] == [("", True), ("x", False)]
        committed = await reopened.submit("records", "CreateRecord", ["r9", "9"], alice.creator)
        assert committed.block_number == height  # the chain continues where it stopped
        assert reopened.state_hash() != state_hash
    finally:
        reopened.close()
    assert audit(populated).ok


async def test_blocks_are_chained_by_hash(populated):
    db = sqlite3.connect(populated)
    rows = db.execute("SELECT number, previous_hash, data_hash, hash, data FROM blocks ORDER BY number").fetchall()
    db.close()
    assert [r[0] for r in rows] == list(range(10))
    for (_, _, _, previous, _), (number, prev, data_hash, digest, data) in itertools.pairwise(rows):
        assert prev == previous and data_hash == sha256(data) and digest == block_hash(number, prev, data_hash)
    private_block = json.loads(rows[5][4])["transactions"][0]
    write = private_block["rwset"]["writes"][0]
    assert write["coll"] == "secrets" and "value" not in write and b"hidden" not in rows[5][4]  # only the hash


async def test_the_audit_passes_on_an_untouched_ledger(populated, capsys):
    report = audit(populated)
    assert report.ok and report.height == 10 and report.valid_transactions == 9
    assert report.state_hash == report.rebuilt_state_hash
    assert cli(["audit", str(populated)]) == 0
    assert capsys.readouterr().out.startswith("OK: height 10")


def tamper(path, sql, *params):
    db = sqlite3.connect(path)
    db.execute(sql, params)
    db.commit()
    db.close()


async def test_the_audit_names_a_tampered_block(populated, capsys):
    db = sqlite3.connect(populated)
    data = db.execute("SELECT data FROM blocks WHERE number = 2").fetchone()[0]
    db.close()
    forged = data.replace(b'"validation_code":0', b'"validation_code":11')  # pretend r1 was never written
    assert forged != data
    tamper(populated, "UPDATE blocks SET data = ? WHERE number = 2", forged)
    report = audit(populated)
    assert not report.ok and report.bad_block == 2 and "data_hash" in report.problem
    assert cli(["audit", str(populated)]) == 1
    assert "FAILED: block 2: data_hash" in capsys.readouterr().out


async def test_the_audit_catches_a_rehashed_block_by_its_successor(populated):
    db = sqlite3.connect(populated)
    number, prev, data = db.execute("SELECT number, previous_hash, data FROM blocks WHERE number = 3").fetchone()
    db.close()
    forged = data.replace(b"r2", b"r8")
    tamper(populated, "UPDATE blocks SET data = ?, data_hash = ?, hash = ? WHERE number = 3", forged, sha256(forged),
           block_hash(number, prev, sha256(forged)))
    report = audit(populated)
    assert not report.ok and report.bad_block == 4 and "previous_hash" in report.problem


async def test_the_audit_names_a_tampered_state_row(populated, capsys):
    tamper(populated, "UPDATE state SET value = ? WHERE namespace = 'records' AND key = ?",
           b'{"id":"r1","value":"999"}', b"r1")
    report = audit(populated)
    assert not report.ok and report.bad_block == 2 and "'records', '', 'r1'" in report.problem
    assert report.state_hash != report.rebuilt_state_hash
    assert cli(["audit", str(populated)]) == 1
    assert "FAILED: block 2: state row ('records', '', 'r1')" in capsys.readouterr().out


@pytest.mark.parametrize("sql,params,expected", [
    ("DELETE FROM state WHERE namespace = 'records' AND key = ?", (b"r0",), "is missing"),
    ("INSERT INTO state SELECT namespace, collection, ?, value, value_hash, block, tx_number, metadata FROM state "
     "WHERE key = ?", (b"r5", b"r0"), "no valid transaction wrote it"),
    ("UPDATE state SET value = ? WHERE collection = 'secrets'", (b"changed",), "value hash"),
    ("UPDATE state SET metadata = NULL WHERE key = ?", (b"guarded",), "metadata"),
])
async def test_the_audit_catches_every_kind_of_state_edit(populated, sql, params, expected):
    tamper(populated, sql, *params)
    report = audit(populated)
    assert not report.ok and expected in report.problem


def test_the_audit_command_runs_as_a_module(tmp_path):
    missing = subprocess.run([sys.executable, "-m", "vpp_gateway.embedded", "audit", str(tmp_path / "none.db")],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "cannot audit" in missing.stderr
