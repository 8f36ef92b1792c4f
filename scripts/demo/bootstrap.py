"""First start: the demo's accounts (in-process, before the gateway opens the account store) and, through the REST
API, each owner's site and assets (self-service), the meters (admin only) and the utility's credit.

Every step is recorded in ``<data>/registered.json`` once done (or found done: ALREADY_EXISTS), so an interrupted
first start finishes the rest and a normal restart registers nothing again.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from vpp_edge.keys import MeterKey, key_path, provision
from vpp_edge.simulators.sites import BATTERY_UNIT, LOAD_UNIT, PV_UNIT, build_site
from vpp_gateway.accounts import AccountService, LogMailer

from demo.rest import Api, ApiError

MAIL_DOMAIN = "demo.vpp-ledger.example.org"
UTILITY_CREDIT_MICRO = 1_000_000_000  # 1,000 units of the settlement currency
INTERVAL_S = 900


@dataclass(frozen=True)
class DemoAccount:
    role: str
    email: str
    password: str
    ledger_account: str


@dataclass(frozen=True)
class MeterPlan:
    site_id: str
    asset_id: str
    asset_kind: str        # the ledger's asset kind
    edge_kind: str         # the edge's meter kind
    meter_id: str
    unit_id: int
    max_power_w: int
    map_name: str          # the register map the edge driver reads the simulated device with
    battery: dict | None = None


def site_id(index: int) -> str:
    return f"demo-site-{index + 1}"


def plan_site(index: int, seed: int, model_start: float) -> list[MeterPlan]:
    """The assets and meters of site ``index``, sized from the simulated devices' own parameters."""
    devices = {d.unit_id: d.sim for d in build_site(index, seed, model_start)}
    pv, bat = devices[PV_UNIT], devices[BATTERY_UNIT]
    site, n = site_id(index), index + 1
    battery = bat.battery
    params = {"chemistry": "lfp", "capacity_wh": battery.capacity_wh, "soc_min_permille": 0,
              "soc_max_permille": 1000, "charge_eff_ppm": battery.charge_efficiency_ppm,
              "discharge_eff_ppm": battery.discharge_efficiency_ppm,
              "self_discharge_ppm_per_day": battery.self_discharge_ppm_per_day}
    # max power with head-room: the contract refuses an interval above max_power × interval (PHYSICAL_LIMIT)
    return [
        MeterPlan(site, f"site-{n}-pv", "generator", "generation", f"m-site-{n}-pv", PV_UNIT,
                  int(pv.plant.kwp * 1000 * 3 // 2), pv.map_name),
        MeterPlan(site, f"site-{n}-battery", "battery", "battery", f"m-site-{n}-bat", BATTERY_UNIT,
                  battery.max_power_w * 3 // 2, bat.map_name, params),
        MeterPlan(site, f"site-{n}-load", "load", "load", f"m-site-{n}-load", LOAD_UNIT, 20_000,
                  devices[LOAD_UNIT].map_name),
    ]


# -- accounts --------------------------------------------------------------------------------------------------------

def _password() -> str:
    return secrets.token_urlsafe(12)


def write_private(path: Path, text: str) -> None:
    """A file only the user can read, written atomically (0600 from the start, never world-readable for a moment)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def create_accounts(accounts_dir: Path, sites: int,
                    external_cas: dict[str, tuple[Path, Path]] | None = None) -> tuple[list[DemoAccount], str]:
    """Admin, utility and one owner per site, random passwords; plus the bridge's API key (acts as the admin).
    ``external_cas`` (MSP id -> CA certificate, key): on Fabric, the organisation CAs the channel trusts."""

    async def run() -> tuple[list[DemoAccount], str]:
        with AccountService.open(accounts_dir, mailer=LogMailer(), external_cas=external_cas) as service:
            made = []
            admin_email, admin_password = f"admin@{MAIL_DOMAIN}", _password()
            admin = service.bootstrap_admin(admin_email, admin_password)
            made.append(DemoAccount("admin", admin_email, admin_password, admin.ledger_account))
            console = service.console_principal()
            wanted = [("utility", f"utility@{MAIL_DOMAIN}", "Org2MSP")]
            wanted += [("owner", f"owner{n}@{MAIL_DOMAIN}", "Org1MSP") for n in range(1, sites + 1)]
            for role, email, org in wanted:
                password = _password()
                info = await service.create_account(console, email, password, role, org)
                made.append(DemoAccount(role, email, password, info.ledger_account))
            _, bridge_key = await service.create_api_key(service.console_principal(admin_email), "demo-bridge")
            return made, bridge_key

    return asyncio.run(run())


ACCOUNTS_HEADER = """# VPP Ledger demo accounts (generated at first start; keep this file private)
# role      email                                           password          ledger account
"""


def format_accounts(accounts: list[DemoAccount]) -> str:
    return ACCOUNTS_HEADER + "".join(f"{a.role:<10} {a.email:<47} {a.password:<17} {a.ledger_account}\n"
                                     for a in accounts)


def read_accounts(path: Path) -> list[DemoAccount]:
    rows = [line.split() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return [DemoAccount(*row) for row in rows]


# -- registration through the REST API ---------------------------------------------------------------------------------

class Registration:
    def __init__(self, base_url: str, data: Path, accounts: list[DemoAccount], plans: list[list[MeterPlan]],
                 keys_dir: Path) -> None:
        self.base_url = base_url
        self.path = data / "registered.json"
        self.done: set[str] = set(json.loads(self.path.read_text())) if self.path.exists() else set()
        self.accounts = accounts
        self.plans = plans
        self.keys_dir = keys_dir
        self.performed = 0

    def _step(self, name: str, action) -> None:
        if name in self.done:
            return
        try:
            action()
            self.performed += 1
        except ApiError as exc:
            if exc.code != "ALREADY_EXISTS":
                raise
        self.done.add(name)
        self.path.write_text(json.dumps(sorted(self.done), indent=1) + "\n")

    def account(self, role: str, index: int = 0) -> DemoAccount:
        return [a for a in self.accounts if a.role == role][index]

    def run(self) -> int:
        """Register what is not yet registered; returns how many steps were performed now."""
        admin = self.account("admin")
        admin_api = None
        for index, plan in enumerate(self.plans):
            owner = self.account("owner", index)
            owner_api = None
            for meter in plan:
                if f"site:{meter.site_id}" not in self.done or f"asset:{meter.asset_id}" not in self.done:
                    owner_api = owner_api or Api.login(self.base_url, owner.email, owner.password)
            if owner_api is not None:
                site = plan[0].site_id
                self._step(f"site:{site}", lambda api=owner_api, site=site, n=index + 1: api.call(
                    "POST", "/sites", {"site_id": site, "location": f"Demo street {n}, Utrecht"}))
                for meter in plan:
                    body = {"asset_id": meter.asset_id, "kind": meter.asset_kind, "max_power_w": meter.max_power_w}
                    if meter.battery:
                        body["battery"] = meter.battery
                    self._step(f"asset:{meter.asset_id}", lambda api=owner_api, m=meter, b=body: api.call(
                        "POST", f"/sites/{m.site_id}/assets", b))
            for meter in plan:
                if f"meter:{meter.meter_id}" in self.done:
                    continue
                admin_api = admin_api or Api.login(self.base_url, admin.email, admin.password)
                pem = self.public_key(meter.meter_id)
                self._step(f"meter:{meter.meter_id}", lambda m=meter, pem=pem, api=admin_api: api.call(
                    "POST", f"/assets/{m.asset_id}/meters",
                    {"meter_id": m.meter_id, "interval_s": INTERVAL_S, "public_key_pem": pem}))
        if "credit:utility" not in self.done:
            utility = self.account("utility")
            api = Api.login(self.base_url, utility.email, utility.password)
            self._step("credit:utility", lambda: api.call(
                "POST", "/credit/deposits", {"account": utility.ledger_account, "amount_micro": UTILITY_CREDIT_MICRO}))
        return self.performed

    def public_key(self, meter_id: str) -> str:
        """Provision the meter's key once (0600, never overwritten); later starts read the existing one."""
        path = key_path(self.keys_dir, meter_id)
        if path.exists():
            return MeterKey.load(path, meter_id).public_pem
        return provision(self.keys_dir, meter_id).public_pem
