"""Pulse inputs: impulse constants as exact rationals, integer counters that never decrease."""

from fractions import Fraction

import pytest
from vpp_edge.drivers.pulse import FilePulseSource, PulseCounter, PulseDriver, impulse_constant
from vpp_edge.errors import ConfigError, TransportError


@pytest.mark.parametrize(("medium", "text", "per_impulse"), [
    ("electricity", "1 Wh/imp", 1), ("electricity", "10 Wh/imp", 10), ("electricity", "100 Wh/imp", 100),
    ("electricity", "1000 Wh/imp", 1000), ("electricity", "1000 imp/kWh", 1), ("electricity", "800 imp/kWh",
                                                                                 Fraction(5, 4)),
    ("heat", "1 kWh/imp", 1000), ("water", "1 L/imp", 1), ("water", "10 L/imp", 10), ("gas", "0.01 m3/imp", 10),
    ("gas", "1 m3/imp", 1000),
])
def test_impulse_constants(medium, text, per_impulse):
    assert impulse_constant(medium, text) == per_impulse


@pytest.mark.parametrize(("medium", "text"), [
    ("electricity", "10 L/imp"), ("gas", "1 Wh/imp"), ("water", "0 L/imp"), ("steam", "1 Wh/imp"),
    ("electricity", "ten Wh/imp"), ("electricity", "10 Wh"),
])
def test_bad_constants_are_config_errors(medium, text):
    with pytest.raises(ConfigError):
        impulse_constant(medium, text)


def test_fractional_constant_floors_and_carries():
    counter = PulseCounter(impulse_constant("electricity", "800 imp/kWh"))
    assert [counter.total(n) for n in (0, 1, 3, 4, 801)] == [0, 1, 3, 5, 1001]  # 801 × 1.25 = 1001.25 → 1001


def test_counter_restart_keeps_the_total_increasing():
    counter = PulseCounter(Fraction(10), initial_total=5_000)
    assert counter.total(100) == 6_000
    assert counter.total(3) == 6_030       # the counting device rebooted: 100 + 3 pulses so far
    assert counter.total(10) == 6_100
    with pytest.raises(TransportError):
        counter.total(-1)


async def test_pulse_driver_from_a_counter_file(tmp_path, caplog):
    path = tmp_path / "count0"
    path.write_text("42\n")
    driver = PulseDriver("pv-s0", "generation", "generated_wh", FilePulseSource(path), "10 Wh/imp",
                         initial_wh=1_000_000)
    sample = await driver.read(1_700_000_000)
    assert sample.counters == {"generated_wh": 1_000_420}
    path.write_text("garbage")
    with pytest.raises(TransportError, match="not an integer"):
        await driver.read(0)
    path.unlink()
    with pytest.raises(TransportError):
        await driver.read(0)
    path.write_text("43")
    assert (await driver.read(0)).counters == {"generated_wh": 1_000_430}


def test_pulse_driver_only_for_one_wh_counter():
    with pytest.raises(ConfigError, match="PulseCounter"):
        PulseDriver("w", "load", "consumed_wh", FilePulseSource("/dev/null"), "1 L/imp", medium="water")
    with pytest.raises(ConfigError, match="exactly one counter"):
        PulseDriver("g", "grid", "imported_wh", FilePulseSource("/dev/null"), "1 Wh/imp")
