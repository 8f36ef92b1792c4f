"""Sites of simulated devices: a PV inverter, a battery and a household load meter each, parameters drawn from
the seed so that sites differ but the same seed always gives the same sites."""

from __future__ import annotations

from dataclasses import dataclass

from vpp_edge.simulators.battery import Battery
from vpp_edge.simulators.devices import SimulatedBattery, SimulatedDevice, SimulatedLoadMeter, SimulatedPvInverter
from vpp_edge.simulators.load_profile import HouseholdLoad
from vpp_edge.simulators.noise import unit_noise
from vpp_edge.simulators.solar import PvPlant

PV_UNIT, BATTERY_UNIT, LOAD_UNIT = 1, 2, 3


@dataclass(frozen=True)
class SiteDevice:
    device: str
    unit_id: int
    sim: SimulatedDevice

    @property
    def kind(self) -> str:
        return self.sim.kind

    @property
    def map_name(self) -> str:
        return self.sim.map_name


def build_site(index: int, seed: int, start: float) -> list[SiteDevice]:
    def draw(stream: str) -> float:
        return unit_noise(seed, f"site{index}-{stream}", 0)

    site_seed = seed * 1000 + index
    plant = PvPlant(kwp=round(4 + 8 * draw("kwp"), 1), latitude=52.1 + draw("lat"), longitude=5.1 + draw("lon"),
                    seed=site_seed)
    battery = Battery(capacity_wh=5_000 + 1_000 * int(10 * draw("cap")), seed=site_seed)
    load = HouseholdLoad(annual_kwh=2_500 + int(2_500 * draw("annual")), seed=site_seed)
    name = f"site{index:02d}"
    pv = SimulatedPvInverter(start, site_seed, f"SIM-PV-{site_seed}", plant, initial_wh=int(1_000_000 * draw("pv0")))
    bat = SimulatedBattery(start, site_seed, f"SIM-BAT-{site_seed}", battery,
                           initial_soc_permille=300 + int(400 * draw("soc")))
    meter = SimulatedLoadMeter(start, site_seed, 10_000_000 + site_seed, load,
                               initial_wh=int(5_000_000 * draw("load0")))
    return [SiteDevice(f"{name}-pv", PV_UNIT, pv), SiteDevice(f"{name}-battery", BATTERY_UNIT, bat),
            SiteDevice(f"{name}-load", LOAD_UNIT, meter)]
