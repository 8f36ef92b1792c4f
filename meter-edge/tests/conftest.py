"""Shared fixtures of the meter-edge tests: a private Mosquitto broker on a free loopback port.

The broker runs from a temporary config and persistence directory (persistence on, max_queued_messages and the
in-flight window raised, see vpp_edge.mqtt.mosquitto) and is stopped by its pid, never by name.
"""

from __future__ import annotations

import shutil

import pytest
from vpp_edge.mqtt.mosquitto import BINARY, Mosquitto


@pytest.fixture
def mosquitto(tmp_path):
    if shutil.which(BINARY) is None:
        pytest.fail(f"Mosquitto is not installed at {BINARY} (make setup installs it)")
    broker = Mosquitto(tmp_path / "mosquitto").start()
    try:
        yield broker
    finally:
        broker.stop()
