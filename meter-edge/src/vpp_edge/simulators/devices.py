"""Simulated devices: a physical model integrated on a fixed time grid, exposed as the words of a register map.

Energy is integrated in integer mWh over fixed 60-second steps of simulated time anchored at multiples of the step,
so the registers at time t depend only on (seed, start, t), not on when or how often they were polled. Counters
only increase. Raw values are what the device would hold before scaling (SunSpec integers with their scale-factor
registers, Eastron float32 in kWh/W/V/A/Hz), encoded with the same map the drivers read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vpp_edge.maps import RegisterMap, load_map
from vpp_edge.protocols.registers import encode_raw
from vpp_edge.simulators.battery import Battery, BatteryState
from vpp_edge.simulators.load_profile import HouseholdLoad
from vpp_edge.simulators.noise import unit_noise
from vpp_edge.simulators.solar import PvPlant

STEP = 60


class RegisterImage:
    """The words of one device per function table, from the lowest to the highest address its map uses."""

    def __init__(self, regmap: RegisterMap, extra_words: dict[tuple[str, int], int] | None = None) -> None:
        self.map = regmap
        self.extra_words = extra_words or {}
        self.base: dict[str, int] = {}
        self.words: dict[str, list[int]] = {}
        for function in ("holding", "input"):
            rows = [r for r in regmap.registers if r.function == function]
            extras = [a for (f, a) in self.extra_words if f == function]
            if not rows and not extras:
                continue
            low = min([r.address for r in rows] + extras)
            high = max([r.end for r in rows] + [a + 1 for a in extras])
            self.base[function] = low
            self.words[function] = [0] * (high - low)
        for (function, address), word in self.extra_words.items():
            self.words[function][address - self.base[function]] = word

    def set(self, channel: str, raw) -> None:
        row = self.map.by_channel[channel]
        offset = row.address - self.base[row.function]
        self.words[row.function][offset: offset + row.length] = encode_raw(row, raw)

    def update(self, raw_values: dict) -> None:
        for channel, raw in raw_values.items():
            self.set(channel, raw)


@dataclass
class Integrator:
    """Left-Riemann integration of a power function in integer mWh on a fixed grid."""

    start: float
    t: int = field(init=False)

    def __post_init__(self) -> None:
        self.t = int(self.start // STEP * STEP)

    def steps_until(self, now: float):
        target = int(now // STEP * STEP)
        while self.t < target:
            yield self.t
            self.t += STEP


class SimulatedDevice:
    kind: str
    map_name: str

    def __init__(self, start: float, seed: int, serial: str) -> None:
        self.seed = seed
        self.serial = serial
        self.map = load_map(self.map_name)
        self.image = RegisterImage(self.map, self.extra_words())
        self.grid = Integrator(start)
        self.image.update(self.static_values())

    def extra_words(self) -> dict[tuple[str, int], int]:
        return {}

    def static_values(self) -> dict:
        return {}

    def values_at(self, now: float) -> dict:
        raise NotImplementedError

    def refresh(self, now: float) -> RegisterImage:
        self.image.update(self.values_at(now))
        return self.image

    def _mains(self, now: float) -> tuple[int, int]:
        """Voltage in 0.1 V and frequency in 0.01 Hz around 230 V / 50 Hz."""
        k = int(now // STEP)
        return (2300 + int(60 * unit_noise(self.seed, "volt", k)) - 30,
                5000 + int(10 * unit_noise(self.seed, "hz", k)) - 5)


def _sunspec_common(model_id: int, model_length: int, end_address: int) -> dict[tuple[str, int], int]:
    """Model headers the maps do not read but a SunSpec client walking the models would."""
    return {("holding", 40003): 66, ("holding", 40070): model_id, ("holding", 40071): model_length,
            ("holding", end_address): 0xFFFF, ("holding", end_address + 1): 0}


class SimulatedPvInverter(SimulatedDevice):
    kind = "generation"
    map_name = "sunspec_inverter_103"

    def __init__(self, start: float, seed: int, serial: str, plant: PvPlant, initial_wh: int = 0) -> None:
        self.plant = plant
        self.energy_mwh = initial_wh * 1000
        super().__init__(start, seed, serial)

    def extra_words(self):
        return _sunspec_common(103, 50, 40122)

    def static_values(self):
        return {"sunspec_marker": "SunS", "common_model_id": 1, "serial": self.serial, "inverter_model_id": 103,
                "A_SF": -2, "V_SF": -1, "W_SF": 0, "Hz_SF": -2, "WH_SF": 0}

    def values_at(self, now: float) -> dict:
        for t in self.grid.steps_until(now):
            self.energy_mwh += self.plant.power_w(t) * STEP * 1000 // 3600
        watts = self.plant.power_w(now)
        volts, hz = self._mains(now)
        return {"power_w": watts, "WH": self.energy_mwh // 1000, "voltage_dv": volts, "frequency_mhz": hz,
                "current_ma": watts * 1000 // (3 * volts)}  # 0.01 A: W / (3 phases × V/10) × 100


class SimulatedBattery(SimulatedDevice):
    kind = "battery"
    map_name = "sunspec_storage_802"

    def __init__(self, start: float, seed: int, serial: str, battery: Battery, initial_soc_permille: int = 500
                 ) -> None:
        self.battery = battery
        self.state = BatteryState(stored_mwh=battery.usable_mwh * initial_soc_permille // 1000)
        super().__init__(start, seed, serial)

    def extra_words(self):
        words = _sunspec_common(701, 153, 40289)
        words.update({("holding", 40226): 62})
        return words

    def static_values(self):
        return {"sunspec_marker": "SunS", "common_model_id": 1, "serial": self.serial, "ac_model_id": 701,
                "battery_model_id": 802, "A_SF": -2, "V_SF": -1, "Hz_SF": -2, "W_SF": 0, "TotWh_SF": 0,
                "SoC_SF": -1, "SoH_SF": -1, "soh_permille": self.battery.soh_permille}

    def values_at(self, now: float) -> dict:
        for t in self.grid.steps_until(now):
            self.battery.step(self.state, self.battery.setpoint_w(t), STEP)
        volts, hz = self._mains(now)
        return {"power_w": self.state.power_w, "TotWhAbs": self.state.charged_mwh // 1000,
                "TotWhInj": self.state.discharged_mwh // 1000, "soc_permille": self.battery.soc_permille(self.state),
                "voltage_dv": volts, "frequency_mhz": hz, "current_ma": self.state.power_w * 1000 // volts}


class SimulatedLoadMeter(SimulatedDevice):
    kind = "load"
    map_name = "eastron_sdm630"

    def __init__(self, start: float, seed: int, serial: int, load: HouseholdLoad, initial_wh: int = 0) -> None:
        self.load = load
        self.energy_mwh = initial_wh * 1000
        super().__init__(start, seed, str(serial))

    def static_values(self):
        return {"serial": int(self.serial), "export_kwh": 0.0}

    def values_at(self, now: float) -> dict:
        for t in self.grid.steps_until(now):
            self.energy_mwh += self.load.power_w(t) * STEP * 1000 // 3600
        watts = self.load.power_w(now)
        volts, hz = self._mains(now)
        # Eastron keeps kWh in float32: the meter's own resolution, which the driver rounds once to Wh.
        return {"power_w": float(watts), "import_kwh": self.energy_mwh / 1_000_000, "voltage_dv": volts / 10,
                "current_ma": watts / (volts / 10), "frequency_mhz": hz / 100}
