"""The live gateway of tests/security/stack.py, for the hostile-REST tests (one per session)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security.stack import Stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Iterator[Stack]:
    running = Stack.start(tmp_path_factory.mktemp("hostile-rest") / "data")
    try:
        yield running
    finally:
        running.stop()
