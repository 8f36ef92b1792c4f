"""Simulated time for the demo: fast in the past, then real time a little behind the wall clock.

The contract refuses a reading whose interval has not ended by the transaction's time (FUTURE_INTERVAL), so simulated
time starts days ago, runs ``factor`` times faster and, once it has caught up, keeps ``lag_s`` behind the wall clock:

    sim(wall) = min(start + max(0, wall - anchor) * factor, wall - lag_s)

Simulated time stands still until ``anchor``: the demo anchors it a few seconds after starting the simulators and
readers, so every reader is polling when it starts to run (at a high factor a late reader would see hours pass
between two samples, a gap). A pure function of the wall clock, so the simulators and every reader (separate
processes) agree on it, and a restart continues where the last run stopped: the next start re-anchors at the
simulated time of the stop.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class SimTime:
    start: float      # simulated epoch seconds at wall time ``anchor``
    anchor: float     # wall epoch seconds
    factor: float
    lag_s: float = 60.0

    def at(self, wall: float) -> float:
        return min(self.start + max(0.0, wall - self.anchor) * self.factor, wall - self.lag_s)

    def rate_at(self, wall: float) -> float:
        """Simulated seconds per wall second right now (``factor`` until caught up, then 1)."""
        return self.factor if self.start + max(0.0, wall - self.anchor) * self.factor < wall - self.lag_s else 1.0

    def caught_up(self, wall: float) -> bool:
        return self.rate_at(wall) == 1.0

    def continued(self, from_sim: float, factor: float, wall: float) -> SimTime:
        """The same simulated time line from ``from_sim``, anchored at ``wall``, at a (possibly new) factor."""
        return SimTime(from_sim, wall, factor, self.lag_s)


class CatchUpClock:
    """The clock interface the edge reader uses (now, sleep, factor), following :class:`SimTime`."""

    def __init__(self, sim: SimTime) -> None:
        self.sim = sim

    @property
    def factor(self) -> float:  # the reader divides its simulated sleep by this; read each cycle
        return self.sim.rate_at(time.time())

    def now(self) -> float:
        return self.sim.at(time.time())

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.factor)


@dataclass
class DemoState:
    """``<data>/demo.json``: what must survive a restart besides the databases."""

    model_start: float    # the simulators' device models integrate from here (registers depend on it)
    seed: int
    sites: int
    sim: SimTime
    stopped_at: float | None = None   # wall time of the last clean stop; the next start resumes simulated time there

    @classmethod
    def load(cls, path: Path) -> DemoState | None:
        if not path.exists():
            return None
        doc = json.loads(path.read_text())
        return cls(doc["model_start"], doc["seed"], doc["sites"], SimTime(**doc["sim"]), doc.get("stopped_at"))

    def save(self, path: Path) -> None:
        doc = {"model_start": self.model_start, "seed": self.seed, "sites": self.sites, "sim": asdict(self.sim),
               "stopped_at": self.stopped_at}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)  # atomic: a crash never leaves half a state file
