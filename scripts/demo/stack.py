"""The demo's supervisor: start every component in order with health waits, report progress, stop in order."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import requests
import yaml
from vpp_edge.mqtt.mosquitto import BINARY as MOSQUITTO
from vpp_edge.mqtt.mosquitto import Mosquitto, port_open

from demo.attach import AttachedSites
from demo.bootstrap import (
    DemoAccount,
    MeterPlan,
    Registration,
    create_accounts,
    format_accounts,
    plan_site,
    read_accounts,
    write_private,
)
from demo.fabric import FabricError, FabricNetwork
from demo.processes import Child, StartError, bindable, log_tail
from demo.rest import Api
from demo.simclock import DemoState, SimTime

REPO = Path(__file__).resolve().parents[2]
STEPS = 7


@dataclass
class Options:
    data: Path
    sites: int = 3
    factor: float = 60.0
    days_back: float = 2.0
    port: int = 8080
    mqtt_port: int = 0        # 0: a free port
    sim_port: int = 0         # first Modbus port (site n on sim_port + n); 0: free ports
    seed: int = 1
    sample_period_s: int = 60
    max_gap_intervals: int = 2   # samples further apart leave a recorded gap (vpp_edge); raise it for high factors
    progress_every_s: float = 60.0
    drain_timeout_s: float = 60.0
    lag_s: float = 60.0
    backend: str = "embedded"     # or "fabric": the native Fabric network in <data>/fabric (demo.fabric)
    fabric_port_base: int = 0     # first of the network's 40 ports (first start only); 0: a free block from 27300
    orderers: int = 3             # Raft orderers of the network (first start only)


class DemoBroker(Mosquitto):
    """Debian's Mosquitto configured by vpp_edge (persistence, large queues) but logging under <data>/logs."""

    def __init__(self, workdir: Path, port: int, log_file: Path) -> None:
        super().__init__(workdir, port)
        self._log_file = log_file

    @property
    def log_path(self) -> Path:
        return self._log_file


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_run(count: int) -> int:
    """A first port such that port .. port + count - 1 are all free now."""
    for _ in range(200):
        base = free_port()
        if base + count < 65536 and all(bindable(base + i) for i in range(count)):
            return base
    raise StartError(f"no {count} consecutive free ports on 127.0.0.1")



def say(text: str) -> None:
    print(text, flush=True)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def sim_text(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


class Demo:
    def __init__(self, options: Options) -> None:
        self.o = options
        self.data = options.data.resolve()
        self.logs = self.data / "logs"
        self.children: dict[str, Child] = {}
        self.stop_requested = threading.Event()
        self.state: DemoState | None = None
        self.accounts: list[DemoAccount] = []
        self.plans: list[list[MeterPlan]] = []
        self.base_url = f"http://127.0.0.1:{options.port}"
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(REPO / "chaincode"), str(REPO / "scripts"), os.environ.get("PYTHONPATH", "")]),
            "PYTHONUNBUFFERED": "1"}
        self._counted: dict[str, tuple[int, int]] = {}   # meter -> (readings seen on the ledger, last start)
        self.attached = AttachedSites(self)   # new owners' sites onboarded with `attach` (demo.attach)
        self.fabric = (FabricNetwork(self.data, self.logs / "fabric-network.log", options.fabric_port_base,
                                     options.orderers) if options.backend == "fabric" else None)
        self._fabric_steps = 2 if self.fabric else 0   # the network and the contract come first

    # -- start ---------------------------------------------------------------------------------------------------
    def start(self) -> None:
        for folder in (self.data, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data, 0o700)  # keys, passwords and the ledger live here
        self._load_state()
        if self.fabric:
            self._start_fabric()
        self._start_broker()
        self._accounts()
        self._start_gateway()
        self._register()
        self._start_simulators()
        # the bridge before the readers: on the first start its persistent session must exist (subscribed) before
        # the first interval is published, or the broker has nobody to keep that message for
        self._start_bridge()
        self._start_readers()
        self._write_pids()

    def _step(self, n: int, text: str) -> None:
        print(f"[{n + self._fabric_steps}/{STEPS + self._fabric_steps}] {text} ... ", end="", flush=True)

    def _start_fabric(self) -> None:
        """The native network and the energy contract: created at the first start, started again later."""
        fabric = self.fabric
        try:
            if fabric.deployed():
                print(f"[1/{STEPS + 2}] Fabric network ... ", end="", flush=True)
                contract = fabric.restart()
                say(f"started again from {fabric.work}: {fabric.peers_text()}, {fabric.heights_text()} ok")
                print(f"[2/{STEPS + 2}] energy contract ... ", end="", flush=True)
            else:
                if (self.data / "ACCOUNTS.txt").exists() or (self.data / "gateway" / "accounts").exists():
                    raise StartError(f"{fabric.work} holds no deployed network, but this demo's accounts were issued "
                                     "by that network's CAs: start again with --reset")
                print(f"[1/{STEPS + 2}] Fabric network ... ", end="", flush=True)
                say(f"{fabric.create()} in {fabric.work} ok")
                print(f"[2/{STEPS + 2}] energy contract ... ", end="", flush=True)
                contract = fabric.deploy()
            waited = fabric.wait_until_endorsable()
        except FabricError as exc:
            raise StartError(str(exc)) from exc
        fabric.copy_cas()
        self._write_pids()
        say(f"{contract}; both organisations endorse (after {waited:.1f} s) ok")

    def _load_state(self) -> None:
        path, now = self.data / "demo.json", time.time()
        state = DemoState.load(path)
        if state is None:
            start = (int(now) // 86_400 - self.o.days_back) * 86_400  # midnight UTC: the run starts at night
            state = DemoState(start, self.o.seed, self.o.sites,
                              SimTime(start, now + 3600, self.o.factor, self.o.lag_s))  # anchored before step 5
            say(f"new demo in {self.data} on the {self.o.backend} backend: {plural(self.o.sites, 'site')}, "
                f"simulated time starts {sim_text(start)}, "
                f"{self.o.factor:g}x")
        else:
            if (state.sites, state.seed) != (self.o.sites, self.o.seed):
                say(f"note: this demo was created with --sites {state.sites} --seed {state.seed}; keeping them "
                    "(use --reset for a new one)")
            resume_at = state.sim.at(state.stopped_at or now)   # simulated time stood still while stopped
            state.sim = state.sim.continued(resume_at, self.o.factor, now + 3600)  # re-anchored before step 5
            say(f"continuing the demo in {self.data} at simulated {sim_text(resume_at)}, {self.o.factor:g}x")
        state.stopped_at = None
        state.save(path)
        self.state = state
        self.plans = [plan_site(i, state.seed, state.model_start) for i in range(state.sites)]

    def _start_broker(self) -> None:
        self._step(1, "broker")
        if not Path(MOSQUITTO).exists():
            raise StartError(f"{MOSQUITTO} is missing: the demo needs Debian's Mosquitto (apt-get install mosquitto, "
                             "or make setup); no embedded broker is available that keeps QoS 1 messages safely")
        version = subprocess.run([MOSQUITTO, "-h"], capture_output=True, text=True).stdout.splitlines()[:1]
        port = self.o.mqtt_port or free_port()
        broker = DemoBroker(self.data / "broker", port, self.logs / "broker.log")
        broker.write_config()
        child = self._spawn("broker", [MOSQUITTO, "-c", str(broker.config_path)], log_name="broker-stdout")
        child.wait_until(lambda: port_open(port), 15, f"a listener on port {port}")
        self.mqtt_port = port
        say(f"{(version or ['mosquitto'])[0].replace(' version', '')} on 127.0.0.1:{port} (pid {child.pid}) ok")

    def _accounts(self) -> None:
        self._step(2, "accounts")
        path = self.data / "ACCOUNTS.txt"
        secrets_dir = self.data / "secrets"
        if path.exists():
            self.accounts = read_accounts(path)
            say(f"{len(self.accounts)} existing (see {path}) ok")
            return
        accounts_dir = self.data / "gateway" / "accounts"
        if accounts_dir.exists():
            raise StartError(f"{accounts_dir} exists but {path} does not: an earlier first start was interrupted "
                             "while creating accounts; start again with --reset")
        self.accounts, bridge_key = create_accounts(accounts_dir, self.state.sites,
                                                    self.fabric.copy_cas() if self.fabric else None)
        secrets_dir.mkdir(mode=0o700, exist_ok=True)
        write_private(secrets_dir / "bridge-api-key", bridge_key + "\n")
        write_private(path, format_accounts(self.accounts))
        say(f"{len(self.accounts)} created, passwords in {path} (mode 0600) ok")
        say("      these passwords are printed once:")
        for line in format_accounts(self.accounts).splitlines()[1:]:
            say("      " + line)

    def _start_gateway(self) -> None:
        self._step(3, "gateway")
        if port_open(self.o.port):
            raise StartError(f"port {self.o.port} is in use: choose another with --port")
        web = REPO / "web" / "dist"
        env = {**self.env, "VPP_HOST": "127.0.0.1", "VPP_PORT": str(self.o.port),
               "VPP_DATA_DIR": str(self.data / "gateway"), "VPP_PUBLIC_URL": self.base_url,
               "VPP_RATE_PER_MIN": "60000",   # one machine, one bridge at high acceleration: no throttling
               "VPP_WEB_DIR": str(web) if (web / "index.html").exists() else "",
               **(self.fabric.gateway_env() if self.fabric else {})}
        child = self._spawn("gateway", [sys.executable, "-m", "vpp_gateway.api"], env=env)
        child.wait_until(lambda: requests.get(f"{self.base_url}/api/v1/ready", timeout=2).status_code == 200, 90,
                         "ready answer on /api/v1/ready")
        web_note = f"web app from {web}" if env["VPP_WEB_DIR"] else "the web app is not built (web/dist missing)"
        ledger = f"the Fabric network ({self.fabric.peers_text()})" if self.fabric else "the embedded ledger"
        say(f"{self.base_url} with {ledger} (pid {child.pid}); {web_note} ok")

    def _register(self) -> None:
        self._step(4, "registration")
        registration = Registration(self.base_url, self.data, self.accounts, self.plans, self.data / "edge" / "keys")
        performed = registration.run()
        meters = sum(len(p) for p in self.plans)
        say(f"{plural(len(self.plans), 'site')}, {meters} assets and meters, utility credit: "
            f"{'registered now' if performed else 'already registered'} ok")

    def _anchor_clock(self, attached_sites: int = 0) -> None:
        """Simulated time resumes a few seconds from now, once the simulators and every reader run."""
        sim = self.state.sim
        warmup_s = 5.0 + self.state.sites + attached_sites
        self.state.sim = sim.continued(sim.start, sim.factor, time.time() + warmup_s)
        self.state.save(self.data / "demo.json")

    def _start_simulators(self) -> None:
        self._step(5, "simulators")
        self._anchor_clock(self.attached.prepare())  # attached sites whose meters are registered start now too
        n = self.state.sites
        self.sim_port = self.o.sim_port or free_port_run(n)
        child = self._spawn("simulators", [sys.executable, "-m", "demo.sim_sites", "--state",
                                           str(self.data / "demo.json"), "--port", str(self.sim_port)])
        child.wait_until(lambda: child.log_contains("simulators ready"), 60, "simulators ready")
        say(f"{plural(n, 'site')} (PV, battery, load) on Modbus ports {self.sim_port}-{self.sim_port + n - 1} "
            f"(pid {child.pid}) ok")
        self.attached.start_simulators()

    def _start_readers(self) -> None:
        self._step(7, "edge readers")
        children = []
        for index, plan in enumerate(self.plans):
            site = plan[0].site_id
            config = self._write_edge_config(index, site, plan)
            child = self._spawn(f"reader-{index + 1}", [sys.executable, "-m", "demo.edge_reader", "--config",
                                                        str(config), "--state", str(self.data / "demo.json")])
            children.append(child)
        # attached sites' readers too, before any wait: each must be polling when simulated time resumes
        attached = self.attached.spawn_readers()
        for child in children + attached:
            child.wait_until(lambda c=child: c.log_contains("edge reader for site"), 60, "edge reader start")
        say(f"{len(children)} (pids {', '.join(str(c.pid) for c in children)}) ok")
        self.attached.announce_readers()

    def _write_edge_config(self, index: int, site: str, plan: list[MeterPlan], port: int | None = None) -> Path:
        """``port``: the site's Modbus simulator (default: site ``index`` of the demo's own simulators)."""
        folder = self.data / "edge" / site
        folder.mkdir(parents=True, exist_ok=True)
        sim = self.state.sim
        doc = {
            "site": site, "sample_period_s": self.o.sample_period_s, "max_gap_intervals": self.o.max_gap_intervals,
            "window": 1000,
            "outbox_path": "outbox.db", "state_path": "state.db",
            "broker": {"host": "127.0.0.1", "port": self.mqtt_port, "client_id": f"demo-edge-{site}",
                       "keepalive": 15, "reconnect_min_s": 0.2, "reconnect_max_s": 5},
            # the stock reader would run this accelerated clock without the catch-up cap (demo.edge_reader adds it)
            "clock": {"kind": "accelerated", "start": sim.start, "anchor": sim.anchor, "factor": sim.factor},
            "meters": [{"id": m.meter_id, "kind": m.edge_kind, "interval": 900, "key_version": 1,
                        "key": str(self.data / "edge" / "keys" / f"{m.meter_id}.key.pem"),
                        "max_power_w": m.max_power_w,
                        "driver": {"type": "modbus_tcp", "host": "127.0.0.1",
                                   "port": self.sim_port + index if port is None else port,
                                   "unit_id": m.unit_id, "map": m.map_name, "timeout": 2.0}} for m in plan],
        }
        path = folder / "edge.yaml"
        path.write_text("# written by the demo at every start\n" + yaml.safe_dump(doc, sort_keys=False))
        return path

    def _start_bridge(self) -> None:
        self._step(6, "bridge")
        folder = self.data / "bridge"
        folder.mkdir(exist_ok=True)
        config = folder / "bridge.yaml"
        config.write_text("# written by the demo at every start; the API key comes from VPP_API_KEY\n" + yaml.safe_dump(
            {"broker": {"host": "127.0.0.1", "port": self.mqtt_port, "client_id": "demo-bridge",
                        "reconnect_min_s": 0.2, "reconnect_max_s": 5},
             "batch_size": 200, "batch_wait_s": 0.5, "dead_letter_path": "dead.db",
             "gateway": {"base_url": self.base_url, "api_key_env": "VPP_API_KEY"}}, sort_keys=False))
        key = (self.data / "secrets" / "bridge-api-key").read_text().strip()
        child = self._spawn("bridge", [sys.executable, "-m", "vpp_edge", "bridge", "--config", str(config)],
                            env={**self.env, "VPP_API_KEY": key})
        child.wait_until(lambda: child.log_contains("bridge connected"), 30, "bridge connected to the broker")
        time.sleep(0.5)  # its SUBSCRIBE follows the CONNACK at once
        say(f"MQTT -> {self.base_url} with an admin API key (pid {child.pid}) ok")

    def _spawn(self, name: str, argv: list[str], env: dict | None = None, log_name: str | None = None) -> Child:
        child = Child(name, argv, self.logs / f"{log_name or name}.log", env or self.env, cwd=REPO).start()
        self.children[name] = child
        self._write_pids()
        return child

    def _write_pids(self) -> None:
        pids = {name: c.pid for name, c in self.children.items() if c.alive()}
        if self.fabric:
            pids.update({f"fabric:{name}": pid for name, pid in self.fabric.pids().items()})
        (self.data / "pids.json").write_text(json.dumps({"demo": os.getpid(), **pids}, indent=1) + "\n")

    # -- running -------------------------------------------------------------------------------------------------
    def welcome(self) -> None:
        say("")
        say(f"VPP Ledger demo running: {self.base_url}/  (API docs {self.base_url}/api/v1/docs)")
        for a in self.accounts:
            say(f"  {a.role:<8} {a.email}")
        say(f"  passwords: {self.data / 'ACCOUNTS.txt'}; logs: {self.logs}/; Ctrl-C stops everything")
        say("")

    def run(self) -> int:
        """Until SIGINT/SIGTERM (or a component dies): a progress line every ``progress_every_s``."""
        admin = next(a for a in self.accounts if a.role == "admin")
        api = Api.login(self.base_url, admin.email, admin.password)
        announced_caught_up = False
        next_report = time.monotonic() + self.o.progress_every_s
        while not self.stop_requested.wait(0.5):
            dead_fabric = self.fabric.dead() if self.fabric else []
            if dead_fabric:
                say(f"error: Fabric network processes exited: {', '.join(dead_fabric)}; logs in "
                    f"{self.fabric.work}/logs/")
                return 1
            dead = [c for c in self.children.values() if not c.alive()]
            if dead:
                for c in dead:
                    say(f"error: {c.name} (pid {c.pid}) exited with status {c.process.returncode}; last lines of "
                        f"{c.log_path}:\n{log_tail(c.log_path)}")
                return 1
            if not announced_caught_up and self.state.sim.caught_up(time.time()):
                announced_caught_up = True
                say(f"simulated time has caught up: it now runs at real time, {self.state.sim.lag_s:.0f} s behind "
                    "the wall clock")
            self.attached.poll()  # start attached sites once the admin has registered their meters
            if time.monotonic() >= next_report:
                next_report = time.monotonic() + self.o.progress_every_s
                try:
                    say(self.progress(api))
                except Exception as exc:  # a progress line must not stop the demo
                    say(f"progress unavailable: {exc}")
                    api = Api.login(self.base_url, admin.email, admin.password)  # the access token may have expired
        return 0

    def produced(self) -> int:
        """Intervals the readers signed (their journals)."""
        total = 0
        for plan in self.plans + self.attached.plans():
            path = self.data / "edge" / plan[0].site_id / "state.db"
            if path.exists():
                with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
                    total += db.execute("SELECT COUNT(*) FROM emitted").fetchone()[0]
        return total

    def committed(self, api: Api) -> int:
        """Readings on the ledger, counted incrementally per meter (only new ones are fetched)."""
        end = int(time.time()) + 900
        for plan in self.plans + self.attached.plans():
            for m in plan:
                seen, last = self._counted.get(m.meter_id, (0, int(self.state.model_start) - 1))
                new = [r for r in api.meter_readings(m.meter_id, last + 1, end) if r["start"] > last]
                if new:
                    self._counted[m.meter_id] = (seen + len(new), max(r["start"] for r in new))
        return sum(seen for seen, _ in self._counted.values())

    def progress(self, api: Api) -> str:
        supply = api.call("GET", "/supply")
        sim = self.state.sim
        now = time.time()
        conserved = "yes" if supply["Tgen"]["conserved"] and supply["Tstorage"]["conserved"] else "NO"
        return (f"{time.strftime('%H:%M:%S')} simulated {sim_text(sim.at(now))} ({sim.rate_at(now):g}x) | "
                f"intervals signed {self.produced()}, on the ledger {self.committed(api)} | "
                f"Tgen minted {supply['Tgen']['minted']} Wh, outstanding {supply['Tgen']['outstanding']} Wh | "
                f"Tstorage minted {supply['Tstorage']['minted']} Wh | supply conserved: {conserved} | "
                f"{self._ledger_text()}")

    def _ledger_text(self) -> str:
        """The backend, and with Fabric each peer's block height."""
        if not self.fabric:
            return "embedded ledger"
        try:
            return f"Fabric: {self.fabric.heights_text()}"
        except (FabricError, OSError, ValueError, subprocess.SubprocessError) as exc:
            return f"Fabric: heights unavailable ({str(exc).splitlines()[0]})"

    # -- stop ----------------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Readers first (they hand their outbox to the broker), then the bridge once it has drained the broker,
        the gateway, the simulators, the broker. Each by its pid."""
        say("stopping ...")
        readers = [c for name, c in self.children.items() if name.startswith("reader-")]
        for child in readers:  # all at once: each drains its outbox for a few seconds
            child.terminate()
        for child in readers:
            say(f"  {child.name} (pid {child.pid}): {child.stop()}")
        if self.state is not None and readers:
            # simulated time stands still from when the last reader has stopped, not from Ctrl-C: a reader that took
            # one more sample in between (a busy machine, thousands of simulated seconds per second) would otherwise
            # find its counters lower at the next start than in its last sample, and record a meter replacement
            self.state.stopped_at = time.time()
            self.state.save(self.data / "demo.json")
        bridge = self.children.get("bridge")
        if bridge is not None and bridge.alive() and "broker" in self.children and self.children["broker"].alive():
            say(f"  bridge: {self._drain_bridge()}")
        attached_simulators = sorted(name for name in self.children if name.startswith("simulators-"))
        for name in ("bridge", "gateway", "simulators", *attached_simulators, "broker"):
            child = self.children.get(name)
            if child is not None:
                say(f"  {name} (pid {child.pid}): {child.stop()}")
            if name == "gateway" and self.fabric and self.fabric.pids():
                say(f"  {self._ledger_text()} at stop")
                say(f"  Fabric network: {self.fabric.stop()}")
        self._write_pids()
        say("stopped; the next start continues this ledger, these accounts and the readers' state")

    def _drain_bridge(self) -> str:
        """Wait for the bridge to say, after the readers stopped, that it is idle with nothing left (its retained
        state topic; it repeats "ok" with its backlog every few seconds while idle)."""
        drained = threading.Event()

        def on_message(client, userdata, message) -> None:
            if message.retain:
                return  # the old retained state: says nothing about now
            try:
                doc = json.loads(message.payload)
            except ValueError:
                return
            if doc.get("state") == "ok" and doc.get("backlog") == 0:
                drained.set()

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"demo-drain-{os.getpid()}")
        client.on_message = on_message
        client.on_connect = lambda c, u, f, rc, p=None: c.subscribe("vpp/bridge/state", qos=1)
        try:
            client.connect("127.0.0.1", self.mqtt_port, 15)
        except OSError as exc:
            return f"cannot watch its state ({exc}); stopping it now"
        client.loop_start()
        try:
            ok = drained.wait(self.o.drain_timeout_s)
        finally:
            client.disconnect()
            client.loop_stop()
        return "drained" if ok else (f"not drained within {self.o.drain_timeout_s:.0f} s (what is left stays in the "
                                     "broker's persistent session for the next start)")


def reset(data: Path) -> None:
    """Remove a demo data folder, refusing anything that does not look like one."""
    if not data.exists():
        return
    if any(data.iterdir()) and not (data / "demo.json").exists():
        raise StartError(f"--reset: {data} has no demo.json; not removing a folder the demo did not make")
    if (data / "fabric" / "network.env").exists():  # a demo killed before its stop may have left the network running
        FabricNetwork(data.resolve(), data.resolve() / "logs" / "fabric-network.log").stop()
    shutil.rmtree(data)
