"""A battery in integer milliwatt-hours: charge and discharge efficiencies, self-discharge, a daily schedule.

Energy bookkeeping (all integers, rounded against the battery so it never gains energy from rounding):
- charging with AC energy E stores E × η_charge; the AC energy counts in ``charged``;
- discharging AC energy E takes E / η_discharge from the store; the AC energy counts in ``discharged``;
- self-discharge removes stored × rate_ppm_per_day × dt / 86,400 s / 10⁶ every step;
- the store stays within [0, usable capacity] where usable capacity = nameplate × SoH: the charge or discharge
  power is limited at the bounds, never the state.
SoC in permille = stored / usable capacity. Schedule (local standard time): charge 10:00-15:00 from the midday PV
surplus, discharge 17:00-23:00 into the evening load, idle otherwise; the powers are drawn from the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

from vpp_edge.simulators.noise import unit_noise

PPM = 1_000_000


@dataclass
class BatteryState:
    stored_mwh: int
    charged_mwh: int = 0
    discharged_mwh: int = 0
    self_discharged_mwh: int = 0
    power_w: int = 0          # last AC power, + discharge / - charge


@dataclass(frozen=True)
class Battery:
    capacity_wh: int = 10_000
    max_power_w: int = 5_000
    charge_efficiency_ppm: int = 950_000
    discharge_efficiency_ppm: int = 950_000
    self_discharge_ppm_per_day: int = 1_000
    soh_permille: int = 980
    utc_offset_h: int = 1
    seed: int = 1

    @property
    def usable_mwh(self) -> int:
        return self.capacity_wh * self.soh_permille  # Wh × permille = mWh

    def setpoint_w(self, t: float) -> int:
        """+ discharge, - charge."""
        hour = ((t + self.utc_offset_h * 3600) % 86_400) // 3600
        if 10 <= hour < 15:
            return -int(1_500 + 1_500 * unit_noise(self.seed, "charge", int(t // 86_400)))
        if 17 <= hour < 23:
            return int(800 + 1_200 * unit_noise(self.seed, "discharge", int(t // 86_400)))
        return 0

    def step(self, state: BatteryState, setpoint_w: int, dt: int) -> None:
        setpoint_w = max(-self.max_power_w, min(self.max_power_w, setpoint_w))
        ac_mwh = abs(setpoint_w) * dt * 1000 // 3600
        if setpoint_w < 0:
            room = self.usable_mwh - state.stored_mwh
            ac_mwh = min(ac_mwh, room * PPM // self.charge_efficiency_ppm)
            state.stored_mwh += ac_mwh * self.charge_efficiency_ppm // PPM
            state.charged_mwh += ac_mwh
            state.power_w = -(ac_mwh * 3600 // (dt * 1000))
        elif setpoint_w > 0:
            ac_mwh = min(ac_mwh, state.stored_mwh * self.discharge_efficiency_ppm // PPM)
            state.stored_mwh -= -(-ac_mwh * PPM // self.discharge_efficiency_ppm)  # ceil: the store pays rounding
            state.discharged_mwh += ac_mwh
            state.power_w = ac_mwh * 3600 // (dt * 1000)
        else:
            state.power_w = 0
        loss = -(-state.stored_mwh * self.self_discharge_ppm_per_day * dt // (86_400 * PPM))
        loss = min(loss, state.stored_mwh)
        state.stored_mwh -= loss
        state.self_discharged_mwh += loss

    def soc_permille(self, state: BatteryState) -> int:
        return state.stored_mwh * 1000 // self.usable_mwh
