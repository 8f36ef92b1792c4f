"""One simulated day of a site (PV, battery, load), signed by the meters: the same input for every backend.

Integer profiles: PV a parabola between 06:00 and 20:00 peaking at 13:00; the battery charges from PV
surplus 10:00-15:00 and discharges 18:00-22:00; the load has a base and an evening peak.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec

from .conftest import BATTERY, Meter

INTERVAL = 900


@dataclass
class SiteDay:
    site_id: str
    owner: str                       # account, e.g. "Org1MSP:alice"
    day_start: int                   # UTC midnight
    pv_peak_w: int = 4_000
    meters: dict[str, Meter] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for suffix in ("gen", "bat", "load"):
            self.meters[suffix] = Meter(f"m-{self.site_id}-{suffix}", ec.generate_private_key(ec.SECP256R1()))

    def registrations(self) -> list[tuple[str, list]]:
        calls: list[tuple[str, list]] = [("RegisterSite", [self.site_id, self.owner, "Utrecht"])]
        for suffix, kind, power in (("gen", "generator", 5_000), ("bat", "battery", 5_000), ("load", "load", 8_000)):
            asset = f"{self.site_id}-{suffix}"
            calls.append(("RegisterAsset", [asset, self.site_id, kind, power, BATTERY if kind == "battery" else {}]))
            calls.append(("RegisterMeter", [self.meters[suffix].meter_id, asset, INTERVAL,
                                            self.meters[suffix].public_pem]))
        return calls

    def readings(self) -> list[dict]:
        signed = []
        soc = 200  # permille
        for i in range(86_400 // INTERVAL):
            start = self.day_start + i * INTERVAL
            minute = i * INTERVAL // 60
            offset = minute - 13 * 60  # minutes from 13:00
            pv_w = max(0, self.pv_peak_w * (420 * 420 - offset * offset) // (420 * 420)) if 360 <= minute < 1200 else 0
            load_w = 300 + (1_500 if 18 * 60 <= minute < 22 * 60 else 0)
            charge_w = min(2_000, max(0, pv_w - load_w)) if 10 * 60 <= minute < 15 * 60 and soc < 900 else 0
            discharge_w = 1_500 if 18 * 60 <= minute < 22 * 60 and soc > 150 else 0
            charge, discharge = charge_w * INTERVAL // 3600, discharge_w * INTERVAL // 3600
            stored = charge * 95 // 100 - discharge * 100 // 95
            soc = max(100, min(950, soc + stored * 1000 // BATTERY["capacity_wh"]))
            signed.append(self.meters["gen"].sign("generation", start, wh=pv_w * INTERVAL // 3600))
            signed.append(self.meters["bat"].sign("battery", start, charge_wh=charge, discharge_wh=discharge,
                                                  soc_permille=soc))
            signed.append(self.meters["load"].sign("load", start, wh=load_w * INTERVAL // 3600))
        return signed
