"""The Postman collection (tests/postman) run by newman against a real gateway process with the mail catcher.

This test plays the operator's console (admin and utility bootstrapped into the data directory before the gateway
starts) and the meter edge (it holds the meter key and signs the readings; the collection only carries them).
Passwords and keys are generated for the run and written to a temporary environment, never to the repository.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.postman.environment import run_values, write_environment
from tests.postman.live_gateway import Accounts, Gateway, MailCatcher, bootstrap_accounts

POSTMAN = Path(__file__).resolve().parent / "postman"
COLLECTION = POSTMAN / "vpp-ledger.postman_collection.json"
NEWMAN = POSTMAN / "node_modules" / ".bin" / "newman"


def collection_assertions() -> int:
    """pm.test calls in the collection's scripts; each runs exactly once per run (the mail poll retries without
    asserting), so newman must report this many assertions."""
    doc = json.loads(COLLECTION.read_text())
    count = 0

    def walk(items: list[dict]) -> None:
        nonlocal count
        for item in items:
            walk(item.get("item", []))
            for event in item.get("event", []):
                count += len(re.findall(r"\bpm\.test\(", "\n".join(event["script"]["exec"])))

    walk(doc["item"])
    return count


def collection_requests() -> int:
    def count(items: list[dict]) -> int:
        return sum(count(item["item"]) if "item" in item else 1 for item in items)

    return count(json.loads(COLLECTION.read_text())["item"])


@pytest.fixture
def stack(tmp_path: Path):
    if not NEWMAN.exists() or shutil.which("node") is None:
        pytest.skip(f"newman is not installed ({NEWMAN}; `make setup` runs npm ci in tests/postman)")
    accounts = Accounts()
    data_dir = tmp_path / "data"
    bootstrap_accounts(data_dir, accounts)
    mail = MailCatcher.start()
    try:
        gateway = Gateway.start(data_dir, smtp_port=mail.smtp_port)
        try:
            yield gateway, mail, accounts
        finally:
            gateway.stop()
    finally:
        mail.stop()


def test_collection_passes_against_a_live_gateway(stack, tmp_path: Path):
    gateway, mail, accounts = stack
    environment, report = tmp_path / "env.json", tmp_path / "newman.json"
    write_environment(environment, run_values(gateway, mail, accounts))
    started = time.monotonic()
    result = subprocess.run([str(NEWMAN), "run", str(COLLECTION), "-e", str(environment), "--reporters", "cli,json",
                             "--reporter-json-export", str(report), "--timeout-request", "30000",
                             "--color", "off", "--disable-unicode"],
                            capture_output=True, text=True, timeout=240)
    elapsed = time.monotonic() - started
    output = result.stdout[-6000:] + result.stderr[-2000:]
    assert report.exists(), f"newman wrote no report (exit {result.returncode}):\n{output}\n{gateway.log_tail()}"
    run = json.loads(report.read_text())["run"]
    failures = [f"{f['source'].get('name')}: {f['error'].get('test')}: {f['error'].get('message')}"
                for f in run["failures"]]
    assert not failures, "\n".join(failures) + "\n" + gateway.log_tail()
    stats = run["stats"]
    assert stats["assertions"]["failed"] == 0 and stats["requests"]["failed"] == 0
    expected = collection_assertions()
    assert expected >= 45, "the collection lost its assertions"
    assert stats["assertions"]["total"] == expected, (stats["assertions"], expected)
    assert stats["requests"]["total"] >= collection_requests(), stats["requests"]
    assert result.returncode == 0, output
    print(f"newman: {stats['requests']['total']} requests, {stats['assertions']['total']} assertions, "
          f"0 failed, {elapsed:.1f} s")
