"""Onboarding a new owner's site onto a running demo: the installer's command, its record, and the demo's side.

A real VPP onboards a site in this order: the owner registers the site and its assets (web app, self-service); an
installer fits the edge device, which provisions one key pair per meter; the operator's admin registers the meters
with their public keys; then the edge starts reading. Readings sent before the meters are registered would be
refused as unknown meters (dead letters), so the demo starts the site's simulator and edge reader only once the
ledger knows every meter.

    python scripts/demo attach --data D --preview               the devices the next attached site will simulate
    python scripts/demo attach --data D --site S --pv A --battery A --load A [--json]
    python scripts/demo attach --data D --site S --cancel         undo it while no meter is registered

The attachment is recorded in ``<data>/attached.json``; the running demo (:class:`AttachedSites`) checks every few
seconds and starts each site whose three meters are registered, and starts it again at every later start.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from vpp_edge.keys import MeterKey, key_path, provision

from demo.bootstrap import INTERVAL_S, DemoAccount, MeterPlan, plan_site, read_accounts
from demo.processes import StartError
from demo.rest import Api, ApiError
from demo.simclock import DemoState

ATTACHED_FILE = "attached.json"
GATEWAY_URL_FILE = "gateway-url"     # written by the running demo: where the installer's checks go
# a site id names folders, logs and meter ids: keep it to characters that are safe in all three
SAFE_SITE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
METER_SUFFIX = {"generator": "pv", "battery": "bat", "load": "load"}
CHECK_EVERY_S = 2.0


class AttachError(RuntimeError):
    """A refused attachment; ``code`` is machine-readable, the message says what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


@dataclass(frozen=True)
class Attachment:
    site_id: str
    index: int                   # the simulated site's index (its devices), after the demo's own sites
    meters: tuple[MeterPlan, ...]
    attached_at: float

    @property
    def assets(self) -> dict[str, str]:
        return {m.asset_kind: m.asset_id for m in self.meters}

    def to_json(self) -> dict:
        return {"site_id": self.site_id, "index": self.index, "attached_at": self.attached_at,
                "meters": [asdict(m) for m in self.meters]}

    @classmethod
    def from_json(cls, doc: dict) -> Attachment:
        return cls(doc["site_id"], doc["index"], tuple(MeterPlan(**m) for m in doc["meters"]), doc["attached_at"])


def plan_attached(index: int, seed: int, model_start: float, site_id: str, pv: str, battery: str,
                  load: str) -> tuple[MeterPlan, ...]:
    """The meters of an attached site: the simulated devices of site ``index`` (sized as bootstrap.plan_site sizes
    the demo's own), under the owner's site and asset ids."""
    assets = {"generator": pv, "battery": battery, "load": load}
    return tuple(replace(m, site_id=site_id, asset_id=assets[m.asset_kind],
                         meter_id=f"m-{site_id}-{METER_SUFFIX[m.asset_kind]}")
                 for m in plan_site(index, seed, model_start))


def device_sheet(plan: tuple[MeterPlan, ...] | list[MeterPlan]) -> dict:
    """What the owner registers: per asset kind the maximum power the meter may see (readings above max power ×
    interval are refused as PHYSICAL_LIMIT) and, for the battery, its nameplate capacity and chemistry."""
    sheet = {}
    for m in plan:
        entry = {"max_power_w": m.max_power_w}
        if m.battery:
            entry.update(capacity_wh=m.battery["capacity_wh"], chemistry=m.battery["chemistry"])
        sheet[m.asset_kind] = entry
    return sheet


# -- the record (<data>/attached.json) -----------------------------------------------------------------------------

def load_attachments(data: Path) -> list[Attachment]:
    path = data / ATTACHED_FILE
    if not path.exists():
        return []
    return [Attachment.from_json(doc) for doc in json.loads(path.read_text())]


@contextlib.contextmanager
def _locked(data: Path):
    """One installer at a time: two attachments must not take the same site index."""
    with (data / f"{ATTACHED_FILE}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _save_attachments(data: Path, attachments: list[Attachment]) -> None:
    path, tmp = data / ATTACHED_FILE, data / f"{ATTACHED_FILE}.tmp"
    tmp.write_text(json.dumps([a.to_json() for a in attachments], indent=1) + "\n")
    os.replace(tmp, path)  # atomic: the running demo never reads half a file


# -- the installer's command ---------------------------------------------------------------------------------------

def _demo_state(data: Path) -> DemoState:
    state = DemoState.load(data / "demo.json")
    if state is None or not (data / "ACCOUNTS.txt").exists():
        raise AttachError("DEMO_NOT_FOUND", f"{data} holds no demo (demo.json and ACCOUNTS.txt): start the demo first")
    return state


def _admin(data: Path) -> DemoAccount:
    return next(a for a in read_accounts(data / "ACCOUNTS.txt") if a.role == "admin")


def _gateway_url(data: Path, url: str | None) -> str:
    if url:
        return url.rstrip("/")
    path = data / GATEWAY_URL_FILE
    if not path.exists():
        raise AttachError("DEMO_NOT_RUNNING", f"{path} is missing: start the demo (or pass --url)")
    return path.read_text().strip()


def _login(base_url: str, admin: DemoAccount) -> Api:
    try:
        return Api.login(base_url, admin.email, admin.password)
    except OSError as exc:  # requests' ConnectionError is an OSError
        raise AttachError("DEMO_NOT_RUNNING", f"cannot reach the gateway at {base_url} ({exc.__class__.__name__}): "
                          "is the demo running?") from None


def _is_battery(api: Api, asset_id: str) -> dict | None:
    """The battery's parameters, or None when the asset is not a battery (the REST API has no GET /assets/{id};
    the battery view is the one place that tells an asset's kind)."""
    try:
        return api.call("GET", f"/assets/{asset_id}/battery")["params"]
    except ApiError as exc:
        if exc.code == "NOT_FOUND":
            return None
        raise


def _meter_registered(api: Api, meter_id: str) -> bool:
    try:
        api.call("GET", f"/meters/{meter_id}")
        return True
    except ApiError as exc:
        if exc.code == "UNKNOWN_METER":
            return False
        raise


def check_registration(api: Api, plan: tuple[MeterPlan, ...]) -> None:
    """What the installer checks before fitting the edge: the site and its assets exist and are the kinds the
    devices are, the battery's registered capacity is the device's, and no meter id is taken."""
    site_id = plan[0].site_id
    try:
        site = api.call("GET", f"/sites/{site_id}")
    except ApiError as exc:
        if exc.code == "NOT_FOUND":
            raise AttachError("SITE_NOT_FOUND", f"site {site_id} is not registered: the owner registers it first "
                              "(web app dashboard)") from None
        raise
    missing = [m.asset_id for m in plan if m.asset_id not in site.get("assets", [])]
    if missing:
        raise AttachError("ASSET_NOT_FOUND", f"site {site_id} has no asset {', '.join(missing)} (its assets: "
                          f"{', '.join(site.get('assets', [])) or 'none'})")
    for m in plan:
        params = _is_battery(api, m.asset_id)
        if m.asset_kind == "battery":
            if params is None:
                raise AttachError("WRONG_KIND", f"asset {m.asset_id} is not a battery")
            if params.get("capacity_wh") != m.battery["capacity_wh"]:
                raise AttachError("BATTERY_MISMATCH", f"battery {m.asset_id} is registered with "
                                  f"{params.get('capacity_wh')} Wh but the device holds {m.battery['capacity_wh']} Wh: "
                                  "Tstorage would not be backed by the battery's energy")
        elif params is not None:
            raise AttachError("WRONG_KIND", f"asset {m.asset_id} is a battery, not a {m.asset_kind}")
    taken = [m.meter_id for m in plan if _meter_registered(api, m.meter_id)]
    if taken:
        raise AttachError("METER_EXISTS", f"meter {', '.join(taken)} is already registered on the ledger")


def _public_key(keys_dir: Path, meter_id: str) -> str:
    """Provision the meter's key pair (0600, never overwritten); an existing one (an interrupted attach) is kept."""
    path = key_path(keys_dir, meter_id)
    if path.exists():
        return MeterKey.load(path, meter_id).public_pem
    return provision(keys_dir, meter_id).public_pem


def attach(data: Path, site_id: str, pv: str, battery: str, load: str, url: str | None = None
           ) -> tuple[Attachment, dict[str, str]]:
    """Check, provision the meter keys and record the attachment; returns it with each meter's public key PEM.
    Attaching the same site with the same assets again changes nothing and answers the same."""
    data = data.resolve()
    state = _demo_state(data)
    if not SAFE_SITE_ID.fullmatch(site_id):
        raise AttachError("SITE_ID_UNSAFE", f"site id {site_id!r}: the demo uses it in file names; letters, digits, "
                          "'.', '_' and '-', starting with a letter or digit, at most 64")
    if len({pv, battery, load}) != 3:
        raise AttachError("SAME_ASSET", "--pv, --battery and --load name three different assets")
    keys_dir = data / "edge" / "keys"
    with _locked(data):
        attachments = load_attachments(data)
        earlier = next((a for a in attachments if a.site_id == site_id), None)
        if earlier is not None:
            if earlier.assets != {"generator": pv, "battery": battery, "load": load}:
                raise AttachError("ALREADY_ATTACHED", f"site {site_id} is attached with assets {earlier.assets}")
            return earlier, {m.meter_id: _public_key(keys_dir, m.meter_id) for m in earlier.meters}
        index = state.sites + len(attachments)
        plan = plan_attached(index, state.seed, state.model_start, site_id, pv, battery, load)
        check_registration(_login(_gateway_url(data, url), _admin(data)), plan)
        pems = {m.meter_id: _public_key(keys_dir, m.meter_id) for m in plan}
        attachment = Attachment(site_id, index, plan, time.time())
        _save_attachments(data, [*attachments, attachment])
    return attachment, pems


def cancel(data: Path, site_id: str, url: str | None = None) -> Attachment:
    """Undo an attachment made with the wrong assets, as long as none of its meters is registered (the REST API
    cannot tell a generator from a load, so the installer's check cannot catch that mix-up). Its keys stay: the
    meter ids depend only on the site and the device, a corrected attachment uses them again."""
    data = data.resolve()
    _demo_state(data)
    with _locked(data):
        attachments = load_attachments(data)
        found = next((a for a in attachments if a.site_id == site_id), None)
        if found is None:
            raise AttachError("NOT_ATTACHED", f"site {site_id} is not attached")
        api = _login(_gateway_url(data, url), _admin(data))
        registered = [m.meter_id for m in found.meters if _meter_registered(api, m.meter_id)]
        if registered:
            raise AttachError("METERS_REGISTERED", f"meter {', '.join(registered)} of site {site_id} is registered "
                              "on the ledger: the attachment stays")
        _save_attachments(data, [a for a in attachments if a.site_id != site_id])
    return found


def _report(attachment: Attachment, pems: dict[str, str], keys_dir: Path) -> str:
    lines = [f"site {attachment.site_id} attached (simulated devices of site {attachment.index + 1}); keys in "
             f"{keys_dir} (0600)", "",
             "The admin registers these meters (web app: Admin > Register a meter, interval 15 minutes; or "
             "POST /api/v1/assets/<asset>/meters):"]
    for m in attachment.meters:
        lines += ["", f"  meter {m.meter_id}  asset {m.asset_id} ({m.asset_kind}), max power {m.max_power_w:,} W, "
                  f"interval {INTERVAL_S} s", *("  " + line for line in pems[m.meter_id].strip().splitlines())]
    lines += ["", "The running demo starts reading the site once all three meters are registered (it checks every "
              f"{CHECK_EVERY_S:.0f} s)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/demo attach", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(".work/demo"), help="the demo's data folder")
    parser.add_argument("--preview", action="store_true", help="print the devices the next attached site will "
                        "simulate (what the owner registers), then exit")
    parser.add_argument("--site", help="the owner's site id")
    parser.add_argument("--pv", help="the site's generator asset (PV)")
    parser.add_argument("--battery", help="the site's battery asset")
    parser.add_argument("--load", help="the site's load asset")
    parser.add_argument("--cancel", action="store_true", help="undo the attachment of --site (only while none of "
                        "its meters is registered)")
    parser.add_argument("--url", help="the gateway (default: the running demo's, from <data>/gateway-url)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    try:
        if args.preview:
            state = _demo_state(args.data.resolve())
            index = state.sites + len(load_attachments(args.data.resolve()))
            sheet = {"index": index, **device_sheet(plan_site(index, state.seed, state.model_start))}
            print(json.dumps(sheet, indent=1) if args.json else "\n".join(
                f"{kind:<9} " + ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in d.items())
                for kind, d in sheet.items() if kind != "index"))
            return 0
        if args.cancel and args.site:
            cancelled = cancel(args.data, args.site, args.url)
            print(json.dumps({"cancelled": cancelled.site_id}) if args.json else
                  f"attachment of site {cancelled.site_id} cancelled")
            return 0
        if not (args.site and args.pv and args.battery and args.load):
            parser.error("--site, --pv, --battery and --load are required (or --preview)")
        attachment, pems = attach(args.data, args.site, args.pv, args.battery, args.load, args.url)
    except AttachError as exc:
        print(f"error {exc}", file=sys.stderr)
        return 2
    except ApiError as exc:
        print(f"error GATEWAY: {exc}", file=sys.stderr)
        return 2
    keys_dir = args.data.resolve() / "edge" / "keys"
    if args.json:
        print(json.dumps({"site_id": attachment.site_id, "index": attachment.index, "keys_dir": str(keys_dir),
                          "meters": [{"meter_id": m.meter_id, "asset_id": m.asset_id, "kind": m.asset_kind,
                                      "max_power_w": m.max_power_w, "interval_s": INTERVAL_S,
                                      "public_key_pem": pems[m.meter_id]} for m in attachment.meters]}, indent=1))
    else:
        print(_report(attachment, pems, keys_dir))
    return 0


# -- the running demo's side -----------------------------------------------------------------------------------------

class AttachedSites:
    """Starts each attached site (its own simulator process and edge reader, tracked children of the demo) once the
    ledger knows all its meters: at a start with the demo's own sites, while running as soon as the admin has
    registered them."""

    def __init__(self, demo) -> None:
        self.demo = demo
        self.running: dict[str, Attachment] = {}
        self.failed: set[str] = set()
        self._ready: list[Attachment] = []      # registered at this start: started in steps 5 and 7
        self._ports: dict[str, int] = {}        # site -> its simulator's Modbus port (chosen at each start)
        self._api: Api | None = None
        self._next_check = 0.0
        self._warned: str | None = None

    def plans(self) -> list[list[MeterPlan]]:
        return [list(a.meters) for a in self.running.values()]

    def _call_admin(self, fn):
        """``fn(api)`` as the admin, logging in again once when the access token has expired."""
        for attempt in (0, 1):
            if self._api is None:
                admin = next(a for a in self.demo.accounts if a.role == "admin")
                self._api = Api.login(self.demo.base_url, admin.email, admin.password)
            try:
                return fn(self._api)
            except ApiError as exc:
                if exc.status != 401 or attempt:
                    raise
                self._api = None

    def _registered(self, attachment: Attachment) -> bool:
        return all(self._call_admin(lambda api, m=m: _meter_registered(api, m.meter_id)) for m in attachment.meters)

    # at start: the registered ones start with the demo's own sites (before simulated time is anchored)
    def prepare(self) -> int:
        """Tell installers where the gateway is; find the attachments to start now. Returns how many."""
        (self.demo.data / GATEWAY_URL_FILE).write_text(self.demo.base_url + "\n")
        pending = [a for a in load_attachments(self.demo.data) if a.site_id not in self.running]
        try:
            self._ready = [a for a in pending if self._registered(a)]
        except (ApiError, OSError) as exc:
            raise StartError(f"cannot check the attached sites' meters on the ledger: {exc}") from exc
        return len(self._ready)

    def start_simulators(self) -> None:
        for a in self._ready:
            child = self._start_simulator(a)
            print(f"      attached site {a.site_id}: simulator on port {self._ports[a.site_id]} (pid {child.pid})",
                  flush=True)

    def spawn_readers(self) -> list:
        """The readers of the attachments found at this start, not yet waited for (the demo waits for all readers
        together: every one must be polling when simulated time resumes)."""
        return [self._spawn_reader(a) for a in self._ready]

    def announce_readers(self) -> None:
        for a in self._ready:
            pid = self.demo.children[f"reader-{a.site_id}"].pid
            print(f"      site {a.site_id} attached: {len(a.meters)} meters, reader pid {pid}", flush=True)
        self._ready = []

    # while running
    def poll(self) -> None:
        """Every few seconds: start the attachments whose meters are all registered now."""
        if time.monotonic() < self._next_check:
            return
        self._next_check = time.monotonic() + CHECK_EVERY_S
        try:
            waiting = [a for a in load_attachments(self.demo.data)
                       if a.site_id not in self.running and a.site_id not in self.failed]
            for a in waiting:
                if not self._registered(a):
                    continue
                try:
                    self._start_simulator(a)
                    child = self._start_reader(a)
                except StartError as exc:  # this site does not start; the others keep running
                    self.failed.add(a.site_id)
                    self.running.pop(a.site_id, None)
                    for name in (f"reader-{a.site_id}", f"simulators-{a.site_id}"):
                        if name in self.demo.children:
                            self.demo.children.pop(name).stop()
                    self.demo._write_pids()
                    print(f"error: attached site {a.site_id} did not start (it is retried at the next start): "
                          f"{exc}", flush=True)
                    continue
                print(f"site {a.site_id} attached: {len(a.meters)} meters, reader pid {child.pid}", flush=True)
            self._warned = None
        except (ApiError, OSError, ValueError) as exc:  # the check runs again in a few seconds
            if str(exc) != self._warned:
                self._warned = str(exc)
                print(f"attached sites: check failed ({exc}); retrying", flush=True)

    def _start_simulator(self, a: Attachment):
        from demo.stack import free_port  # stack imports this module: import at use

        o = self.demo.o
        port = o.sim_port + a.index if o.sim_port else free_port()
        self._ports[a.site_id] = port
        child = self.demo._spawn(f"simulators-{a.site_id}", [
            sys.executable, "-m", "demo.sim_sites", "--state", str(self.demo.data / "demo.json"), "--port", str(port),
            "--first-index", str(a.index), "--count", "1"])
        child.wait_until(lambda: child.log_contains("simulators ready"), 60, "simulators ready")
        return child

    def _spawn_reader(self, a: Attachment):
        config = self.demo._write_edge_config(a.index, a.site_id, list(a.meters), port=self._ports[a.site_id])
        child = self.demo._spawn(f"reader-{a.site_id}", [sys.executable, "-m", "demo.edge_reader", "--config",
                                                         str(config), "--state", str(self.demo.data / "demo.json")])
        self.running[a.site_id] = a
        return child

    def _start_reader(self, a: Attachment):
        child = self._spawn_reader(a)
        child.wait_until(lambda: child.log_contains("edge reader for site"), 60, "edge reader start")
        return child
