"""The offered load as a schedule: steps of (readings per second, seconds), and the instant each reading is due.

Reading ``i`` is due at ``time_of(i)`` seconds after the start. Latency is measured from that instant, not from
when the publisher got round to it: an open-loop measurement, so a publisher or broker that falls behind shows up
as latency instead of quietly lowering the offered rate (no coordinated omission).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Schedule:
    steps: tuple[tuple[int, float], ...]   # (readings per second, seconds)

    def __post_init__(self) -> None:
        if not self.steps or any(rate <= 0 or seconds <= 0 for rate, seconds in self.steps):
            raise ValueError("a schedule needs steps of positive rate and duration")

    @classmethod
    def constant(cls, rate: int, seconds: float) -> Schedule:
        return cls(((rate, seconds),))

    @classmethod
    def ramp(cls, start: int, step: int, top: int, step_seconds: float) -> Schedule:
        return cls(tuple((rate, step_seconds) for rate in range(start, top + 1, step)))

    @cached_property
    def _bounds(self) -> tuple[list[float], list[int]]:
        """Step start times and the number of readings due before each step."""
        times, counts, t, n = [], [], 0.0, 0
        for rate, seconds in self.steps:
            times.append(t)
            counts.append(n)
            t += seconds
            n += math.floor(rate * seconds)
        return times, counts

    @property
    def total(self) -> int:
        return sum(math.floor(rate * seconds) for rate, seconds in self.steps)

    @property
    def seconds(self) -> float:
        return sum(seconds for _, seconds in self.steps)

    def step_of(self, index: int) -> int:
        _, counts = self._bounds
        return bisect.bisect_right(counts, index) - 1

    def time_of(self, index: int) -> float:
        """Seconds after the start at which reading ``index`` is due."""
        times, counts = self._bounds
        step = bisect.bisect_right(counts, index) - 1
        return times[step] + (index - counts[step]) / self.steps[step][0]

    def times_of(self, indices: np.ndarray) -> np.ndarray:
        """``time_of`` for an array of indices."""
        times, counts = self._bounds
        steps = np.searchsorted(np.asarray(counts), indices, side="right") - 1
        rates = np.asarray([rate for rate, _ in self.steps], dtype=float)
        return np.asarray(times)[steps] + (indices - np.asarray(counts)[steps]) / rates[steps]

    def count_by(self, elapsed: float) -> int:
        """How many readings are due by ``elapsed`` seconds after the start."""
        if elapsed < 0:
            return 0
        times, counts = self._bounds
        step = bisect.bisect_right(times, elapsed) - 1
        rate, seconds = self.steps[step]
        within = min(elapsed - times[step], seconds)
        return min(self.total, counts[step] + math.floor(rate * within) + 1)

    def step_range(self, step: int) -> tuple[int, int]:
        """Reading indices [first, end) due in ``step``."""
        _, counts = self._bounds
        end = counts[step + 1] if step + 1 < len(counts) else self.total
        return counts[step], end
