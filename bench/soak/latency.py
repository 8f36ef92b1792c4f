"""Latencies from committed batches: per reading, commit instant − due instant; percentiles overall, per minute of
the schedule and per ramp step (where readings not yet committed count with their age so far)."""

from __future__ import annotations

import numpy as np

from .schedule import Schedule


def pct(values: np.ndarray) -> dict:
    if values.size == 0:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {"n": int(values.size), "p50_ms": round(p50 * 1000), "p95_ms": round(p95 * 1000),
            "p99_ms": round(p99 * 1000), "max_ms": round(float(values.max()) * 1000)}


class Latencies:
    def __init__(self, schedule: Schedule, t0: float) -> None:
        self.schedule = schedule
        self.t0 = t0
        self._indices: list[np.ndarray] = []
        self._seconds: list[np.ndarray] = []
        self._merged: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, committed_at: float, indices: list[int]) -> None:
        if not indices:
            return
        idx = np.asarray(indices, dtype=np.int64)
        self._indices.append(idx)
        self._seconds.append(committed_at - (self.t0 + self.schedule.times_of(idx)))
        self._merged = None

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if self._merged is None:
            if self._indices:
                self._merged = (np.concatenate(self._indices), np.concatenate(self._seconds))
                self._indices, self._seconds = [self._merged[0]], [self._merged[1]]
            else:
                self._merged = (np.zeros(0, dtype=np.int64), np.zeros(0))
        return self._merged

    @property
    def count(self) -> int:
        return int(sum(a.size for a in self._indices))

    def overall(self) -> dict:
        return pct(self.arrays()[1])

    def since(self, first_index: int) -> dict:
        idx, sec = self.arrays()
        return pct(sec[idx >= first_index])

    def per_minute(self) -> list[dict]:
        idx, sec = self.arrays()
        minutes = (self.schedule.times_of(idx) // 60).astype(np.int64) if idx.size else idx
        rows = []
        for minute in range(int(np.ceil(self.schedule.seconds / 60))):
            rows.append({"minute": minute, **pct(sec[minutes == minute])})
        return rows

    def step(self, step: int, now: float) -> dict:
        """A ramp step's readings: committed ones by latency, the rest (still in flight at ``now``) by age."""
        first, end = self.schedule.step_range(step)
        idx, sec = self.arrays()
        mask = (idx >= first) & (idx < end)
        done = np.zeros(end - first, dtype=bool)
        done[idx[mask] - first] = True
        pending = np.nonzero(~done)[0] + first
        due = self.t0 + self.schedule.times_of(pending)
        ages = now - due[due <= now]
        return {"due": int(end - first), "committed": int(done.sum()), "in_flight": int(ages.size),
                **pct(np.concatenate([sec[mask], ages]))}

    def committed_between(self, start: float, end: float) -> int:
        idx, sec = self.arrays()
        at = self.t0 + self.schedule.times_of(idx) + sec if idx.size else sec
        return int(((at >= start) & (at < end)).sum())
