"""Tstorage backing for one battery: deliverable energy, the reserve, and verification burns (DESIGN §5, §6).

Pure domain code: no ledger, no stub, integers only (Wh, mWh, permille, ppm, seconds), no clock, no randomness.
The transaction layer keeps one :class:`BatteryState` per battery, calls :func:`on_battery_reading` once per
accepted battery reading (after its own token rules have minted Tstorage for the charge and burned Tstorage for
the discharge where the energy went), and turns the returned actions into ledger writes and events.

What happens per reading, in words (BATTERY.md has the formulas and the reasons):

1. *Measure.* The SoC at an interval boundary is the BMS sample at that instant, or the linear interpolation of
   the samples either side of it (a boundary not bracketed within ``max_soc_gap_s`` is not measured). It gives
   the measured deliverable energy ``(SoC − SoC_min) × capacity × SoH × η_discharge``.
2. *Estimate.* One SoC sample carries the BMS's noise (±0.5 % SoC is ±45 Wh on a 10 kWh pack, more than any
   reasonable tolerance), so deliverable energy is estimated by a small Kalman filter: predicted from the metered
   flows on the token scale (``+tstorage_for_charge(C) − D``), corrected by learned charge and discharge
   efficiency errors, minus the expected idle loss; corrected by each measurement. It restarts after a gap.
3. *Verify and burn.* A measured boundary is *verified* when the estimate's standard deviation is at most half
   the tolerance. Outstanding Tstorage above ``(estimate − 3σ) + tolerance`` is burned: reserved first, then the
   owner's free tokens, then the other holders pro rata (largest remainder, ties by holder id).
4. *Learn the loss rate.* Idle windows (no charge, no discharge) give a pooled least-squares slope of measured
   deliverable energy over time, in Wh/day; it is blended with the chemistry's self-discharge prior.
5. *Reserve and release.* The owner's Tstorage expected to need burning over the horizon (idle loss at the learned
   rate, the learned efficiency shortfall on a horizon's average flows, and modelled capacity fade not yet
   confirmed by a measured SoH, less the headroom below the burn threshold) is reserved; a reserve well above
   that is released at a verified boundary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from types import MappingProxyType

PPM = 1_000_000
PERMILLE = 1000
SECONDS_PER_DAY = 86_400
SECONDS_PER_YEAR = 31_557_600  # 365.25 days
MAX_JSON_INT = 2**53 - 1  # every stored integer stays below this for capacity ≤ 10^9 Wh (JSON clients, JS)

DEFAULT_RESERVE_HORIZON_S = SECONDS_PER_DAY
DEFAULT_MAX_SOC_GAP_S = 1800
DEFAULT_SOC_NOISE_PERMILLE = 3  # standard deviation of one BMS SoC reading: ±0.5 % uniform noise is 2.9 ‰

# Tolerance: the outstanding Tstorage allowed above the deliverable energy. A few Wh for integer rounding (tokens,
# interpolation and deliverable energy are each floored) plus 2 ‰ of capacity: 1 ‰ is the SoC quantisation
# step, the other 1 ‰ what is left of BMS noise and model error after filtering. Burns compare with a lower
# bound of the estimate (− 3σ) and only when σ ≤ tolerance/2, so noise is paid by the owner, not by buyers.
TOLERANCE_FIXED_WH = 5
TOLERANCE_PERMILLE_OF_CAPACITY = 2

# Filter settings (BATTERY.md, "Estimate"). Standard deviations in ppm (of capacity, or of a flow).
FLOW_NOISE_PPM = 2_000  # random error of one interval's flow on the token scale: 0.2 % of the flow
BIAS_PRIOR_SD_PPM = 10_000  # registered efficiencies may be off by 1 % (each direction) for this battery's duty
BIAS_DRIFT_SD_PPM = 3_000  # the efficiency error moves with power and SoC: 0.3 % per active interval
MAX_BIAS_PPM = 200_000
BASE_DRIFT_PPM_PER_5MIN = 60  # unmodelled random drift of the deliverable energy: 60 ppm of capacity per 5 min
VERIFY_MAX_SIGMA_FRACTION = 2  # verified only when the estimate's standard deviation ≤ tolerance / 2
BURN_CONFIDENCE_SIGMAS = 3  # burns compare with the estimate minus 3 standard deviations (a lower bound)
RESERVE_CONFIDENCE_SIGMAS = 2  # the reserve covers the learned efficiency shortfall plus 2 standard deviations

# Loss-rate learning (BATTERY.md, "Loss rate").
PRIOR_NIGHTS = 3  # the chemistry prior weighs as much as 3 idle nights (10 h each) of 5-minute readings
MAX_HISTORY_NIGHTS = 60  # older idle windows fade out: the pooled statistics are capped at 60 nights' weight
MIN_IDLE_WINDOW_S = 3600  # shorter idle windows are skipped (relaxation after charge/discharge, little signal)
MAX_IDLE_WINDOW_S = SECONDS_PER_DAY  # a longer idle run is split in days (bounded integers)
MAX_LOSS_PERMILLE_PER_DAY = 200  # 20 % of capacity a day: above that something is broken, not self-discharging

# Reserve hysteresis: top up to target + 1/8, release only above target + 1/2 (limits events per day).
RESERVE_HEADROOM_DIVISOR = 8
RELEASE_SLACK_DIVISOR = 2

_NIGHT_S = 36_000  # 10 hours
_NIGHT_SAMPLES = _NIGHT_S // 300 + 1
_NIGHT_SXX = _NIGHT_SAMPLES * (_NIGHT_SAMPLES * _NIGHT_SAMPLES - 1) * 300 * 300 // 12  # Σ(t − t̄)² of one night


class Chemistry(StrEnum):
    NMC = "nmc"
    LFP = "lfp"
    LEAD_ACID = "lead_acid"
    VANADIUM_FLOW = "vanadium_flow"
    CUSTOM = "custom"

    @classmethod
    def parse(cls, name: str) -> Chemistry:
        """Case-insensitive; ``lead-acid`` and ``LEAD_ACID`` both work."""
        if not isinstance(name, str):
            raise ValueError(f"chemistry must be a string, got {type(name).__name__}")
        try:
            return cls(name.strip().lower().replace("-", "_").replace(" ", "_"))
        except ValueError:
            known = ", ".join(c.value for c in cls)
            raise ValueError(f"unknown chemistry {name!r}; known: {known}") from None


@dataclass(frozen=True, slots=True)
class ChemistryDefaults:
    """Typical values for a chemistry, metered on the AC side of the battery's inverter (what a VPP meters).

    Efficiencies are per direction: ``charge_eff = discharge_eff = √(round-trip efficiency)``. A battery metered on
    its DC terminals, or one with a datasheet, should register its own figures (every field can be overridden).
    """

    charge_eff_ppm: int
    discharge_eff_ppm: int
    self_discharge_ppm_per_day: int
    calendar_fade_ppm_per_year: int
    cycle_fade_ppm_per_efc: int
    soc_min_permille: int
    soc_max_permille: int
    sources: str


CHEMISTRY_DEFAULTS: Mapping[Chemistry, ChemistryDefaults] = MappingProxyType({
    Chemistry.NMC: ChemistryDefaults(
        charge_eff_ppm=948_683, discharge_eff_ppm=948_683,  # √0.90
        self_discharge_ppm_per_day=1_000,  # ≈3 %/month
        calendar_fade_ppm_per_year=20_000,  # 2 %/year
        cycle_fade_ppm_per_efc=50,  # 80 % after 4,000 equivalent full cycles
        soc_min_permille=50, soc_max_permille=950,
        sources=(
            "Round trip 90 % AC: Tesla Powerwall 2 AC datasheet (90 %, 3.3 kW charge/discharge); NREL ATB "
            "'Utility-Scale Battery Storage' assumes 85 %, PNNL-28866 (Mongird et al. 2019) ≈86 % for Li-ion — "
            "residential NMC taken at 90 %. Self-discharge: Battery University BU-802b gives 1–2 %/month for the "
            "cells plus ≈3 %/month for the protection circuit; 3 %/month is the midpoint of that 2–5 % range. "
            "Calendar fade: NREL BLAST-Lite NMC-graphite models (Smith et al., 'Life prediction model for "
            "grid-connected Li-ion battery energy storage system', ACC 2017) and Schmalstieg et al., J. Power "
            "Sources 257 (2014) give ≈1–3 %/year at 25 °C and mid SoC: midpoint 2 %/year. Cycle fade: residential "
            "NMC warranties and Preger et al., J. Electrochem. Soc. 167 (2020) 120532 (Sandia) put 80 % capacity "
            "at ≈3,000–5,000 cycles: 20 %/4,000 = 50 ppm per cycle. Window 5–95 %: typical BMS limits."
        ),
    ),
    Chemistry.LFP: ChemistryDefaults(
        charge_eff_ppm=948_683, discharge_eff_ppm=948_683,  # √0.90
        self_discharge_ppm_per_day=660,  # ≈2 %/month
        calendar_fade_ppm_per_year=15_000,  # 1.5 %/year
        cycle_fade_ppm_per_efc=33,  # 80 % after 6,000 equivalent full cycles
        soc_min_permille=50, soc_max_permille=1000,
        sources=(
            "Round trip: AC-coupled residential LFP systems are ≈88–92 % (DC ≥95 % on datasheets such as BYD "
            "Battery-Box); midpoint 90 %. Self-discharge: ≈1–3 %/month (Battery University BU-802b for Li-ion; "
            "LFP at the low end): midpoint 2 %/month. Calendar fade: Naumann et al., 'Analysis and modeling of "
            "calendar aging of a commercial LiFePO4/graphite cell', J. Energy Storage 17 (2018) 153–169, and "
            "NREL BLAST-Lite LFP models: ≈1–2 %/year at 25 °C: midpoint 1.5 %/year. Cycle fade: Preger et al. "
            "2020 (Sandia) — LFP fades least of LFP/NMC/NCA; datasheets give 6,000+ cycles to 80 %: 33 ppm per "
            "cycle. Window 5–100 %: LFP tolerates full charge; 5 % kept for BMS cut-off."
        ),
    ),
    Chemistry.LEAD_ACID: ChemistryDefaults(
        charge_eff_ppm=894_427, discharge_eff_ppm=894_427,  # √0.80
        self_discharge_ppm_per_day=1_300,  # ≈4 %/month
        calendar_fade_ppm_per_year=20_000,  # 2 %/year
        cycle_fade_ppm_per_efc=200,  # 80 % after 1,000 equivalent full cycles
        soc_min_permille=500, soc_max_permille=1000,
        sources=(
            "Round trip: 75–85 % (DOE/EPRI Electricity Storage Handbook, Sandia SAND2015-1002; PNNL-28866 2019 "
            "lists lead-acid below Li-ion): midpoint 80 %. Self-discharge: VRLA/AGM ≈3–5 %/month at 20–25 °C "
            "(Battery University BU-802b gives 5 %/month for lead acid): midpoint 4 %/month. Calendar fade: VRLA "
            "design life ≈8–12 years to 80 % capacity at 20–25 °C: 2 %/year. Cycle fade: ≈500–1,500 cycles at 50 % "
            "depth of discharge to 80 % capacity (manufacturer cycle-life curves): 20 %/1,000 = 200 ppm per cycle. "
            "Window 50–100 %: the usual 50 % depth-of-discharge limit for cycle life."
        ),
    ),
    Chemistry.VANADIUM_FLOW: ChemistryDefaults(
        charge_eff_ppm=836_660, discharge_eff_ppm=836_660,  # √0.70
        self_discharge_ppm_per_day=2_000,  # 0.2 %/day
        calendar_fade_ppm_per_year=5_000,  # 0.5 %/year
        cycle_fade_ppm_per_efc=10,  # 80 % after 20,000 cycles
        soc_min_permille=150, soc_max_permille=850,
        sources=(
            "Round trip 65–75 % AC including pumps (Skyllas-Kazacos et al., 'Progress in Flow Battery Research "
            "and Development', J. Electrochem. Soc. 158 (2011) R55; PNNL-28866 2019): midpoint 70 %. "
            "Self-discharge: electrolyte in the tanks keeps its charge; losses come from the stack's electrolyte, "
            "shunt currents and crossover — order of 0.1–0.3 %/day, very system-specific: 0.2 %/day, an estimate "
            "rather than a measured value. Calendar fade: electrolyte does not age, stacks and membranes do over "
            "a 20–25 year life: 0.5 %/year. Cycle fade: >10,000–20,000 cycles, capacity lost to crossover is "
            "recoverable by rebalancing: 10 ppm per cycle. Window 15–85 %: avoids gassing at the extremes."
        ),
    ),
})


@dataclass(frozen=True, slots=True)
class BatteryParams:
    """Registered parameters of one battery. Every value is an integer; construction validates them.

    ``commissioned_at`` is the epoch second the battery was first put in service (calendar fade starts there).
    The last four fields have defaults and tune the algorithm, not the battery.
    """

    capacity_wh: int
    soc_min_permille: int
    soc_max_permille: int
    charge_eff_ppm: int
    discharge_eff_ppm: int
    self_discharge_ppm_per_day: int
    calendar_fade_ppm_per_year: int
    cycle_fade_ppm_per_efc: int
    chemistry: Chemistry
    commissioned_at: int
    reserve_horizon_s: int = DEFAULT_RESERVE_HORIZON_S
    max_soc_gap_s: int = DEFAULT_MAX_SOC_GAP_S
    soc_noise_permille: int = DEFAULT_SOC_NOISE_PERMILLE
    tolerance_wh: int | None = None  # None: TOLERANCE_FIXED_WH + 2 ‰ of capacity

    def __post_init__(self) -> None:
        if isinstance(self.chemistry, str) and not isinstance(self.chemistry, Chemistry):
            object.__setattr__(self, "chemistry", Chemistry.parse(self.chemistry))
        if not isinstance(self.chemistry, Chemistry):
            raise ValueError(f"chemistry must be a Chemistry, got {type(self.chemistry).__name__}")
        limits = {
            "capacity_wh": (1, 10**9),
            "soc_min_permille": (0, 999),
            "soc_max_permille": (1, PERMILLE),
            "charge_eff_ppm": (1, PPM),
            "discharge_eff_ppm": (1, PPM),
            "self_discharge_ppm_per_day": (0, PPM),
            "calendar_fade_ppm_per_year": (0, PPM),
            "cycle_fade_ppm_per_efc": (0, PPM),
            "commissioned_at": (0, MAX_JSON_INT),
            "reserve_horizon_s": (1, 366 * SECONDS_PER_DAY),
            "max_soc_gap_s": (1, 7 * SECONDS_PER_DAY),
            "soc_noise_permille": (0, 100),
        }
        for name, (low, high) in limits.items():
            _check_int(name, getattr(self, name), low, high)
        if self.tolerance_wh is not None:
            _check_int("tolerance_wh", self.tolerance_wh, 0, self.capacity_wh)
        if self.soc_min_permille >= self.soc_max_permille:
            raise ValueError(f"soc_min_permille ({self.soc_min_permille}) must be below soc_max_permille "
                             f"({self.soc_max_permille})")

    @classmethod
    def for_chemistry(cls, chemistry: Chemistry | str, capacity_wh: int, commissioned_at: int,
                      **overrides: int | None) -> BatteryParams:
        """Parameters from a chemistry's defaults; any field can be overridden. CUSTOM has no defaults: every
        battery field must then be given."""
        chem = chemistry if isinstance(chemistry, Chemistry) else Chemistry.parse(chemistry)
        battery_fields = ("soc_min_permille", "soc_max_permille", "charge_eff_ppm", "discharge_eff_ppm",
                          "self_discharge_ppm_per_day", "calendar_fade_ppm_per_year", "cycle_fade_ppm_per_efc")
        known = {f.name for f in fields(cls)} - {"capacity_wh", "commissioned_at", "chemistry"}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown battery parameter(s): {', '.join(unknown)}")
        values: dict = {}
        if chem is Chemistry.CUSTOM:
            missing = [name for name in battery_fields if overrides.get(name) is None]
            if missing:
                raise ValueError(f"chemistry custom has no defaults; give {', '.join(missing)}")
        else:
            defaults = CHEMISTRY_DEFAULTS[chem]
            values = {name: getattr(defaults, name) for name in battery_fields}
        values.update({k: v for k, v in overrides.items() if v is not None or k == "tolerance_wh"})
        return cls(capacity_wh=capacity_wh, chemistry=chem, commissioned_at=commissioned_at, **values)

    @classmethod
    def from_registration(cls, registered: Mapping[str, object], commissioned_at: int) -> BatteryParams:
        """From the battery object of an asset registration (``chemistry`` plus integer fields)."""
        values = dict(registered)
        chemistry = values.pop("chemistry", Chemistry.CUSTOM.value)
        capacity = values.pop("capacity_wh", None)
        if capacity is None:
            raise ValueError("capacity_wh is required")
        return cls.for_chemistry(str(chemistry), capacity, commissioned_at, **values)  # type: ignore[arg-type]


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")


# -- pure functions ------------------------------------------------------------------------------------------

def tolerance_wh(params: BatteryParams) -> int:
    """Outstanding Tstorage allowed above the estimated deliverable energy before anything is burned."""
    if params.tolerance_wh is not None:
        return params.tolerance_wh
    return TOLERANCE_FIXED_WH + _ceil_div(params.capacity_wh * TOLERANCE_PERMILLE_OF_CAPACITY, PERMILLE)


def deliverable_wh(soc_permille: int, soh_permille: int, params: BatteryParams) -> int:
    """``(SoC − SoC_min) × capacity × SoH × η_discharge``, rounded down, never negative.

    SoC is the BMS's state of charge *relative to the battery's present capacity* and energy-linear (state of
    energy); SoH is present capacity over nameplate.
    """
    _check_int("soc_permille", soc_permille, 0, PERMILLE)
    _check_int("soh_permille", soh_permille, 0, PERMILLE)
    above_min = soc_permille - params.soc_min_permille
    if above_min <= 0:
        return 0
    return above_min * params.capacity_wh * soh_permille * params.discharge_eff_ppm // (PERMILLE * PERMILLE * PPM)


def tstorage_for_charge(charge_wh: int, params: BatteryParams) -> int:
    """Tstorage minted for a charge of ``charge_wh``: ``C × η_charge × η_discharge``, rounded down (DESIGN §5)."""
    _check_int("charge_wh", charge_wh, 0, MAX_JSON_INT)
    return charge_wh * params.charge_eff_ppm * params.discharge_eff_ppm // (PPM * PPM)


@dataclass(frozen=True, slots=True)
class SocSample:
    """One BMS state-of-charge sample: epoch second and SoC in permille."""

    at: int
    soc_permille: int


def soc_ppm_at_boundary(boundary: int, before: SocSample, after: SocSample, max_gap_s: int) -> int | None:
    """SoC at ``boundary`` in ppm (millionths of full), interpolated linearly between the samples either side.

    ``None`` when the boundary is not bracketed (``before.at ≤ boundary ≤ after.at``) or the samples are more than
    ``max_gap_s`` apart: such a boundary is not verified. A sample exactly at the boundary is used as it is.
    Rounding: down to the ppm (towards less deliverable energy; at most 1 ppm off).
    """
    if after.at < before.at:
        raise ValueError(f"samples out of order: {before.at} after {after.at}")
    if not before.at <= boundary <= after.at or after.at - before.at > max_gap_s:
        return None
    if before.at == boundary and after.at == boundary:
        return min(before.soc_permille, after.soc_permille) * PERMILLE
    if before.at == boundary:
        return before.soc_permille * PERMILLE
    if after.at == boundary:
        return after.soc_permille * PERMILLE
    span = after.at - before.at
    rise = (after.soc_permille - before.soc_permille) * PERMILLE * (boundary - before.at)
    return before.soc_permille * PERMILLE + rise // span


def modelled_fade_ppm(params: BatteryParams, since: int, until: int, throughput_wh: int) -> int:
    """Capacity fade modelled between two instants: calendar fade over ``until − since`` plus cycle fade over the
    equivalent full cycles in ``throughput_wh`` (charge + discharge Wh; one full cycle = 2 × capacity). Rounded up."""
    seconds = max(0, until - since)
    calendar = _ceil_div(params.calendar_fade_ppm_per_year * seconds, SECONDS_PER_YEAR)
    cycles = _ceil_div(params.cycle_fade_ppm_per_efc * max(0, throughput_wh), 2 * params.capacity_wh)
    return min(PPM, calendar + cycles)


def modelled_soh_permille(params: BatteryParams, at: int, throughput_wh: int) -> int:
    """Modelled SoH: 1000 ‰ minus calendar fade since commissioning and cycle fade over ``throughput_wh``.
    Rounded down. Used for reserving only — burns need a measured SoH."""
    fade = modelled_fade_ppm(params, params.commissioned_at, at, throughput_wh)
    return max(0, PERMILLE - _ceil_div(fade, PERMILLE))


def pro_rata(amount: int, holdings: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    """Split ``amount`` over holders in proportion to their holdings, largest remainder first, ties by holder id.

    Never takes more than a holder has; if ``amount`` covers everything, everyone loses everything. Returns the
    non-zero parts, sorted by holder id.
    """
    _check_int("amount", amount, 0, MAX_JSON_INT)
    ordered = tuple(sorted((h, a) for h, a in holdings if a > 0))
    total = sum(a for _, a in ordered)
    if amount >= total:
        return ordered
    parts = [(holder, have * amount // total, have * amount % total) for holder, have in ordered]
    missing = amount - sum(p for _, p, _ in parts)
    bonus = {holder for holder, _, _ in sorted(parts, key=lambda p: (-p[2], p[0]))[:missing]}
    return tuple((h, p + (1 if h in bonus else 0)) for h, p, _ in parts if p or h in bonus)


# -- inputs and outputs of the step function --------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class BatteryReading:
    """One accepted battery reading. ``soc_at`` is when the BMS sampled the SoC (default: the interval's end).

    ``soc_permille`` may be None when the energy meter was read but the BMS was not (they are often separate
    devices): the flows still move the estimate, nothing is measured or verified.
    """

    interval_start: int
    interval_s: int
    charge_wh: int
    discharge_wh: int
    soc_permille: int | None
    soh_permille: int | None = None
    soc_at: int | None = None

    def __post_init__(self) -> None:
        _check_int("interval_s", self.interval_s, 1, SECONDS_PER_DAY)
        _check_int("interval_start", self.interval_start, 0, MAX_JSON_INT)
        if self.interval_start % self.interval_s:
            raise ValueError(f"interval_start {self.interval_start} is not aligned to {self.interval_s} s")
        _check_int("charge_wh", self.charge_wh, 0, MAX_JSON_INT)
        _check_int("discharge_wh", self.discharge_wh, 0, MAX_JSON_INT)
        if self.soc_permille is not None:
            _check_int("soc_permille", self.soc_permille, 0, PERMILLE)
        elif self.soc_at is not None:
            raise ValueError("soc_at without soc_permille")
        if self.soh_permille is not None:
            _check_int("soh_permille", self.soh_permille, 1, PERMILLE)
        if self.soc_at is not None:
            _check_int("soc_at", self.soc_at, self.interval_start, self.end)

    @property
    def end(self) -> int:
        return self.interval_start + self.interval_s

    @property
    def sampled_at(self) -> int:
        return self.end if self.soc_at is None else self.soc_at


@dataclass(frozen=True, slots=True)
class Outstanding:
    """Tstorage of this battery in circulation: the owner's free and reserved tokens, and everyone else's."""

    owner: str
    owner_free: int
    owner_reserved: int
    others: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.owner, str) or not self.owner:
            raise ValueError("owner must be a non-empty string")
        _check_int("owner_free", self.owner_free, 0, MAX_JSON_INT)
        _check_int("owner_reserved", self.owner_reserved, 0, MAX_JSON_INT)
        others = self.others.items() if isinstance(self.others, Mapping) else self.others
        normalised = tuple(sorted((h, a) for h, a in others))
        seen = set()
        for holder, amount in normalised:
            if not isinstance(holder, str) or not holder:
                raise ValueError("holder ids must be non-empty strings")
            if holder == self.owner:
                raise ValueError(f"owner {holder!r} must not appear among the other holders")
            if holder in seen:
                raise ValueError(f"holder {holder!r} appears twice")
            seen.add(holder)
            _check_int(f"others[{holder}]", amount, 0, MAX_JSON_INT)
        object.__setattr__(self, "others", normalised)

    @property
    def total(self) -> int:
        return self.owner_free + self.owner_reserved + sum(a for _, a in self.others)


class BurnReason(StrEnum):
    DISCHARGE = "discharge"
    SELF_DISCHARGE = "self_discharge"
    CAPACITY_FADE = "capacity_fade"


@dataclass(frozen=True, slots=True)
class Reserve:
    """Set ``amount`` of the owner's free Tstorage aside (it can no longer be offered or transferred)."""

    amount: int
    horizon_s: int


@dataclass(frozen=True, slots=True)
class Release:
    """Return ``amount`` of the owner's reserved Tstorage to the owner's free balance."""

    amount: int


@dataclass(frozen=True, slots=True)
class Burn:
    """Burn ``amount`` Tstorage of ``holder`` (from the owner's reserve when ``from_reserved``)."""

    holder: str
    amount: int
    from_reserved: bool
    reason: BurnReason


Action = Reserve | Release | Burn


# -- the state kept per battery ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class BatteryState:
    """What the ledger keeps per battery between readings: integers or null, fixed size, canonical-JSON ready.

    Time fields are epoch seconds; ``est_var_ppm2`` is the estimate's variance in (ppm of capacity)².
    """

    version: int = 1
    interval_s: int | None = None
    first_start: int | None = None  # start of the first reading seen
    last_end: int | None = None  # end of the last reading processed: the current boundary
    sample_at: int | None = None  # the last BMS SoC sample
    sample_soc_permille: int | None = None
    pending_boundary: int | None = None  # a boundary waiting for the next sample to be interpolated
    pending_outstanding_wh: int = 0  # outstanding Tstorage at that boundary
    est_mwh: int | None = None  # estimated deliverable energy at last_end (may be < 0 below SoC_min)
    est_var_ppm2: int = 0
    est_samples: int = 0  # measurements since the filter (re)started
    bias_charge_ppm: int = 0  # learned efficiency errors: the true gain is mint × (1 − bias_charge) ...
    bias_discharge_ppm: int = 0  # ... and the true loss for a discharge D is D × (1 + bias_discharge)
    cov_e_c: int = 0  # covariances of (estimate ppm of capacity, bias_charge ppm, bias_discharge ppm)
    cov_e_d: int = 0
    var_c: int = BIAS_PRIOR_SD_PPM**2
    var_d: int = BIAS_PRIOR_SD_PPM**2
    cov_c_d: int = 0
    soh_permille: int | None = None  # last measured SoH
    soh_at: int | None = None
    throughput_at_soh_wh: int = 0
    charged_wh: int = 0  # metered since the first reading (late readings included)
    discharged_wh: int = 0
    fade_credit_wh: int = 0  # deliverable energy lost to measured SoH drops, not yet burned
    last_active_end: int | None = None  # end of the last interval with charge or discharge
    loss_sxy: int = 0  # idle windows: Σ Sxy, Wh·s (negative when energy falls)
    loss_sxx: int = 0  # idle windows: Σ Sxx, s²
    win_t0: int | None = None  # the open idle window: first boundary, first value, flows since
    win_y0: int = 0
    win_flow_wh: int = 0
    win_n: int = 0
    win_st: int = 0
    win_stt: int = 0
    win_sy: int = 0
    win_sty: int = 0
    win_last_t: int = 0
    verified_at: int | None = None  # the last verified boundary and what was compared there
    verified_deliverable_wh: int = 0
    verified_outstanding_wh: int = 0
    verified_count: int = 0
    burned_wh: int = 0  # burned by verification since the first reading

    def to_dict(self) -> dict[str, int | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> BatteryState:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown battery state field(s): {', '.join(unknown)}")
        for name, value in data.items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"battery state field {name} must be an integer or null")
        return cls(**data)  # type: ignore[arg-type]


# -- the step function ------------------------------------------------------------------------------------------

def on_battery_reading(state: BatteryState, params: BatteryParams, reading: BatteryReading,
                       outstanding: Outstanding) -> tuple[BatteryState, list[Action]]:
    """Advance the battery's state by one accepted reading and plan the burns, reserve and release it calls for.

    ``outstanding`` is this battery's Tstorage *after* the token rules applied this reading (charge minted,
    discharge burned where it went). Actions, in order: burns by reason (capacity_fade, self_discharge, discharge),
    each taking the reserve, then the owner's free tokens, then the other holders pro rata; then at most one
    Reserve or Release. A reading older than the last one processed only counts towards cycles.
    """
    if state.interval_s is not None and reading.interval_s != state.interval_s:
        raise ValueError(f"interval_s {reading.interval_s} differs from this battery's {state.interval_s}")
    if state.last_end is not None and reading.interval_start < state.last_end:
        return replace(state, charged_wh=state.charged_wh + reading.charge_wh,
                       discharged_wh=state.discharged_wh + reading.discharge_wh), []

    s = state.to_dict()
    s["interval_s"] = reading.interval_s
    if s["first_start"] is None:
        s["first_start"] = reading.interval_start
    contiguous = state.last_end == reading.interval_start
    end = reading.end
    sample = None if reading.soc_permille is None else SocSample(reading.sampled_at, reading.soc_permille)
    idle = reading.charge_wh + reading.discharge_wh <= params.capacity_wh // 10_000
    flow_wh = tstorage_for_charge(reading.charge_wh, params) - reading.discharge_wh
    candidate: tuple[int, int, int, int] | None = None  # (boundary, est_mwh, var, outstanding) to verify

    # 1. The boundary left pending by the previous reading, now bracketed by this reading's sample.
    if (state.pending_boundary is not None and sample is not None and state.sample_at is not None
            and state.sample_soc_permille is not None):
        soc_ppm = soc_ppm_at_boundary(state.pending_boundary,
                                      SocSample(state.sample_at, state.sample_soc_permille), sample,
                                      params.max_soc_gap_s)
        if soc_ppm is not None:
            m_mwh = _deliverable_mwh(soc_ppm, _soh(s), params)
            _measure(s, params, state.pending_boundary, m_mwh)
            if s["est_mwh"] is not None:
                candidate = (state.pending_boundary, s["est_mwh"], s["est_var_ppm2"], state.pending_outstanding_wh)

    # 2. The interval itself: gaps restart the filter and close the idle window; flows move the estimate.
    if not contiguous:
        s.update(est_mwh=None, est_var_ppm2=0, est_samples=0, cov_e_c=0, cov_e_d=0)
        _close_window(s, params)
    elif not idle:
        _close_window(s, params)
    else:
        if s["win_t0"] is not None:
            s["win_flow_wh"] += flow_wh
    if not idle:
        s["last_active_end"] = end
    if s["est_mwh"] is not None:
        _predict(s, params, reading)
    s["charged_wh"] += reading.charge_wh
    s["discharged_wh"] += reading.discharge_wh
    s["last_end"] = end

    # 3. A measured SoH rescales the estimate at once; the drop is attributed to capacity fade.
    if reading.soh_permille is not None:
        old = _soh(s)
        new = reading.soh_permille
        if new != old and s["est_mwh"] is not None:
            before = s["est_mwh"]
            s["est_mwh"] = before * new // old
            s["est_var_ppm2"] = s["est_var_ppm2"] * new * new // (old * old)
            s["cov_e_c"] = s["cov_e_c"] * new // old
            s["cov_e_d"] = s["cov_e_d"] * new // old
            if new < old and before > 0:
                s["fade_credit_wh"] += (before - s["est_mwh"]) // PERMILLE
        s["soh_permille"], s["soh_at"] = new, end
        s["throughput_at_soh_wh"] = s["charged_wh"] + s["discharged_wh"]

    # 4. A sample exactly at the interval's end measures this boundary now; otherwise it waits for the next one.
    #    Without a sample nothing is measured, and a boundary left pending is dropped (the estimate has moved on).
    if sample is None:
        s["pending_boundary"] = None
    elif sample.at == end:
        _measure(s, params, end, _deliverable_mwh(sample.soc_permille * PERMILLE, _soh(s), params))
        candidate = (end, s["est_mwh"], s["est_var_ppm2"], outstanding.total)
        s["pending_boundary"] = None
        s["sample_at"], s["sample_soc_permille"] = sample.at, sample.soc_permille
    else:
        s["pending_boundary"] = end
        s["sample_at"], s["sample_soc_permille"] = sample.at, sample.soc_permille

    # 5. Verify and burn.
    tol = tolerance_wh(params)
    actions: list[Action] = []
    free, reserved = outstanding.owner_free, outstanding.owner_reserved
    others = dict(outstanding.others)
    verified = False
    if candidate is not None and _is_verified(candidate[2], params):
        verified = True
        boundary, est_mwh, var, outstanding_then = candidate
        deliverable = _lower_bound_wh(est_mwh, var, params)
        excess = min(outstanding_then - deliverable - tol, outstanding.total)
        active = s["last_active_end"] is not None and (s["verified_at"] is None
                                                       or s["last_active_end"] > s["verified_at"])
        if excess > 0:
            fade_part = min(excess, s["fade_credit_wh"])
            s["fade_credit_wh"] -= fade_part
            rest_reason = BurnReason.DISCHARGE if active else BurnReason.SELF_DISCHARGE
            for reason, amount in ((BurnReason.CAPACITY_FADE, fade_part), (rest_reason, excess - fade_part)):
                burns, free, reserved = _burn(outstanding.owner, amount, reason, free, reserved, others)
                actions.extend(burns)
            s["burned_wh"] += excess
        else:  # a surplus beyond one tolerance below the threshold absorbed (that much of) the fade
            s["fade_credit_wh"] = max(0, s["fade_credit_wh"] - max(0, -excess - tol))
        s["verified_at"], s["verified_deliverable_wh"] = boundary, deliverable
        s["verified_outstanding_wh"] = free + reserved + sum(others.values())
        s["verified_count"] += 1

    # 6. Reserve what the horizon will probably lose; release a reserve the measurements do not confirm.
    total_after = free + reserved + sum(others.values())
    target = _reserve_target(s, params, total_after)
    if reserved < target and free > 0:
        amount = min(free, target + target // RESERVE_HEADROOM_DIVISOR - reserved)
        actions.append(Reserve(amount, params.reserve_horizon_s))
    elif verified and reserved > target + target // RELEASE_SLACK_DIVISOR:
        actions.append(Release(reserved - target - target // RESERVE_HEADROOM_DIVISOR))

    if s["pending_boundary"] is not None:
        s["pending_outstanding_wh"] = total_after
    else:
        s["pending_outstanding_wh"] = 0
    return BatteryState(**s), actions


def loss_rate_wh_per_day(state: BatteryState, params: BatteryParams, level_wh: int | None = None) -> int:
    """Deliverable energy lost per day while idle, blended from the chemistry prior and the idle history.

    History: the pooled least-squares slope of measured deliverable energy over time in idle windows,
    ``slope = Σ Sxy / Σ Sxx`` (Wh/s; one intercept per window, so windows at different levels pool). Prior: the
    chemistry's self-discharge ppm/day of ``level_wh`` (default: the current estimate, else half the window).
    Blend, weighting each by its Sxx (the prior counts as PRIOR_NIGHTS idle nights of 5-minute readings)::

        rate = (prior × W0 − Σ Sxy × 86,400) / (W0 + Σ Sxx)

    Rounded down; clamped to [0, 20 % of capacity per day].
    """
    sxy, sxx = state.loss_sxy, state.loss_sxx
    open_part = _window_stats(state.to_dict())
    if open_part is not None:
        sxy, sxx = sxy + open_part[0], sxx + open_part[1]
    if level_wh is None:
        level_wh = max(0, state.est_mwh // PERMILLE) if state.est_mwh is not None else _half_window_wh(params)
    prior = params.self_discharge_ppm_per_day * max(0, level_wh) // PPM
    w0 = PRIOR_NIGHTS * _NIGHT_SXX
    rate = (prior * w0 - sxy * SECONDS_PER_DAY) // (w0 + sxx)
    return max(0, min(params.capacity_wh * MAX_LOSS_PERMILLE_PER_DAY // PERMILLE, rate))


def reserve_target_wh(state: BatteryState, params: BatteryParams, outstanding_total: int) -> int:
    """Tstorage expected to need burning over the horizon (see :func:`on_battery_reading`, step 6)."""
    return _reserve_target(state.to_dict(), params, outstanding_total)


# -- internals --------------------------------------------------------------------------------------------------

def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _isqrt(n: int) -> int:
    """⌊√n⌋ for n ≥ 0 by Newton's method on integers (chaincode does not import math)."""
    if n <= 0:
        return 0
    x = 1 << ((n.bit_length() + 1) // 2)  # ≥ √n, so the iteration decreases to ⌊√n⌋
    while True:
        y = (x + n // x) // 2
        if y >= x:
            return x
        x = y


def _soh(s: dict) -> int:
    return PERMILLE if s["soh_permille"] is None else s["soh_permille"]


def _deliverable_mwh(soc_ppm: int, soh_permille: int, params: BatteryParams) -> int:
    """Measured deliverable energy in mWh, *signed* (below SoC_min it is negative): the filter needs unbiased
    measurements; only the comparison with outstanding tokens clamps at zero."""
    above_min = soc_ppm - params.soc_min_permille * PERMILLE
    return above_min * params.capacity_wh * soh_permille * params.discharge_eff_ppm // (PPM * PPM)


def _lower_bound_wh(est_mwh: int, var_ppm2: int, params: BatteryParams) -> int:
    """The deliverable energy burns compare with: estimate − BURN_CONFIDENCE_SIGMAS × its std deviation, ≥ 0."""
    sigma_wh = _ceil_div(_isqrt(var_ppm2) * params.capacity_wh, PPM)
    return max(0, est_mwh // PERMILLE - BURN_CONFIDENCE_SIGMAS * sigma_wh)


def _measurement_var(params: BatteryParams) -> int:
    """Variance of one measured deliverable energy, (ppm of capacity)²: BMS noise plus 1 ‰ quantisation (1/12)."""
    return (12 * params.soc_noise_permille ** 2 + 1) * PPM // 12


def _is_verified(var_ppm2: int, params: BatteryParams) -> bool:
    max_sigma_ppm = tolerance_wh(params) * PPM // (params.capacity_wh * VERIFY_MAX_SIGMA_FRACTION)
    return var_ppm2 <= max_sigma_ppm * max_sigma_ppm


def _measure(s: dict, params: BatteryParams, boundary: int, m_mwh: int) -> None:
    """One measurement: Kalman update of (estimate, charge bias, discharge bias), and a point for the idle-window
    regression. The measurement sees the estimate only (H = [1, 0, 0])."""
    r = _measurement_var(params)
    if s["est_mwh"] is None:
        s.update(est_mwh=m_mwh, est_var_ppm2=r, est_samples=1, cov_e_c=0, cov_e_d=0)
    else:
        p00, p01, p02 = s["est_var_ppm2"], s["cov_e_c"], s["cov_e_d"]
        total = p00 + r
        innovation_mwh = m_mwh - s["est_mwh"]
        innovation_ppm = innovation_mwh * PERMILLE // params.capacity_wh  # mWh → ppm of capacity
        s["est_mwh"] += innovation_mwh * p00 // total
        s["bias_charge_ppm"] = _clamp(s["bias_charge_ppm"] + innovation_ppm * p01 // total, MAX_BIAS_PPM)
        s["bias_discharge_ppm"] = _clamp(s["bias_discharge_ppm"] + innovation_ppm * p02 // total, MAX_BIAS_PPM)
        s["var_c"] = max(0, s["var_c"] - p01 * p01 // total)
        s["var_d"] = max(0, s["var_d"] - p02 * p02 // total)
        s["cov_c_d"] -= p01 * p02 // total
        s["est_var_ppm2"] = max(0, p00 - p00 * p00 // total)
        s["cov_e_c"] = p01 - p00 * p01 // total
        s["cov_e_d"] = p02 - p00 * p02 // total
        s["est_samples"] += 1
    _window_point(s, params, boundary, m_mwh // PERMILLE)


def _predict(s: dict, params: BatteryParams, reading: BatteryReading) -> None:
    """Move the estimate over one interval: metered flows on the token scale, corrected by the learned efficiency
    biases, minus the expected idle loss; grow the covariance accordingly (F = [[1, −a, −b], [0, 1, 0], [0, 0, 1]]
    with a, b the charge and discharge flows as fractions of capacity)."""
    cap = params.capacity_wh
    rate_wh_per_day = loss_rate_wh_per_day(BatteryState(**s), params)
    loss_mwh = rate_wh_per_day * PERMILLE * reading.interval_s // SECONDS_PER_DAY
    mint_wh = tstorage_for_charge(reading.charge_wh, params)
    discharge_wh = reading.discharge_wh
    bias_mwh = (s["bias_charge_ppm"] * mint_wh + s["bias_discharge_ppm"] * discharge_wh) * PERMILLE // PPM
    s["est_mwh"] += (mint_wh - discharge_wh) * PERMILLE - loss_mwh - bias_mwh
    a = mint_wh * PPM // cap  # ppm of capacity
    b = discharge_wh * PPM // cap
    p00, p01, p02 = s["est_var_ppm2"], s["cov_e_c"], s["cov_e_d"]
    p11, p12, p22 = s["var_c"], s["cov_c_d"], s["var_d"]
    flow_sd = (a + b) * FLOW_NOISE_PPM // PPM
    loss_sd = loss_mwh * PERMILLE // cap
    q00 = flow_sd * flow_sd + loss_sd * loss_sd + BASE_DRIFT_PPM_PER_5MIN ** 2 * reading.interval_s // 300
    s["est_var_ppm2"] = min(MAX_JSON_INT, max(0, p00 - 2 * (a * p01 + b * p02) // PPM
                                               + (a * a * p11 + 2 * a * b * p12 + b * b * p22) // (PPM * PPM) + q00))
    s["cov_e_c"] = p01 - (a * p11 + b * p12) // PPM
    s["cov_e_d"] = p02 - (a * p12 + b * p22) // PPM
    drift = BIAS_DRIFT_SD_PPM ** 2
    s["var_c"] = min(BIAS_PRIOR_SD_PPM ** 2, p11 + (drift if a else 0))
    s["var_d"] = min(BIAS_PRIOR_SD_PPM ** 2, p22 + (drift if b else 0))


def _clamp(value: int, limit: int) -> int:
    return max(-limit, min(limit, value))


def _window_point(s: dict, params: BatteryParams, boundary: int, m_wh: int) -> None:
    """Add a measured point to the open idle window, or open one here (a window starts at any measured boundary
    and is closed by the first interval with charge or discharge, a gap, or after a day)."""
    if s["win_t0"] is None:
        s.update(win_t0=boundary, win_y0=m_wh, win_flow_wh=0, win_n=1, win_st=0, win_stt=0, win_sy=0, win_sty=0,
                 win_last_t=0)
        return
    t = boundary - s["win_t0"]
    y = m_wh - s["win_flow_wh"] - s["win_y0"]
    s["win_n"] += 1
    s["win_st"] += t
    s["win_stt"] += t * t
    s["win_sy"] += y
    s["win_sty"] += t * y
    s["win_last_t"] = t
    if t >= MAX_IDLE_WINDOW_S:
        _close_window(s, params)
        _window_point(s, params, boundary, m_wh)


def _window_stats(s: dict) -> tuple[int, int] | None:
    """(Sxy, Sxx) of the open idle window, or None while it is shorter than MIN_IDLE_WINDOW_S."""
    n = s["win_n"]
    if s["win_t0"] is None or n < 2 or s["win_last_t"] < MIN_IDLE_WINDOW_S:
        return None
    sxx = (n * s["win_stt"] - s["win_st"] * s["win_st"]) // n
    sxy = (n * s["win_sty"] - s["win_st"] * s["win_sy"]) // n
    return (sxy, sxx) if sxx > 0 else None


def _close_window(s: dict, params: BatteryParams) -> None:
    stats = _window_stats(s)
    if stats is not None:
        s["loss_sxy"] += stats[0]
        s["loss_sxx"] += stats[1]
        cap = MAX_HISTORY_NIGHTS * _NIGHT_SXX
        if s["loss_sxx"] > cap:  # forget the past proportionally: bounded integers, slowly adapting rate
            s["loss_sxy"] = s["loss_sxy"] * cap // s["loss_sxx"]
            s["loss_sxx"] = cap
    s.update(win_t0=None, win_y0=0, win_flow_wh=0, win_n=0, win_st=0, win_stt=0, win_sy=0, win_sty=0, win_last_t=0)


def _half_window_wh(params: BatteryParams) -> int:
    return deliverable_wh((params.soc_min_permille + params.soc_max_permille) // 2, PERMILLE, params)


def _reserve_target(s: dict, params: BatteryParams, outstanding_total: int) -> int:
    """Tstorage that will probably need burning within the horizon:

    * idle loss over the horizon at the learned rate;
    * the efficiency shortfall the filter has learned — bias + 2 standard deviations, when positive — on the
      average charge and discharge of a horizon (history average);
    * modelled capacity fade not yet confirmed by a measured SoH (since the last SoH report, or since
      commissioning if none) up to the end of the horizon, on the deliverable energy;

    minus the headroom outstanding tokens still have below deliverable + tolerance (that loss needs no burn)."""
    if s["last_end"] is None:
        return 0
    horizon = params.reserve_horizon_s
    if s["est_mwh"] is None:
        deliverable = outstanding_total
    else:
        deliverable = _lower_bound_wh(s["est_mwh"], s["est_var_ppm2"], params)
    rate_wh_per_day = loss_rate_wh_per_day(BatteryState(**s), params, deliverable)
    self_discharge = _ceil_div(rate_wh_per_day * horizon, SECONDS_PER_DAY)
    elapsed = s["last_end"] - (s["first_start"] or s["last_end"])
    charge_h = s["charged_wh"] * horizon // elapsed if elapsed > 0 else 0
    discharge_h = s["discharged_wh"] * horizon // elapsed if elapsed > 0 else 0
    bias_c = max(0, s["bias_charge_ppm"] + RESERVE_CONFIDENCE_SIGMAS * _isqrt(max(0, s["var_c"])))
    bias_d = max(0, s["bias_discharge_ppm"] + RESERVE_CONFIDENCE_SIGMAS * _isqrt(max(0, s["var_d"])))
    shortfall = _ceil_div(bias_c * tstorage_for_charge(charge_h, params) + bias_d * discharge_h, PPM)
    since = s["soh_at"] if s["soh_at"] is not None else params.commissioned_at
    cycled = s["charged_wh"] + s["discharged_wh"] - s["throughput_at_soh_wh"] + charge_h + discharge_h
    fade_ppm = modelled_fade_ppm(params, since, s["last_end"] + horizon, cycled)
    fade = _ceil_div(deliverable * fade_ppm, PPM)
    headroom = 0
    if s["est_mwh"] is not None:
        headroom = max(0, deliverable + tolerance_wh(params) - outstanding_total)
    return max(0, self_discharge + shortfall + fade - headroom)


def _burn(owner: str, amount: int, reason: BurnReason, free: int, reserved: int,
          others: dict[str, int]) -> tuple[list[Burn], int, int]:
    """Burn ``amount``: the owner's reserve, then the owner's free tokens, then the others pro rata."""
    burns: list[Burn] = []
    take = min(amount, reserved)
    if take:
        burns.append(Burn(owner, take, True, reason))
        reserved -= take
        amount -= take
    take = min(amount, free)
    if take:
        burns.append(Burn(owner, take, False, reason))
        free -= take
        amount -= take
    if amount:
        for holder, part in pro_rata(amount, tuple(sorted(others.items()))):
            burns.append(Burn(holder, part, False, reason))
            others[holder] -= part
    return burns, free, reserved
