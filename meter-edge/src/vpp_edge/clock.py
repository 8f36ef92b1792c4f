"""Clocks the edge and the simulators share: the wall clock, or simulated time running `factor` times faster.

An accelerated clock starts in the past (for example ten days ago) so the intervals it produces are never in the
ledger's future: the contract refuses readings whose interval has not ended by the transaction's timestamp.
"""

from __future__ import annotations

import asyncio
import time


class WallClock:
    factor = 1

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class AcceleratedClock:
    """Simulated time: starts at `start` (epoch seconds) and runs `factor` times faster than real time."""

    def __init__(self, start: float, factor: float) -> None:
        if factor <= 0:
            raise ValueError("factor must be positive")
        self.start = start
        self.factor = factor
        self._t0 = time.monotonic()

    def now(self) -> float:
        return self.start + (time.monotonic() - self._t0) * self.factor

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.factor)
