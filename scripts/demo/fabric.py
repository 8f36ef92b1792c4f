"""The demo on the native Fabric network (``--backend fabric``): the network of ``network/network.sh`` in
``<data>/fabric`` with the energy contract ``vpp`` served by fabric-ccaas (one chaincode server per organisation, as
``make deploy-cc`` deploys it).

First start: ``network.sh up createChannel`` and ``deployCCAAS``. Later starts: ``network.sh start`` on the same work
folder (its ledgers, Raft logs, crypto and ports persist). Stop: ``network.sh stop`` (every process by its pid file),
then anything still alive of the pids read at start is killed by pid. The gateway gets identities from the network's
own organisation CAs (cryptogen's ``ca/`` folders), copied to ``<data>/secrets/fabric-ca/<org>/``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from demo.processes import bindable

REPO = Path(__file__).resolve().parents[2]
NETWORK_SH = REPO / "network" / "network.sh"
CHAINCODE = "vpp"
REQUIRED_BINARIES = ("peer", "orderer", "configtxgen", "osnadmin", "cryptogen")
PORT_BLOCK = 40                   # network.sh uses NETWORK_PORT_BASE .. +39
FIRST_PORT_BASE = 27300           # below the ephemeral range; 27050 is the Fabric test fixture's, 31050+ the faults'
LAST_PORT_BASE = 30900
ORGS = {"org1": "Org1MSP", "org2": "Org2MSP"}


class FabricError(RuntimeError):
    """network.sh failed; the message carries the end of its output."""


def fabric_ccaas() -> Path:
    return Path(sys.executable).parent / "fabric-ccaas"


def missing_prerequisites() -> str | None:
    """What ``--backend fabric`` lacks on this machine, or None. Binaries from $FABRIC_BIN, else PATH; config from
    $FABRIC_CFG_PATH, else beside the binaries (the release layout), as network.sh looks them up."""
    fabric_bin = os.environ.get("FABRIC_BIN")
    found = {name: shutil.which(name, path=fabric_bin) if fabric_bin else shutil.which(name)
             for name in REQUIRED_BINARIES}
    missing = [name for name, where in found.items() if not where]
    if missing:
        place = f"$FABRIC_BIN ({fabric_bin})" if fabric_bin else "PATH"
        return (f"--backend fabric needs the Hyperledger Fabric 2.5 binaries; not found in {place}: "
                f"{', '.join(missing)} (install the release's bin/ and config/, see network/README.md)")
    config = (Path(os.environ["FABRIC_CFG_PATH"]) if os.environ.get("FABRIC_CFG_PATH")
              else Path(found["peer"]).resolve().parent.parent / "config")
    absent = [name for name in ("core.yaml", "orderer.yaml") if not (config / name).is_file()]
    if absent:
        return (f"--backend fabric needs Fabric's config: {', '.join(absent)} not found in {config} "
                "(set FABRIC_CFG_PATH)")
    if not fabric_ccaas().exists():
        return f"--backend fabric needs the chaincode server {fabric_ccaas()} (make setup installs it)"
    return None


def recorded_backend(data: Path) -> str | None:
    """The backend an existing demo folder was made with: its Fabric work folder, or its embedded ledger file."""
    if (data / "fabric" / "network.env").exists():
        return "fabric"
    if (data / "gateway" / "ledger.db").exists():
        return "embedded"
    return None



def free_port_base(first: int = FIRST_PORT_BASE) -> int:
    """The first base from ``first`` (steps of 50) whose whole 40-port block is free now."""
    for base in range(first, LAST_PORT_BASE + 1, 50):
        if all(bindable(base + i) for i in range(PORT_BLOCK)):
            return base
    raise FabricError(f"no free block of {PORT_BLOCK} ports between {first} and {LAST_PORT_BASE + 49}; "
                      "choose one with --fabric-port-base")


class FabricNetwork:
    """The demo's network in ``<data>/fabric``: start (first: up, channel, deploy; later: start again), the gateway's
    environment, block heights, pids, stop."""

    def __init__(self, data: Path, log_path: Path, port_base: int = 0, orderer_count: int = 3) -> None:
        self.data = data
        self.work = data / "fabric"
        self.log_path = log_path
        self.port_base = port_base
        self.orderer_count = orderer_count
        self.ca_root = data / "secrets" / "fabric-ca"
        self._pids: dict[str, int] = {}

    # -- network.sh ---------------------------------------------------------------------------------------------
    def _env(self, port_base: int | None = None) -> dict[str, str]:
        env = {**os.environ, "NETWORK_WORK_DIR": str(self.work), "ORDERER_COUNT": str(self.orderer_count),
               "CC_PER_ORG": "false", "NETWORK_PYTHON": sys.executable}
        if port_base:
            env["NETWORK_PORT_BASE"] = str(port_base)
        return env

    def _network(self, *args: str, port_base: int | None = None, timeout: float = 300) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} network.sh {' '.join(args)}\n".encode())
            log.flush()
            # its own session: a Ctrl-C in the terminal reaches the demo only, which stops the network in order
            try:
                code = subprocess.run([str(NETWORK_SH), *args], env=self._env(port_base), stdin=subprocess.DEVNULL,
                                      stdout=log, stderr=subprocess.STDOUT, timeout=timeout,
                                      start_new_session=True).returncode
            except subprocess.TimeoutExpired:
                code = None
        if code != 0:
            tail = self.log_path.read_text(errors="replace").splitlines()[-20:]
            what = "timed out" if code is None else f"exited {code}"
            raise FabricError(f"network.sh {args[0]} {what}; last lines of {self.log_path}:\n    "
                              + "\n    ".join(tail))

    @property
    def info(self) -> dict:
        return json.loads((self.work / "network.json").read_text())

    def deployed(self) -> bool:
        """The first start finished: the channel exists and the contract is deployed (network.json says so)."""
        try:
            info = self.info
        except (OSError, ValueError):
            return False
        return bool(info.get("channels")) and CHAINCODE in info.get("chaincodes", {})

    def create(self) -> str:
        """First start: a new network (removing what an interrupted first start left) with the contract."""
        base = self.port_base or free_port_base()
        self._network("down")
        self._network("up", "createChannel", port_base=base)
        return f"{self.orderer_count} Raft orderer(s), peer0.org1, peer0.org2 on ports {base}-{base + PORT_BLOCK - 1}"

    def deploy(self) -> str:
        start = f"exec {fabric_ccaas()} --app-dir {REPO / 'chaincode'} vpp_contract.contract:chaincode"
        self._network("deployCCAAS", "-ccn", CHAINCODE, "-ccdir", str(REPO / "chaincode" / "vpp_contract"),
                      "-ccperorg", "-ccstart", start)
        return self._contract_text()

    def restart(self) -> str:
        """Later starts: whatever a killed demo left running is stopped first, then the same network again."""
        self._network("stop")
        self._network("start")
        return self._contract_text()

    def _contract_text(self) -> str:
        self._pids = self.read_pids()
        servers = self.info["chaincodes"][CHAINCODE]["servers"]
        return (f"'{CHAINCODE}' on channel {self.channel}, one fabric-ccaas server per organisation ("
                + ", ".join(f"{org} {s['address']} pid {self._pids.get(f'cc-{CHAINCODE}-{org}')}"
                            for org, s in sorted(servers.items())) + ")")

    # -- what the gateway needs ---------------------------------------------------------------------------------
    @property
    def channel(self) -> str:
        return next(iter(self.info["channels"]))

    def copy_cas(self) -> dict[str, tuple[Path, Path]]:
        """The network's organisation CAs as the gateway reads them (``cert.pem``, ``key.pem``; 0600 key), for
        AccountService's ``external_cas``: MSP id -> (certificate, key)."""
        cas = {}
        self.ca_root.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        for org, msp in ORGS.items():
            source = self.work / "organizations" / "peerOrganizations" / f"{org}.example.com" / "ca"
            folder = self.ca_root / org
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.copyfile(source / f"ca.{org}.example.com-cert.pem", folder / "cert.pem")
            key = folder / "key.pem"
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write((source / "priv_sk").read_bytes())
            cas[msp] = (folder / "cert.pem", key)
        return cas

    def gateway_env(self) -> dict[str, str]:
        """VPP_BACKEND=fabric and where the gateway finds the peers, the channel and the organisation CAs."""
        orgs = self.info["orgs"]
        org1, org2 = orgs["org1"]["peer"], orgs["org2"]["peer"]
        return {"VPP_BACKEND": "fabric", "VPP_FABRIC_PEER": org1["address"], "VPP_FABRIC_TLS_CA": org1["tls_ca"],
                "VPP_FABRIC_TLS_NAME": org1["name"], "VPP_FABRIC_CHANNEL": self.channel, "VPP_CHAINCODE": CHAINCODE,
                "VPP_FABRIC_OTHER_PEERS": f"{org2['address']}|{org2['tls_ca']}|{org2['name']}",
                "VPP_FABRIC_CA_DIR_ORG1": str(self.ca_root / "org1"),
                "VPP_FABRIC_CA_DIR_ORG2": str(self.ca_root / "org2")}

    def peers_text(self) -> str:
        orgs = self.info["orgs"]
        return f"peers {orgs['org1']['peer']['address']}, {orgs['org2']['peer']['address']}, channel {self.channel}"

    def wait_until_endorsable(self, timeout_s: float = 90) -> float:
        """Until both organisations' peers endorse for the contract through org1's Gateway (gossip needs a few seconds
        after a start to tell each peer about the other). Only endorses GetMetadata: nothing is submitted."""
        from vpp_gateway.fabric import Gateway, GatewayError, load_msp

        org = self.info["orgs"]["org1"]
        identity = load_msp(org["users"]["User1"]["msp_dir"], org["msp_id"])

        async def probe() -> float:
            began = time.monotonic()
            async with Gateway.connect(org["peer"]["address"], identity,
                                       tls_root_certificates=Path(org["peer"]["tls_ca"]).read_bytes(),
                                       ssl_target_name_override=org["peer"]["name"]) as gateway:
                contract = gateway.get_network(self.channel).get_contract(CHAINCODE)
                while True:
                    try:
                        await contract.new_proposal("org.hyperledger.fabric:GetMetadata").endorse()
                        return time.monotonic() - began
                    except GatewayError as exc:
                        if time.monotonic() - began > timeout_s:
                            raise FabricError(f"'{CHAINCODE}' not endorsable by both organisations after "
                                              f"{timeout_s:.0f} s: {exc}") from exc
                        await asyncio.sleep(0.5)

        return asyncio.run(probe())

    # -- observing ----------------------------------------------------------------------------------------------
    def read_pids(self) -> dict[str, int]:
        """Every process of the network now (orderers, peers, chaincode servers), from its pid files."""
        pids = {}
        for path in sorted((self.work / "pids").glob("*.pid")):
            try:
                pids[path.stem] = int(path.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
        return pids

    def pids(self) -> dict[str, int]:
        """The network's processes that are alive: those this demo started and any a pid file names (a start that
        failed half-way, or a demo killed before it could stop them)."""
        return {name: pid for name, pid in {**self.read_pids(), **self._pids}.items() if _alive(pid)}

    def dead(self) -> list[str]:
        return [f"{name} (pid {pid})" for name, pid in self._pids.items() if not _alive(pid)]

    def heights(self) -> dict[str, tuple[int, str]]:
        """Each peer's channel height and current block hash (``peer channel getinfo`` as the org's admin)."""
        info = self.info
        found = {}
        for org, o in sorted(info["orgs"].items()):
            env = {**os.environ, "PATH": f"{info['fabric_bin']}:{os.environ.get('PATH', '')}",
                   "FABRIC_CFG_PATH": info["fabric_cfg_path"], "CORE_PEER_TLS_ENABLED": "true",
                   "CORE_PEER_LOCALMSPID": o["msp_id"], "CORE_PEER_ADDRESS": o["peer"]["address"],
                   "CORE_PEER_TLS_ROOTCERT_FILE": o["peer"]["tls_ca"],
                   "CORE_PEER_MSPCONFIGPATH": o["users"]["Admin"]["msp_dir"]}
            out = subprocess.run(["peer", "channel", "getinfo", "-c", self.channel], env=env, capture_output=True,
                                 text=True, timeout=30)
            if out.returncode != 0 or "{" not in out.stdout:
                raise FabricError(f"peer channel getinfo on peer0.{org} exited {out.returncode}: {out.stderr[-300:]}")
            doc = json.loads(out.stdout[out.stdout.index("{"):])
            found[f"peer0.{org}"] = (int(doc["height"]), doc["currentBlockHash"])
        return found

    def heights_text(self) -> str:
        return ", ".join(f"{peer} height {height}" for peer, (height, _) in self.heights().items())

    # -- stop ---------------------------------------------------------------------------------------------------
    def stop(self) -> str:
        """network.sh stop (chaincode servers, peers, orderers; SIGTERM then SIGKILL by pid file), then a SIGKILL
        by pid for anything of this demo's network still alive."""
        problem = ""
        try:
            self._network("stop", timeout=120)
        except FabricError as exc:
            problem = f"; {exc}"
        left = self.pids()
        for pid in left.values():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        stopped = len(self._pids)
        self._pids = {}
        if left:
            return f"killed by pid: {', '.join(left)}{problem}"
        return f"stopped ({stopped} processes: orderers, peers, chaincode servers){problem}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive (network.sh's children are reaped by init, not by us, but be exact)
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
