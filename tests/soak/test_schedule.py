"""The soak's schedule: reading i is due at time_of(i), count_by(t) counts the readings due by t — the two must
agree, step by step, or latencies would be measured from the wrong instant."""

import numpy as np
import pytest

from bench.soak.schedule import Schedule


@pytest.mark.parametrize("schedule", [Schedule.constant(1111, 60), Schedule.ramp(500, 500, 2000, 7.5)])
def test_count_by_and_time_of_agree(schedule):
    for i in [0, 1, 2, 999, 3750, 3751, schedule.total // 2, schedule.total - 1]:
        due = schedule.time_of(i)
        assert schedule.count_by(due) >= i + 1          # reading i is due at its own instant...
        assert schedule.count_by(due - 1e-6) <= i       # ...and not a moment before
    assert schedule.count_by(schedule.seconds + 1) == schedule.total
    indices = np.arange(0, schedule.total, 97)
    assert np.allclose(schedule.times_of(indices), [schedule.time_of(int(i)) for i in indices])


def test_a_ramp_steps_up_and_each_step_has_its_rate():
    ramp = Schedule.ramp(500, 500, 2000, 60)
    assert [rate for rate, _ in ramp.steps] == [500, 1000, 1500, 2000]
    assert ramp.total == 60 * (500 + 1000 + 1500 + 2000)
    first, end = ramp.step_range(2)
    assert (first, end) == (60 * 1500, 60 * 3000)
    assert ramp.step_of(first) == 2 and ramp.step_of(first - 1) == 1
    assert ramp.time_of(first) == pytest.approx(120.0)
    assert ramp.time_of(first + 1500) == pytest.approx(121.0)   # 1,500 readings a second in step 2


def test_a_schedule_refuses_a_step_without_rate_or_time():
    with pytest.raises(ValueError):
        Schedule(((0, 60),))
    with pytest.raises(ValueError):
        Schedule(((1000, 0),))
