"""Correctness under load, not speed: a minute at 1,111 readings/s (one million meters at 15 minutes) from a paced
publisher through a private Mosquitto and the real bridge to the embedded ledger, in three processes. Nothing may
fail and nothing may be lost: every published reading committed once, per meter and day the published Wh equal the
Wh on the ledger, the Tgen minted and the Tgen lots held, supply is conserved, and every batch is VALID on the
ledger. Latency is reported, not asserted (the machine is shared)."""

from __future__ import annotations

import os

import pytest

from bench.soak.orchestrate import SoakConfig, run_soak
from bench.soak.schedule import Schedule

pytestmark = [pytest.mark.slow, pytest.mark.mqtt]

RATE = 1111
SECONDS = float(os.environ.get("VPP_SOAK_TEST_SECONDS", "60"))


def test_a_minute_at_one_million_meters_loses_nothing(tmp_path):
    lines: list[str] = []
    report = run_soak(SoakConfig(Schedule.constant(RATE, SECONDS), tmp_path, meters=2000, progress_every_s=15,
                                 log=lambda line: (lines.append(line), print(line))))
    published = report["published"]
    assert published["put"] == int(RATE * SECONDS), report["published"]
    assert published["acknowledged"] == published["put"] and published["outbox_left"] == 0
    assert report["failures"] == 0, report["failure_samples"]
    assert report["rejected"] == 0 and report["dead_letters"] == 0, report["dead_letter_samples"]
    assert report["committed"] == published["put"]
    checks = report["checks"]
    assert checks["meter_day_mismatches"] == 0, checks["mismatch_samples"]
    assert checks["ledger_readings"] == published["put"]
    assert checks["published_wh"] == checks["ledger_wh"] == checks["minted_wh_by_readings"] == checks["lots_wh"] \
        == checks["sum_of_balances_wh"] > 0
    assert checks["supply"]["conserved"] and checks["supply"]["minted"] == checks["published_wh"]
    final = checks["final_status"]
    assert final["attempts"] == final["finished"] == final["committed"] > 0 and not final["not_valid"]
    assert report["nothing_lost"]
    assert any("p99 so far" in line for line in lines)          # progress was reported while it ran
    print(f"latency due → committed: {report['latency']}; CPU s {report['cpu_seconds']}")
