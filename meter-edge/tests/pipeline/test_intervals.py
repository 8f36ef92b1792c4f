"""The interval aggregator: exact conservation, no interval before its end, monotonic, rollover, replacement, gaps."""

from __future__ import annotations

import json
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vpp_edge.intervals import Gap, Interval, MeterSpec, MeterState, advance
from vpp_edge.sample import Sample

L = 300
T0 = 1_790_000_100 // 900 * 900  # aligned to both lengths


def gen(t: int, wh: int, serial: str | None = None) -> Sample:
    return Sample("m1", "generation", t, {"generated_wh": wh}, serial=serial)


def feed_one_by_one(spec: MeterSpec, samples: list[Sample]):
    """Feed samples one at a time through a JSON round trip of the state (what a restarting reader does)."""
    state, records = None, []
    for sample in samples:
        state, new = advance(spec, state, [sample])
        assert all(r.end <= sample.taken_at for r in new if isinstance(r, Interval | Gap)), "closed before its end"
        records += new
        state = MeterState.from_json(json.loads(json.dumps(state.to_json())))
    return state, records


@st.composite
def meter_runs(draw, replacements: bool = False):
    """Samples of one meter: first and last at a boundary; steps 1 s .. 3 intervals (so some are gaps)."""
    n = draw(st.integers(2, 40))
    t = T0 + draw(st.integers(0, 5)) * L
    raw = draw(st.integers(0, 10_000))
    serial, serial_no = "S0", 0
    samples, baselines = [gen(t, raw, serial)], [[raw, raw]]  # per baseline: first and last unwrapped
    unwrapped = raw
    for i in range(n):
        last = i == n - 1
        step = draw(st.integers(1, 3 * L))
        t = -(-(t + step) // L) * L if last else t + step  # the last sample on a boundary
        if replacements and not last and draw(st.integers(0, 9)) == 0:
            serial_no += 1
            serial = f"S{serial_no}"
            raw = unwrapped = draw(st.integers(0, 10_000))
            baselines.append([raw, raw])
        else:
            delta = draw(st.integers(0, 2_000))
            unwrapped += delta
            raw = unwrapped
            baselines[-1][1] = unwrapped
        samples.append(gen(t, raw, serial))
    return samples, sum(last - first for first, last in baselines)


def check_layout(records, spec: MeterSpec) -> None:
    spans = [(r.start, r.end) for r in records if isinstance(r, Interval | Gap)]
    for (s1, e1), (s2, _) in pairwise(spans):
        assert e1 == s2, f"not contiguous: {spans}"
        assert s1 < e1
    for r in records:
        if isinstance(r, Interval):
            assert r.length == spec.interval and r.start % spec.interval == 0
            assert all(v >= 0 for v in r.energy.values())
        if isinstance(r, Gap):
            assert r.start % spec.interval == 0 and r.end % spec.interval == 0 and r.reasons


def total(records) -> int:
    return sum(r.energy["generated_wh"] for r in records if isinstance(r, Interval | Gap))


@settings(max_examples=150, deadline=None)
@given(meter_runs())
def test_energy_is_conserved_exactly_and_intervals_are_contiguous(run):
    samples, measured = run
    spec = MeterSpec("m1", "generation", L)
    _, records = feed_one_by_one(spec, samples)
    check_layout(records, spec)
    assert total(records) == measured
    steps = [b.taken_at - a.taken_at for a, b in pairwise(samples)]
    assert any(isinstance(r, Gap) for r in records) == any(s > spec.max_gap_s for s in steps)


@settings(max_examples=100, deadline=None)
@given(meter_runs())
def test_one_by_one_with_restarts_equals_all_at_once(run):
    samples, _ = run
    spec = MeterSpec("m1", "generation", L)
    _, incremental = feed_one_by_one(spec, samples)
    _, batch = advance(spec, None, samples)
    assert incremental == batch


@settings(max_examples=100, deadline=None)
@given(meter_runs())
def test_rollover_gives_exactly_what_an_unbounded_counter_gives(run):
    samples, measured = run
    modulus = 20_000  # above every first reading, and twice any step: every backward step is a rollover
    wrapped = [gen(s.taken_at, s.counters["generated_wh"] % modulus, s.serial) for s in samples]
    _, expected = advance(MeterSpec("m1", "generation", L), None, samples)
    _, records = feed_one_by_one(MeterSpec("m1", "generation", L, modulus={"generated_wh": modulus}), wrapped)
    assert records == expected and total(records) == measured


@settings(max_examples=100, deadline=None)
@given(meter_runs(replacements=True))
def test_replacement_starts_a_new_baseline_and_its_energy_is_a_gap(run):
    samples, measured = run
    spec = MeterSpec("m1", "generation", L)
    _, records = feed_one_by_one(spec, samples)
    check_layout(records, spec)
    assert total(records) == measured
    replaced = sum(1 for a, b in pairwise(samples) if a.serial != b.serial)
    replacement_gaps = [r for r in records if isinstance(r, Gap) and "replacement" in r.reasons]
    assert bool(replacement_gaps) == bool(replaced)


def test_cumulative_rounding_splits_without_losing_a_wh():
    spec = MeterSpec("m1", "generation", L, max_gap_intervals=3)
    _, records = advance(spec, None, [gen(T0, 0), gen(T0 + 3 * L, 1000)])
    assert [r.energy["generated_wh"] for r in records] == [333, 333, 334]
    assert [r.start for r in records] == [T0, T0 + L, T0 + 2 * L]


def test_apportioning_between_samples_that_straddle_a_boundary():
    spec = MeterSpec("m1", "generation", L)
    # 60 Wh per minute; samples 30 s off the boundaries
    samples = [gen(T0 + 30 + 60 * i, 1000 + 60 * i) for i in range(12)]
    _, records = advance(spec, None, samples)
    assert [(r.start, r.energy["generated_wh"]) for r in records] == [(T0 + L, 300)]


def test_no_interval_until_a_sample_at_or_after_its_end():
    spec = MeterSpec("m1", "generation", L)
    state, records = advance(spec, None, [gen(T0, 0), gen(T0 + L - 1, 299)])
    assert records == []
    state, records = advance(spec, state, [gen(T0 + L, 300)])
    assert [(r.start, r.energy) for r in records] == [(T0, {"generated_wh": 300})]


def test_a_long_silence_is_a_recorded_gap_with_the_energy_that_passed():
    spec = MeterSpec("m1", "generation", L)  # gap: more than 600 s between samples
    samples = [gen(T0, 0), gen(T0 + 60, 10), gen(T0 + 661, 500), gen(T0 + 1000, 600), gen(T0 + 1200, 700),
               gen(T0 + 1500, 800)]
    _, records = advance(spec, None, samples)
    at_900 = 500 + (600 - 500) * (900 - 661) // (1000 - 661)  # the first boundary after the silence
    assert records == [Gap("m1", T0, T0 + 3 * L, {"generated_wh": at_900}, ("missing_samples",)),
                       Interval("m1", "generation", T0 + 3 * L, L, {"generated_wh": 700 - at_900}),
                       Interval("m1", "generation", T0 + 4 * L, L, {"generated_wh": 100})]
    assert total(records) == 800


def test_rollover_of_a_32_bit_register_and_an_implausible_backward_step():
    spec = MeterSpec("m1", "generation", L, modulus={"generated_wh": 2**32}, max_power_w=10_000)
    _, records = advance(spec, None, [gen(T0, 2**32 - 100), gen(T0 + L, 200)])
    assert [r.energy["generated_wh"] for r in records] == [300]
    # 10 kW for 300 s is at most 834 Wh: a "rollover" of 2**31 Wh is a replaced meter
    _, records = advance(spec, None, [gen(T0, 2**31), gen(T0 + L, 5), gen(T0 + 2 * L, 105)])
    assert [type(r).__name__ for r in records] == ["Gap", "Interval"] and records[0].reasons == ("replacement",)
    assert records[1].energy == {"generated_wh": 100}  # the new meter's baseline is its first reading


def test_serial_change_is_a_replacement_even_if_the_counter_went_up():
    spec = MeterSpec("m1", "generation", L)
    samples = [gen(T0, 100, "A"), gen(T0 + L, 200, "A"), gen(T0 + L + 60, 5_000, "B"), gen(T0 + 2 * L, 5_010, "B"),
               gen(T0 + 3 * L, 5_100, "B")]
    _, records = advance(spec, None, samples)
    assert records[0] == Interval("m1", "generation", T0, L, {"generated_wh": 100})
    assert records[1] == Gap("m1", T0 + L, T0 + 2 * L, {"generated_wh": 0 + 10}, ("replacement",))
    assert records[2] == Interval("m1", "generation", T0 + 2 * L, L, {"generated_wh": 90})


def test_battery_soc_is_the_last_sample_at_or_before_the_interval_end():
    spec = MeterSpec("b1", "battery", L)

    def bat(t, charged, soc=None):
        return Sample("b1", "battery", t, {"charged_wh": charged, "discharged_wh": 0},
                      {"soc_permille": soc} if soc is not None else {})

    samples = [bat(T0, 0, 500), bat(T0 + 200, 100, 520), bat(T0 + 320, 160), bat(T0 + 2 * L, 300, 600)]
    _, records = advance(spec, None, samples)
    assert [r.gauges for r in records] == [{"soc_permille": 520}, {"soc_permille": 600}]
    assert sum(r.energy["charged_wh"] for r in records) == 300


def test_commissioning_mid_interval_starts_at_the_next_boundary_and_stale_samples_are_reported():
    spec = MeterSpec("m1", "generation", L)
    _, records = advance(spec, None, [gen(T0 + 100, 0), gen(T0 + L, 200), gen(T0 + L, 200),
                                      gen(T0 + 2 * L, 500)])
    assert [type(r).__name__ for r in records] == ["Discarded", "Interval"]
    assert records[1].start == T0 + L and records[1].energy == {"generated_wh": 300}


def test_spec_and_samples_are_checked():
    with pytest.raises(ValueError, match="interval"):
        MeterSpec("m1", "generation", 600)
    with pytest.raises(ValueError, match="fed to"):
        advance(MeterSpec("m2", "generation", L), None, [gen(T0, 0)])
