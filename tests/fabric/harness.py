"""Drive the native Fabric network (network/network.sh) from Python: tests and benchmarks share this.

Everything the network knows about itself is read from <work>/network.json, written by network.sh.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fabric_protos.common import common_pb2
from fabric_protos.peer import chaincode_event_pb2, proposal_pb2, proposal_response_pb2, transaction_pb2

ROOT = Path(__file__).resolve().parents[2]
NETWORK_SH = ROOT / "network" / "network.sh"
VENV_BIN = ROOT / ".venv" / "bin"
EXAMPLES = ROOT / "chaincode" / "examples"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class NetworkError(RuntimeError):
    pass


@dataclass(frozen=True)
class BlockTransaction:
    tx_id: str
    validation_code: int
    chaincode: str
    event_name: str
    event_payload: bytes


def python_chaincode_command(module: str, app_dir: Path = EXAMPLES) -> str:
    """The -ccstart command that serves ``<module>:chaincode`` from ``app_dir`` with fabric-ccaas."""
    return f"exec {VENV_BIN / 'fabric-ccaas'} --app-dir {app_dir} {module}:chaincode"


CONTRACT_DIR = ROOT / "chaincode"


def contract_chaincode_command() -> str:
    """Serves the energy token contract (chaincode/vpp_contract)."""
    return python_chaincode_command("vpp_contract.contract", CONTRACT_DIR)


class FabricNetwork:
    def __init__(self, work_dir: Path, port_base: int, log=print):
        self.work_dir = Path(work_dir)
        self.port_base = port_base
        self.log = log
        self.env = {**os.environ, "NETWORK_WORK_DIR": str(self.work_dir), "NETWORK_PORT_BASE": str(port_base)}

    # -- lifecycle ------------------------------------------------------------------------------------------
    def _network(self, *args: str, timeout: float = 300) -> str:
        # CC_PER_ORG from the caller's environment must not override what deploy() was asked for
        env = {**self.env, "CC_PER_ORG": "true" if "-ccperorg" in args else "false"}
        result = subprocess.run([str(NETWORK_SH), *args], env=env, capture_output=True, text=True,
                                timeout=timeout)
        if result.returncode != 0:
            raise NetworkError(f"network.sh {' '.join(args)} exited {result.returncode}:\n"
                               f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result.stdout

    def up(self, batch_timeout: str = "250ms", max_message_count: int = 10) -> None:
        self._network("up")
        self._network("createChannel", "-bt", batch_timeout, "-mmc", str(max_message_count))

    def deploy(self, name: str, start: str, *, workdir: Path = EXAMPLES, collections: Path | None = None,
               policy: str | None = None, per_org: bool = False) -> dict:
        """deployCCAAS; ``per_org`` runs one chaincode server per organisation (-ccperorg)."""
        args = ["deployCCAAS", "-ccn", name, "-ccstart", start, "-ccdir", str(workdir)]
        if collections:
            args += ["-cccg", str(collections)]
        if policy:
            args += ["-ccep", policy]
        if per_org:
            args += ["-ccperorg"]
        self._network(*args)
        return self.info["chaincodes"][name]

    def down(self) -> None:
        self._network("down", timeout=120)

    @property
    def info(self) -> dict:
        return json.loads((self.work_dir / "network.json").read_text())

    @property
    def channel(self) -> str:
        return next(iter(self.info["channels"]))

    def pid_of(self, component: str) -> int:
        """The pid of 'orderer', 'orderer2', 'orderer3', 'peer0.org1', 'peer0.org2', 'cc-<chaincode name>' (one
        server for both peers) or 'cc-<chaincode name>-org1' / '-org2' (one server per organisation, see
        :meth:`chaincode_pids`)."""
        pid_file = self.work_dir / "pids" / f"{component}.pid"
        if not pid_file.exists() and component.startswith("cc-") and (
                self.work_dir / "pids" / f"{component}-org1.pid").exists():
            raise NetworkError(f"{component} runs one server per organisation: use chaincode_pids("
                               f"{component[3:]!r}) or pid_of('{component}-org1')")
        return int(pid_file.read_text().strip())

    def chaincode_pids(self, name: str) -> dict[str, int]:
        """The chaincode server pids of ``name``: {"org1": pid, "org2": pid} when deployed with ``per_org``,
        else {"all": pid} (the one server both peers dial)."""
        servers = self.info["chaincodes"][name].get("servers")
        if servers:
            return {org: int(Path(server["pid_file"]).read_text().strip()) for org, server in servers.items()}
        return {"all": self.pid_of(f"cc-{name}")}

    # -- the peer CLI -------------------------------------------------------------------------------------------
    def _cli_env(self, org: str, user: str) -> dict[str, str]:
        info = self.info
        o = info["orgs"][org]
        return {**self.env, "PATH": f"{info['fabric_bin']}:{os.environ['PATH']}",
                "FABRIC_CFG_PATH": info["fabric_cfg_path"], "CORE_PEER_TLS_ENABLED": "true",
                "CORE_PEER_LOCALMSPID": o["msp_id"], "CORE_PEER_ADDRESS": o["peer"]["address"],
                "CORE_PEER_TLS_ROOTCERT_FILE": o["peer"]["tls_ca"],
                "CORE_PEER_MSPCONFIGPATH": o["users"][user]["msp_dir"]}

    def peer(self, *args: str, org: str = "org1", user: str = "User1", check: bool = True,
             timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run(["peer", *args], env=self._cli_env(org, user), capture_output=True, text=True,
                                timeout=timeout)
        result.stderr = _ANSI.sub("", result.stderr)
        if check and result.returncode != 0:
            raise NetworkError(f"peer {' '.join(args[:3])} exited {result.returncode}: {result.stderr[-2000:]}")
        return result

    def invoke(self, chaincode: str, *args: str, org: str = "org1", endorsers: tuple[str, ...] = ("org1", "org2"),
               transient: dict[str, bytes] | None = None, check: bool = True) -> subprocess.CompletedProcess:
        """``peer chaincode invoke --waitForEvent`` endorsed by ``endorsers``."""
        info = self.info
        cli = ["chaincode", "invoke", "-o", info["orderer"]["address"], "--ordererTLSHostnameOverride",
               info["orderer"]["host"], "--tls", "--cafile", info["orderer"]["tls_ca"], "-C", self.channel,
               "-n", chaincode, "--waitForEvent", "-c", json.dumps({"Args": list(args)})]
        for endorser in endorsers:
            peer = info["orgs"][endorser]["peer"]
            cli += ["--peerAddresses", peer["address"], "--tlsRootCertFiles", peer["tls_ca"]]
        if transient:
            cli += ["--transient", json.dumps({k: base64.b64encode(v).decode() for k, v in transient.items()})]
        return self.peer(*cli, org=org, check=check)

    def query(self, chaincode: str, *args: str, org: str = "org1", check: bool = True) -> subprocess.CompletedProcess:
        return self.peer("chaincode", "query", "-C", self.channel, "-n", chaincode,
                         "-c", json.dumps({"Args": list(args)}), org=org, check=check)

    # -- the orderers ---------------------------------------------------------------------------------------------
    @property
    def orderers(self) -> list[dict]:
        """Every Raft orderer of the network (``name``, ``address``, ``admin_address``, ``operations``, ...)."""
        return self.info["orderers"]

    def osnadmin_channel(self, orderer: str, channel: str | None = None) -> dict:
        """``osnadmin channel list --channelID`` on ``orderer``: name, status, consensusRelation, height."""
        info = self.info
        node = next(o for o in info["orderers"] if o["name"] == orderer)
        result = subprocess.run(
            ["osnadmin", "channel", "list", "--channelID", channel or self.channel, "-o", node["admin_address"],
             "--ca-file", node["tls_ca"], "--client-cert", info["orderer_admin"]["tls_cert"],
             "--client-key", info["orderer_admin"]["tls_key"]],
            env={**self.env, "PATH": f"{info['fabric_bin']}:{os.environ['PATH']}"}, capture_output=True, text=True,
            timeout=30)
        if result.returncode != 0 or "{" not in result.stdout:
            raise NetworkError(f"osnadmin channel list on {orderer} exited {result.returncode}: "
                               f"{result.stdout[-1000:]} {result.stderr[-1000:]}")
        return json.loads(result.stdout[result.stdout.index("{"):])

    def orderer_metric(self, orderer: str, metric: str) -> dict[str, float]:
        """The samples of one Prometheus metric on ``orderer``'s operations endpoint: {labels: value}."""
        node = next(o for o in self.info["orderers"] if o["name"] == orderer)
        return _prometheus_samples(node["operations"], metric)

    def peer_metric(self, org: str, metric: str) -> dict[str, float]:
        """The samples of one Prometheus metric on peer0 of ``org``: {labels: value}."""
        return _prometheus_samples(self.info["orgs"][org]["peer"]["operations"], metric)

    def shim_requests(self) -> dict[str, int]:
        """Per message type, the chaincode requests both peers have answered so far (their counter
        chaincode_shim_requests_completed): the round trips between peers and chaincode servers."""
        counts: dict[str, int] = {}
        for org in self.info["orgs"]:
            for labels, value in self.peer_metric(org, "chaincode_shim_requests_completed").items():
                kind = re.search(r'type="([A-Z_]+)"', labels).group(1)
                counts[kind] = counts.get(kind, 0) + int(value)
        return counts

    def height(self, org: str) -> tuple[int, str]:
        out = self.peer("channel", "getinfo", "-c", self.channel, org=org, user="Admin").stdout
        info = json.loads(out[out.index("{"):])
        return info["height"], info["currentBlockHash"]

    def block(self, org: str, number: int | str) -> common_pb2.Block:
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "block.pb"
            self.peer("channel", "fetch", str(number), str(target), "-c", self.channel, org=org, user="Admin")
            return common_pb2.Block.FromString(target.read_bytes())

    def issue_identity(self, org: str, name: str, attributes: dict[str, str]) -> Path:
        """An MSP folder for a new client identity signed by the org's CA, with Fabric CA's attribute extension
        (what Fabric CA's enroll would produce; cryptogen cannot add attributes)."""
        import datetime

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        from fabric_ccaas.identity import ATTRIBUTE_EXTENSION_OID

        domain = f"{org}.example.com"
        org_dir = self.work_dir / "organizations" / "peerOrganizations" / domain
        ca_cert_path = org_dir / "ca" / f"ca.{domain}-cert.pem"
        ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
        ca_key = serialization.load_pem_private_key((org_dir / "ca" / "priv_sk").read_bytes(), None)
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        attrs = {"attrs": {"hf.EnrollmentID": name, "hf.Type": "client", **attributes}}
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "client"),
                                         x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                .issuer_name(ca_cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                # Fabric's MSP validates the chain at the certificate's own NotBefore (+1 s): never backdate
                # before the issuer's NotBefore, or a certificate issued just after `up` is "not yet valid"
                .not_valid_before(max(now - datetime.timedelta(minutes=5), ca_cert.not_valid_before_utc))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                             crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.UnrecognizedExtension(ATTRIBUTE_EXTENSION_OID,
                                                          json.dumps(attrs, sort_keys=True).encode()), critical=False)
                .sign(ca_key, hashes.SHA256()))
        msp = self.work_dir / "identities" / org / name / "msp"
        for sub in ("signcerts", "keystore", "cacerts"):
            (msp / sub).mkdir(parents=True, exist_ok=True)
        (msp / "signcerts" / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path = msp / "keystore" / "key_sk"
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        key_path.chmod(0o600)
        (msp / "cacerts" / ca_cert_path.name).write_bytes(ca_cert_path.read_bytes())
        return msp

    def gateway_as(self, msp_dir: Path, org: str = "org1"):
        """A Gateway connection to ``org``'s peer for an identity issued by :meth:`issue_identity`."""
        from vpp_gateway.fabric import Gateway, load_msp

        o = self.info["orgs"][org]
        msp_id = self.info["orgs"][msp_dir.parts[-3]]["msp_id"]
        return Gateway.connect(o["peer"]["address"], load_msp(msp_dir, msp_id),
                               tls_root_certificates=Path(o["peer"]["tls_ca"]).read_bytes(),
                               ssl_target_name_override=o["peer"]["name"])

    # -- the Python Fabric Gateway client -----------------------------------------------------------------------
    def wait_until_endorsable(self, chaincode: str, timeout: float = 60) -> float:
        """Block until the peer's Gateway can collect endorsements from both orgs for ``chaincode``.

        Right after a channel or chaincode appears, gossip takes a few seconds to tell each peer about the
        other org's peer and what it has installed; until then the Gateway answers FAILED_PRECONDITION.
        The probe only endorses (GetMetadata): nothing is submitted. Returns the seconds waited.
        """
        import asyncio
        import time

        from vpp_gateway.fabric import GatewayError

        async def probe() -> float:
            start = time.monotonic()
            async with self.gateway("org1") as gateway:
                contract = gateway.get_network(self.channel).get_contract(chaincode)
                while True:
                    try:
                        await contract.new_proposal("org.hyperledger.fabric:GetMetadata").endorse()
                        return time.monotonic() - start
                    except GatewayError as exc:
                        if time.monotonic() - start > timeout:
                            raise NetworkError(f"{chaincode} not endorsable after {timeout}s: {exc}") from exc
                        await asyncio.sleep(0.5)

        return asyncio.run(probe())

    def gateway(self, org: str = "org1", user: str = "User1"):
        from vpp_gateway.fabric import Gateway, load_msp

        o = self.info["orgs"][org]
        identity = load_msp(o["users"][user]["msp_dir"], o["msp_id"])
        return Gateway.connect(o["peer"]["address"], identity,
                               tls_root_certificates=Path(o["peer"]["tls_ca"]).read_bytes(),
                               ssl_target_name_override=o["peer"]["name"])


def _prometheus_samples(operations_url: str, metric: str) -> dict[str, float]:
    import urllib.request

    with urllib.request.urlopen(f"{operations_url}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line.startswith(metric) and line[len(metric):len(metric) + 1] in ("{", " "):
            labels, _, value = line[len(metric):].rpartition(" ")
            samples[labels.strip()] = float(value)
    return samples


def endorser_transactions(block: common_pb2.Block):
    """(tx id, validation code, ChaincodeAction) for each endorser transaction of a block."""
    codes = block.metadata.metadata[common_pb2.TRANSACTIONS_FILTER]
    for index, raw in enumerate(block.data.data):
        payload = common_pb2.Payload.FromString(common_pb2.Envelope.FromString(raw).payload)
        header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
        if header.type != common_pb2.ENDORSER_TRANSACTION:
            continue
        tx = transaction_pb2.Transaction.FromString(payload.data)
        action = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
        response = proposal_response_pb2.ProposalResponsePayload.FromString(action.action.proposal_response_payload)
        yield header.tx_id, codes[index], proposal_pb2.ChaincodeAction.FromString(response.extension)


def transactions_in(block: common_pb2.Block) -> list[BlockTransaction]:
    """Each endorser transaction of a block with its validation code and chaincode event."""
    found = []
    for tx_id, code, cc_action in endorser_transactions(block):
        event = chaincode_event_pb2.ChaincodeEvent.FromString(cc_action.events)
        found.append(BlockTransaction(tx_id, code, cc_action.chaincode_id.name, event.event_name, event.payload))
    return found


def parse_invoke_payload(stderr: str) -> str:
    """The payload printed by ``peer chaincode invoke`` ("... result: status:200 payload:"...")."""
    match = re.search(r'result: status:(\d+)(?: payload:"((?:[^"\\]|\\.)*)")?', stderr)
    if not match:
        raise NetworkError(f"no result in: {stderr[-500:]}")
    raw = match.group(2) or ""
    return bytes(raw, "utf-8").decode("unicode_escape")
