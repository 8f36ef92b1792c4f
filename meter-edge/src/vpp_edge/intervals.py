"""Closed 5- and 15-minute intervals from a meter's cumulative counters: a pure function of state and samples.

``advance(spec, state, samples) -> (state, records)``. No clock, no I/O: the reader persists the state it returns.

How energy is apportioned (integers only, conserving every Wh):

* Counters are first *unwrapped*: a counter with a declared ``modulus`` (2**32 for a 32-bit Wh register,
  100_000_000 for an 8-digit display) that steps backwards by a plausible amount rolled over; the unwrapped value
  keeps counting. A backward step that is not a plausible rollover, or a changed serial number, is a meter
  replacement: a new baseline starts at the new meter's reading.
* The cumulative energy E(t) is the straight line between consecutive samples. The value at each interval
  boundary is E(boundary) rounded down, computed once and kept in the state, and an interval's energy is
  E(end) - E(start). Sums telescope, so rounding never creates or loses a Wh: the energy of consecutive intervals
  (plus any gaps between them) is exactly the counter difference between their outer boundaries, and when a
  boundary coincides with a sample it is exactly the counter reading.
* An interval is emitted only once a sample at or after its end exists.
* Two consecutive samples further apart than ``max_gap_intervals`` intervals are a gap: the boundaries between
  them are not interpolated. The intervals that touch the gap are not emitted; one :class:`Gap` record covers
  them with the energy the counters say passed through it. A replacement is a gap too: its energy is what the
  old meter counted after the last emitted boundary plus what the new meter counted up to the first boundary
  after it (what happened between removal and installation is not measured, and not invented).
* The first sample commissions the meter: intervals start at the first boundary at or after it (the partial
  interval before it was never observed, so it is neither an interval nor a gap).
* Battery: ``soc_permille`` / ``soh_permille`` of an interval are those of the last sample at or before the
  interval's end (the contract wants SoC at the interval end); a gauge a sample lacks keeps its last known value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from .sample import COUNTERS, Sample

INTERVAL_LENGTHS = (300, 900)
DEFAULT_MAX_GAP_INTERVALS = 2


@dataclass(frozen=True, slots=True)
class MeterSpec:
    """What the aggregator needs to know about one meter."""

    device: str
    kind: str
    interval: int                                   # 300 or 900 seconds
    max_gap_intervals: int = DEFAULT_MAX_GAP_INTERVALS
    modulus: Mapping[str, int] = field(default_factory=dict)   # counter -> rollover modulus (absent: none)
    max_power_w: int | None = None                  # bounds a plausible rollover; without it: half the modulus

    def __post_init__(self) -> None:
        if self.kind not in COUNTERS:
            raise ValueError(f"unknown kind {self.kind!r}")
        if self.interval not in INTERVAL_LENGTHS:
            raise ValueError("interval must be 300 or 900")
        if self.max_gap_intervals < 1:
            raise ValueError("max_gap_intervals must be at least 1")
        for name, modulus in self.modulus.items():
            if name not in COUNTERS[self.kind] or modulus < 2:
                raise ValueError(f"modulus for {name!r}: unknown counter or modulus < 2")

    @property
    def counters(self) -> tuple[str, ...]:
        return tuple(sorted(COUNTERS[self.kind]))

    @property
    def max_gap_s(self) -> int:
        return self.max_gap_intervals * self.interval


@dataclass(frozen=True, slots=True)
class Interval:
    """A closed interval [start, start + length): energy per counter (Wh) and, for batteries, gauges at its end."""

    device: str
    kind: str
    start: int
    length: int
    energy: dict[str, int]
    gauges: dict[str, int] = field(default_factory=dict)

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass(frozen=True, slots=True)
class Gap:
    """Intervals in [start, end) that are not emitted, and the energy the counters measured across them."""

    device: str
    start: int
    end: int
    energy: dict[str, int]
    reasons: tuple[str, ...]   # "missing_samples" and/or "replacement"


@dataclass(frozen=True, slots=True)
class Discarded:
    """A sample the aggregator could not use (not newer than the last one)."""

    device: str
    taken_at: int
    reason: str


Record = Interval | Gap | Discarded


@dataclass(frozen=True, slots=True)
class LastSample:
    t: int
    raw: dict[str, int]          # the registers as read
    unwrapped: dict[str, int]    # raw plus rollovers, per baseline
    serial: str | None
    gauges: dict[str, int]       # last known value of each gauge


@dataclass(frozen=True, slots=True)
class PendingGap:
    start: int
    carried: dict[str, int]      # energy measured by meters replaced since the gap began
    origin: dict[str, int]       # unwrapped value of the current baseline the rest is measured from
    reasons: tuple[str, ...]     # empty: the commissioning lead-in (resolved silently)


@dataclass(frozen=True, slots=True)
class MeterState:
    """Everything the aggregator remembers between calls; JSON-able through :meth:`to_json`."""

    boundary: int                    # next interval start; everything before it is final
    value: dict[str, int] | None     # E(boundary), None until a sample at or after the boundary arrives
    last: LastSample
    pending: PendingGap | None = None

    def to_json(self) -> dict:
        return {
            "boundary": self.boundary, "value": self.value,
            "last": {"t": self.last.t, "raw": self.last.raw, "unwrapped": self.last.unwrapped,
                     "serial": self.last.serial, "gauges": self.last.gauges},
            "pending": None if self.pending is None else {
                "start": self.pending.start, "carried": self.pending.carried, "origin": self.pending.origin,
                "reasons": list(self.pending.reasons)},
        }

    @classmethod
    def from_json(cls, doc: Mapping) -> MeterState:
        last, pending = doc["last"], doc["pending"]
        return cls(
            boundary=int(doc["boundary"]), value=None if doc["value"] is None else dict(doc["value"]),
            last=LastSample(int(last["t"]), dict(last["raw"]), dict(last["unwrapped"]), last["serial"],
                            dict(last["gauges"])),
            pending=None if pending is None else PendingGap(int(pending["start"]), dict(pending["carried"]),
                                                            dict(pending["origin"]), tuple(pending["reasons"])))


def _ceil_to(t: int, step: int) -> int:
    return -(-t // step) * step


def _interpolate(a: LastSample, b: LastSample, at: int) -> dict[str, int]:
    """E(at) for a.t <= at <= b.t, rounded down (monotonic in `at`, exact at both samples)."""
    span = b.t - a.t
    return {c: a.unwrapped[c] + (b.unwrapped[c] - a.unwrapped[c]) * (at - a.t) // span for c in a.unwrapped}


def _sub(x: Mapping[str, int], y: Mapping[str, int]) -> dict[str, int]:
    return {c: x[c] - y[c] for c in x}


def _add(x: Mapping[str, int], y: Mapping[str, int]) -> dict[str, int]:
    return {c: x[c] + y[c] for c in x}


def _unwrap(spec: MeterSpec, a: LastSample, sample: Sample) -> dict[str, int] | None:
    """The new unwrapped counters, or None when the step can only be a replaced meter."""
    out = {}
    dt = sample.taken_at - a.t
    for c in spec.counters:
        new, old = sample.counters[c], a.raw[c]
        if new >= old:
            out[c] = a.unwrapped[c] + new - old
            continue
        modulus = spec.modulus.get(c)
        if modulus is None:
            return None
        wrapped = new + modulus - old
        limit = spec.max_power_w * dt // 3600 + 1 if spec.max_power_w is not None else modulus // 2
        if not 0 < wrapped <= limit:
            return None
        out[c] = a.unwrapped[c] + wrapped
    return out


def _commission(spec: MeterSpec, sample: Sample) -> MeterState:
    last = LastSample(sample.taken_at, dict(sample.counters), dict(sample.counters), sample.serial,
                      dict(sample.gauges))
    boundary = _ceil_to(sample.taken_at, spec.interval)
    if boundary == sample.taken_at:
        return MeterState(boundary, dict(last.unwrapped), last)
    zero = dict.fromkeys(spec.counters, 0)
    lead_in = PendingGap(boundary - spec.interval, zero, dict(last.unwrapped), ())
    return MeterState(boundary, None, last, lead_in)


def _break(spec: MeterSpec, state: MeterState, b: LastSample, reason: str, replaced: bool) -> MeterState:
    """Continuity lost between state.last and b: open (or extend) a pending gap up to the boundary after b."""
    a = state.last
    zero = dict.fromkeys(spec.counters, 0)
    if state.pending is None:  # value is known and boundary <= a.t
        assert state.value is not None
        pending = PendingGap(state.boundary, zero, state.value, ())
    else:
        pending = state.pending
    if replaced:  # what the old meter counted since the gap's origin, then measure from the new meter
        pending = PendingGap(pending.start, _add(pending.carried, _sub(a.unwrapped, pending.origin)),
                             dict(b.unwrapped), pending.reasons)
    reasons = tuple(sorted({*pending.reasons, reason}))
    pending = replace(pending, reasons=reasons)
    boundary = _ceil_to(b.t, spec.interval)
    return MeterState(boundary, dict(b.unwrapped) if boundary == b.t else None, b, pending)


def _resolve(spec: MeterSpec, state: MeterState, out: list[Record]) -> MeterState:
    """Once the value at the boundary after a pending gap is known, the gap is final."""
    pending = state.pending
    if pending is None or state.value is None:
        return state
    if pending.reasons:  # a lead-in (commissioning) has none and is not a gap
        energy = _add(pending.carried, _sub(state.value, pending.origin))
        out.append(Gap(spec.device, pending.start, state.boundary, energy, pending.reasons))
    return replace(state, pending=None)


def _step(spec: MeterSpec, state: MeterState, sample: Sample, out: list[Record]) -> MeterState:
    a = state.last
    if sample.taken_at <= a.t:
        out.append(Discarded(spec.device, sample.taken_at, "not newer than the previous sample"))
        return state
    gauges = {**a.gauges, **sample.gauges}
    replaced_serial = a.serial is not None and sample.serial is not None and sample.serial != a.serial
    unwrapped = None if replaced_serial else _unwrap(spec, a, sample)
    if unwrapped is None:
        b = LastSample(sample.taken_at, dict(sample.counters), dict(sample.counters), sample.serial, gauges)
        return _resolve(spec, _break(spec, state, b, "replacement", replaced=True), out)
    b = LastSample(sample.taken_at, dict(sample.counters), unwrapped, sample.serial or a.serial, gauges)
    if b.t - a.t > spec.max_gap_s:
        return _resolve(spec, _break(spec, state, b, "missing_samples", replaced=False), out)
    boundary, value = state.boundary, state.value
    if value is None and boundary <= b.t:
        value = _interpolate(a, b, boundary)
    state = _resolve(spec, MeterState(boundary, value, b, state.pending), out)
    if value is None:
        return state
    while boundary + spec.interval <= b.t:
        end = boundary + spec.interval
        end_value = _interpolate(a, b, end)
        at_end = b.gauges if end == b.t else a.gauges  # last sample at or before the end (a.t < end <= b.t)
        out.append(Interval(spec.device, spec.kind, boundary, spec.interval, _sub(end_value, value),
                            _battery_gauges(spec.kind, at_end)))
        boundary, value = end, end_value
    return MeterState(boundary, value, b, None)


def _battery_gauges(kind: str, gauges: Mapping[str, int]) -> dict[str, int]:
    if kind != "battery":
        return {}
    return {g: gauges[g] for g in ("soc_permille", "soh_permille") if g in gauges}


def advance(spec: MeterSpec, state: MeterState | None, samples: Iterable[Sample]) -> tuple[MeterState | None,
                                                                                          list[Record]]:
    """Feed samples (in time order) to a meter's state; returns the new state and what became final."""
    out: list[Record] = []
    for sample in samples:
        if sample.device != spec.device or sample.kind != spec.kind:
            raise ValueError(f"sample of {sample.device}/{sample.kind} fed to {spec.device}/{spec.kind}")
        state = _commission(spec, sample) if state is None else _step(spec, state, sample, out)
    return state, out
