"""A PV plant's AC power from a documented clear-sky model, with seeded clouds.

- Sun position: NOAA's general solar position equations (fractional-year series for the equation of time and the
  declination; NOAA Global Monitoring Laboratory, "General Solar Position Calculations"), good to about 0.5°.
- Clear-sky global horizontal irradiance: Haurwitz (1945), GHI = 1098 · cos z · exp(−0.059 / cos z) W/m² for a sun
  above the horizon (the form pvlib.clearsky.haurwitz uses).
- AC power = kWp × GHI / 1000 W/m² × performance ratio × cloud factor, clipped to the inverter's AC rating. The
  panels are treated as horizontal (GHI), which under-states a tilted roof in winter and is close in summer: a
  clear 21 June at 52° N gives about 6.9 kWh per kWp, a clear 21 December about 0.8 (see the simulator tests).
- Clouds: each day draws a weather type from the seed (clear 40 %, mixed 35 %, overcast 25 %); within a day a
  smooth seeded noise with 10-minute knots modulates the clear-sky power (mixed: 0.25..1.0, overcast: 0.15..0.4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from vpp_edge.simulators.noise import smooth_noise, unit_noise

DAY = 86_400


def cos_zenith(t: float, latitude: float, longitude: float) -> float:
    """Cosine of the solar zenith angle at epoch second `t` (UTC) for a place in degrees (east positive)."""
    day_of_year = datetime.fromtimestamp(t, UTC).timetuple().tm_yday - 1
    hour = (t % DAY) / 3600
    gamma = 2 * math.pi / 365 * (day_of_year + (hour - 12) / 24)
    eqtime = 229.18 * (0.000075 + 0.001868 * math.cos(gamma) - 0.032077 * math.sin(gamma)
                       - 0.014615 * math.cos(2 * gamma) - 0.040849 * math.sin(2 * gamma))
    decl = (0.006918 - 0.399912 * math.cos(gamma) + 0.070257 * math.sin(gamma) - 0.006758 * math.cos(2 * gamma)
            + 0.000907 * math.sin(2 * gamma) - 0.002697 * math.cos(3 * gamma) + 0.00148 * math.sin(3 * gamma))
    true_solar_minutes = hour * 60 + eqtime + 4 * longitude
    hour_angle = math.radians(true_solar_minutes / 4 - 180)
    lat = math.radians(latitude)
    return math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * math.cos(hour_angle)


def haurwitz_ghi(cos_z: float) -> float:
    """Clear-sky global horizontal irradiance in W/m² (0 with the sun below the horizon)."""
    if cos_z <= 0.01:
        return 0.0
    return 1098.0 * cos_z * math.exp(-0.059 / cos_z)


@dataclass(frozen=True)
class PvPlant:
    kwp: float = 10.0
    latitude: float = 52.1
    longitude: float = 5.1
    performance_ratio: float = 0.8
    ac_rating_w: int | None = None       # inverter clipping, default the kWp
    seed: int = 1
    clouds: bool = True

    def cloud_factor(self, t: float) -> float:
        if not self.clouds:
            return 1.0
        day = int(t // DAY)
        weather = unit_noise(self.seed, "weather", day)
        wiggle = smooth_noise(self.seed, f"clouds-{day}", t, 600)
        if weather < 0.40:
            return 0.95 + 0.05 * wiggle
        if weather < 0.75:
            return 0.25 + 0.75 * wiggle
        return 0.15 + 0.25 * wiggle

    def power_w(self, t: float) -> int:
        ghi = haurwitz_ghi(cos_zenith(t, self.latitude, self.longitude))
        watts = self.kwp * ghi * self.performance_ratio * self.cloud_factor(t)
        limit = self.ac_rating_w if self.ac_rating_w is not None else self.kwp * 1000
        return int(min(watts, limit))
