"""A household load following the BDEW standard load profile H0, scaled to an annual consumption.

Shape: the published H0 quarter-hour values (0.1 W per 1,000 kWh/a) for winter / summer / transition and
workday / Saturday / Sunday, in h0_profile.json (taken from demandlib 0.2.2's copy of the BDEW table, see the file's
"about"). Dynamisation: the BDEW fourth-order polynomial of the day of the year,
F(d) = −3.92·10⁻¹⁰ d⁴ + 3.2·10⁻⁷ d³ − 7.02·10⁻⁵ d² + 2.1·10⁻³ d + 1.24. Profile time is local standard time
(UTC + `utc_offset_h`, no daylight saving, as the BDEW profiles are defined). Holidays are not modelled. A seeded
noise of ±`noise` per quarter-hour makes households differ; its mean is zero, so the year still sums to about the
annual consumption.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from vpp_edge.simulators.noise import unit_noise

PROFILE_FILE = Path(__file__).resolve().parent / "h0_profile.json"


@cache
def h0_table() -> dict[str, dict[str, list[int]]]:
    return json.loads(PROFILE_FILE.read_text())["profiles"]


def season(day: datetime) -> str:
    md = (day.month, day.day)
    if md >= (11, 1) or md <= (3, 20):
        return "winter"
    if (5, 15) <= md <= (9, 14):
        return "summer"
    return "transition"


def day_type(day: datetime) -> str:
    return {5: "saturday", 6: "sunday"}.get(day.weekday(), "workday")


def dynamisation(day_of_year: int) -> float:
    d = day_of_year
    return round(-3.92e-10 * d**4 + 3.2e-7 * d**3 - 7.02e-5 * d**2 + 2.1e-3 * d + 1.24, 4)


@dataclass(frozen=True)
class HouseholdLoad:
    annual_kwh: int = 3500
    utc_offset_h: int = 1
    noise: float = 0.15
    seed: int = 1

    def power_w(self, t: float) -> int:
        local = datetime.fromtimestamp(t, UTC) + timedelta(hours=self.utc_offset_h)
        quarter = local.hour * 4 + local.minute // 15
        shape = h0_table()[season(local)][day_type(local)][quarter] / 10  # W per 1,000 kWh/a
        factor = dynamisation(local.timetuple().tm_yday)
        wiggle = 1 + self.noise * (2 * unit_noise(self.seed, "load", int(t // 900)) - 1)
        return int(shape * self.annual_kwh / 1000 * factor * wiggle)
