"""docker-compose.yaml, the whole system for users with Docker, checked without a Docker engine.

The structure is read with PyYAML (services, healthchecks, volumes, ports, images, secrets, start order); the
compose client validates the file when one is installed (Debian's docker-compose 1.29 needs no engine); the
compose network's configtx.yaml is checked against the native one and turned into a genesis block by configtxgen
when the Fabric binaries are on PATH; the scripts the containers run are syntax-checked.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
COMPOSE_DIR = ROOT / "network" / "compose"
GEN_ENV = COMPOSE_DIR / "gen-env.sh"

ORDERERS = ("orderer", "orderer2", "orderer3")
PEERS = ("peer0-org1", "peer0-org2")
CAS = ("ca-orderer", "ca-org1", "ca-org2")
JOBS = ("enroll", "channel", "chaincode-deploy")
REQUIRED = (*CAS, *JOBS, *ORDERERS, *PEERS, "couchdb-org1", "couchdb-org2", "chaincode", "gateway", "mosquitto",
            "edge-simulators", "edge-reader", "edge-bridge")
# Official images and the version lines the issue asks for.
PINNED = {
    "hyperledger/fabric-peer": r"2\.5\.12",
    "hyperledger/fabric-orderer": r"2\.5\.12",
    "hyperledger/fabric-tools": r"2\.5\.12",
    "hyperledger/fabric-ca": r"1\.5\.\d+",
    "couchdb": r"3\.3\.\d+",
    "eclipse-mosquitto": r"2\.0\.\d+",
}
# Where each stateful image keeps what must survive a restart.
STATE_PATHS = {
    "hyperledger/fabric-orderer": "/var/hyperledger/production/orderer",
    "hyperledger/fabric-peer": "/var/hyperledger/production",
    "hyperledger/fabric-ca": "/etc/hyperledger/fabric-ca-server",
    "couchdb": "/opt/couchdb/data",
    "eclipse-mosquitto": "/mosquitto/data",
}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|PASSPHRASE|API_KEY|PRIVATE", re.I)
# ${NAME} interpolated by compose from .env; $${NAME} is a literal ${NAME} for the container's shell.
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Z0-9_]+)")


def compose_lines() -> str:
    """docker-compose.yaml without its comments."""
    return "\n".join(line for line in COMPOSE_FILE.read_text().splitlines() if not line.lstrip().startswith("#"))


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def image_name(service: dict) -> str:
    return service.get("image", "").rsplit(":", 1)[0]


def mounts(service: dict) -> list[tuple[str, str]]:
    """(source, target) of each volume entry in short syntax."""
    found = []
    for entry in service.get("volumes", []):
        source, target = entry.split(":")[:2]
        found.append((source, target))
    return found


def aliases(service: dict) -> list[str]:
    networks = service.get("networks") or {}
    if isinstance(networks, list):
        return []
    return [alias for net in networks.values() for alias in ((net or {}).get("aliases") or [])]


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment is written as a mapping"
    return {key: str(value) for key, value in env.items()}


# -------------------------------------------------------------------------------- topology


def test_every_part_of_the_system_is_a_service(services):
    missing = [name for name in REQUIRED if name not in services]
    assert not missing, f"missing services: {missing}"


def test_three_raft_orderers_two_peers_each_with_its_couchdb(services):
    by_image: dict[str, list[str]] = {}
    for name, service in services.items():
        by_image.setdefault(image_name(service), []).append(name)
    assert sorted(by_image["hyperledger/fabric-orderer"]) == list(ORDERERS)
    assert sorted(by_image["hyperledger/fabric-peer"]) == list(PEERS)
    assert sorted(by_image["hyperledger/fabric-ca"]) == sorted([*CAS, "enroll"])
    assert sorted(by_image["couchdb"]) == ["couchdb-org1", "couchdb-org2"]
    for org in ("org1", "org2"):
        env = environment(services[f"peer0-{org}"])
        assert env["CORE_LEDGER_STATE_COUCHDBCONFIG_COUCHDBADDRESS"] == f"couchdb-{org}:5984"
    peer_env = (COMPOSE_DIR / "peer.env").read_text()
    assert "CORE_LEDGER_STATE_STATEDATABASE=CouchDB" in peer_env


def test_orderer_ports_match_the_raft_consenters_of_the_channel(services):
    configtx = yaml.safe_load((COMPOSE_DIR / "configtx.yaml").read_text())
    consenters = configtx["Profiles"]["VppChannelUsingRaft"]["Orderer"]["EtcdRaft"]["Consenters"]
    assert len(consenters) == 3
    listening = {}
    for name in ORDERERS:
        service = services[name]
        port = environment(service)["ORDERER_GENERAL_LISTENPORT"]
        for alias in aliases(service):
            listening[alias] = int(port)
        # the certificates the consenter entry names are the ones this orderer serves with
        assert f"orderers/{name}.example.com/tls/server.crt" in environment(service)["ORDERER_GENERAL_TLS_CERTIFICATE"]
    assert {c["Host"]: c["Port"] for c in consenters} == listening
    endpoints = configtx["Organizations"][0]["OrdererEndpoints"]
    assert sorted(endpoints) == sorted(f"{host}:{port}" for host, port in listening.items())


def test_peer_addresses_match_the_anchor_peers(services):
    configtx = yaml.safe_load((COMPOSE_DIR / "configtx.yaml").read_text())
    orgs = {org["ID"]: org for org in configtx["Organizations"]}
    for number in (1, 2):
        env = environment(services[f"peer0-org{number}"])
        anchor = orgs[f"Org{number}MSP"]["AnchorPeers"][0]
        assert env["CORE_PEER_GOSSIP_EXTERNALENDPOINT"] == f"{anchor['Host']}:{anchor['Port']}"
        assert anchor["Host"] in aliases(services[f"peer0-org{number}"])
        assert env["CORE_PEER_LISTENADDRESS"].endswith(f":{anchor['Port']}")


# -------------------------------------------------------------------------------- operations


def test_every_service_has_a_healthcheck(services):
    for name, service in services.items():
        check = service.get("healthcheck") or {}
        assert not check.get("disable"), name
        test = check.get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, f"{name}: no healthcheck test"


def test_healthchecks_probe_what_the_issue_names(services):
    def probe(name):
        return " ".join(services[name]["healthcheck"]["test"])

    for name in (*ORDERERS, *PEERS):
        assert "/healthz" in probe(name), name
    for name in ("couchdb-org1", "couchdb-org2"):
        assert "/_up" in probe(name)
    for name in CAS:
        assert "getcainfo" in probe(name)  # GET /cainfo
    assert "/api/v1/health" in probe("gateway")
    # the operations port the orderer/peer listens on is the one probed
    for name in (*ORDERERS, *PEERS):
        env = environment(services[name])
        ops = env.get("ORDERER_OPERATIONS_LISTENADDRESS") or env["CORE_OPERATIONS_LISTENADDRESS"]
        assert ops.rsplit(":", 1)[1] in services[name]["healthcheck"]["test"], name


def test_every_stateful_service_keeps_its_state_in_a_named_volume(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        image = image_name(service)
        if image in STATE_PATHS and name != "enroll":
            named = {target: source for source, target in mounts(service) if source in declared}
            assert STATE_PATHS[image] in named, f"{name}: {STATE_PATHS[image]} is not a named volume"
    gateway_mounts = {target: source for source, target in mounts(services["gateway"])}
    assert gateway_mounts[environment(services["gateway"])["VPP_DATA_DIR"]] in declared
    used = {source for service in services.values() for source, _ in mounts(service)}
    assert declared <= used, f"declared but unused volumes: {declared - used}"
    # bind mounts are files of this repository, read-only
    for service in services.values():
        for entry in service.get("volumes", []):
            source = entry.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
                assert entry.endswith(":ro"), entry
        for env_file in service.get("env_file", []):
            assert (ROOT / env_file).is_file(), env_file


def test_every_port_is_bound_to_loopback(services):
    bindings = [(name, str(port)) for name, service in services.items() for port in service.get("ports", [])]
    assert bindings, "the gateway at least must be reachable from the host"
    for name, port in bindings:
        assert port.startswith("127.0.0.1:"), f"{name}: {port} is not bound to 127.0.0.1"
    host_ports = [port.split(":")[1] for _, port in bindings]
    assert len(host_ports) == len(set(host_ports)), "two services publish the same host port"
    assert "127.0.0.1:8080:8080" in services["gateway"]["ports"]


def test_images_are_official_and_pinned(services):
    for name, service in services.items():
        image = service.get("image")
        assert image, f"{name}: no image"
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest", f"{name}: {image} is not pinned"
        if "build" in service:
            assert repository.startswith("vpp-ledger/"), f"{name}: a built image is named vpp-ledger/..."
        elif repository not in ("vpp-ledger/app",):
            assert repository in PINNED, f"{name}: {repository} is not one of the official images"
            assert re.fullmatch(PINNED[repository], tag), f"{name}: {image}"
    for dockerfile in (COMPOSE_DIR / "app.Dockerfile", ROOT / "chaincode" / "Dockerfile"):
        for line in dockerfile.read_text().splitlines():
            if line.startswith("FROM "):
                base = line.split()[1]
                assert ":" in base and not base.endswith(":latest"), f"{dockerfile.name}: {line}"


def test_no_secret_is_written_in_the_file(services):
    for name, service in services.items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key) and not value.startswith("/"):  # a key *file* in a volume is fine
                assert re.fullmatch(r"\$\{[A-Z0-9_]+(:\?[^}]*)?\}", value), f"{name}: {key} is a literal value"
        command = service.get("command") or ""
        text = command if isinstance(command, str) else " ".join(command)
        for match in re.finditer(r"-b\s+\S*?:(\S+)", text):  # fabric-ca-server -b user:password
            assert "$${" in match.group(1) or "${" in match.group(1), f"{name}: literal bootstrap password"
    assert "adminpw" not in COMPOSE_FILE.read_text()


def test_every_variable_is_generated_by_gen_env(tmp_path):
    referenced = set(VARIABLE.findall(compose_lines()))
    assert referenced, "passwords come from ${VARIABLES}"
    env_file = tmp_path / ".env"
    subprocess.run(["sh", str(GEN_ENV), str(env_file)], check=True, capture_output=True)
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    assert referenced <= set(values), f"not written by gen-env.sh: {referenced - set(values)}"


def test_gen_env_writes_random_private_values_and_keeps_them(tmp_path):
    first, second = tmp_path / "a.env", tmp_path / "b.env"
    for target in (first, second):
        subprocess.run(["sh", str(GEN_ENV), str(target)], check=True, capture_output=True)
    assert stat.S_IMODE(first.stat().st_mode) == 0o600

    def secrets(path):
        pairs = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
        return {k: v for k, v in pairs.items() if SECRET_NAME.search(k)}

    a, b = secrets(first), secrets(second)
    assert len(a) >= 5
    assert all(re.fullmatch(r"[0-9a-f]{32}", v) for v in a.values()), a
    assert all(a[k] != b[k] for k in a), "two set-ups got the same password"
    assert len(set(a.values())) == len(a)
    # a second run keeps every value and adds what is missing
    text = first.read_text().replace(next(line for line in first.read_text().splitlines()
                                          if line.startswith("COUCHDB_ORG2_PASSWORD=")) + "\n", "")
    first.write_text(text)
    out = subprocess.run(["sh", str(GEN_ENV), str(first)], check=True, capture_output=True, text=True).stdout
    assert "COUCHDB_ORG2_PASSWORD" in out
    after = secrets(first)
    assert {k: v for k, v in after.items() if k != "COUCHDB_ORG2_PASSWORD"} == \
        {k: v for k, v in a.items() if k != "COUCHDB_ORG2_PASSWORD"}
    assert after["COUCHDB_ORG2_PASSWORD"] != a["COUCHDB_ORG2_PASSWORD"]


def test_start_order_waits_for_health_or_completion(services):
    expected = {
        "enroll": {"ca-orderer": "service_healthy", "ca-org1": "service_healthy", "ca-org2": "service_healthy"},
        **{o: {"enroll": "service_completed_successfully"} for o in ORDERERS},
        "peer0-org1": {"couchdb-org1": "service_healthy", **{o: "service_healthy" for o in ORDERERS}},
        "peer0-org2": {"couchdb-org2": "service_healthy", **{o: "service_healthy" for o in ORDERERS}},
        "channel": {p: "service_healthy" for p in PEERS},
        "chaincode-deploy": {"channel": "service_completed_successfully"},
        "chaincode": {"chaincode-deploy": "service_completed_successfully"},
        "gateway": {"chaincode": "service_healthy", **{p: "service_healthy" for p in PEERS}},
        "edge-reader": {"mosquitto": "service_healthy"},
        "edge-bridge": {"mosquitto": "service_healthy", "gateway": "service_healthy"},
    }
    for name, needs in expected.items():
        depends = services[name].get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        for dependency, condition in needs.items():
            assert depends.get(dependency, {}).get("condition") == condition, (name, dependency)
    for name, service in services.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            assert dependency in services, (name, dependency)
            if spec["condition"] == "service_completed_successfully":
                assert services[dependency].get("restart") == "no", f"{dependency} is a one-shot job"


def test_gateway_runs_the_rest_api_on_fabric_and_serves_the_web_app(services):
    gateway = services["gateway"]
    env = environment(gateway)
    assert gateway["command"] == ["python", "-m", "vpp_gateway.api"]
    assert env["VPP_BACKEND"] == "fabric"
    assert env["VPP_FABRIC_PEER"].split(":")[0] in aliases(services["peer0-org1"])
    assert env["VPP_FABRIC_CHANNEL"] == environment(services["channel"])["CHANNEL_NAME"]
    assert env["VPP_CHAINCODE"] == environment(services["chaincode-deploy"])["CC_NAME"]
    assert env["VPP_WEB_DIR"] and env["VPP_HOST"] == "0.0.0.0"
    assert "COPY --from=web /web/dist " + env["VPP_WEB_DIR"] in (COMPOSE_DIR / "app.Dockerfile").read_text()
    chaincode = services["chaincode"]
    assert environment(chaincode)["CHAINCODE_MODULE"] == "vpp_contract.contract:chaincode"
    assert chaincode["build"]["dockerfile"] == "chaincode/Dockerfile"
    # the peers dial the address the deploy job packaged
    server_port = environment(chaincode)["CHAINCODE_SERVER_ADDRESS"].rsplit(":", 1)[1]
    assert environment(services["chaincode-deploy"])["CC_ADDRESS"] == f"chaincode:{server_port}"


# -------------------------------------------------------------------------------- the compose client


def compose_client() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return None


@pytest.mark.skipif(compose_client() is None, reason="no compose client (apt-get install docker-compose)")
def test_compose_client_accepts_the_file(tmp_path):
    # A copy, so the generated .env never lands in the working tree.
    shutil.copy(COMPOSE_FILE, tmp_path / "docker-compose.yaml")
    shutil.copytree(COMPOSE_DIR, tmp_path / "network" / "compose")
    env = {k: v for k, v in os.environ.items() if not VARIABLE.fullmatch("${" + k)}
    without = subprocess.run([*compose_client(), "-f", "docker-compose.yaml", "config", "-q"], cwd=tmp_path,
                             env=env, capture_output=True, text=True)
    assert without.returncode != 0 and "gen-env.sh" in without.stderr + without.stdout
    subprocess.run(["sh", "network/compose/gen-env.sh"], cwd=tmp_path, check=True, capture_output=True)
    result = subprocess.run([*compose_client(), "-f", "docker-compose.yaml", "config", "-q"], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# -------------------------------------------------------------------------------- Fabric configuration


def _without_addresses(node):
    """The configtx structure with hosts, ports and file paths removed: what must agree between the networks."""
    if isinstance(node, dict):
        return {k: _without_addresses(v) for k, v in node.items()
                if k not in ("Host", "Port", "ClientTLSCert", "ServerTLSCert", "MSPDir", "OrdererEndpoints")}
    if isinstance(node, list):
        return [_without_addresses(v) for v in node]
    return node


def test_compose_channel_matches_the_native_channel():
    native_text = (ROOT / "network" / "configtx.yaml").read_text()
    defaults = {"BATCH_TIMEOUT": "250ms", "MAX_MESSAGE_COUNT": "10", "ABSOLUTE_MAX_BYTES": "99 MB",
                "PREFERRED_MAX_BYTES": "512 KB"}
    config = (ROOT / "network" / "network.config").read_text()
    for key, value in defaults.items():
        assert f'"${{{key}:={value}}}"' in config, f"network.config's {key} default changed: update this test"
    native_text = re.sub(r"\$\{(\w+)\}", lambda m: defaults.get(m.group(1), "0"), native_text)
    native = yaml.safe_load(native_text)
    composed = yaml.safe_load((COMPOSE_DIR / "configtx.yaml").read_text())
    assert _without_addresses(composed["Profiles"]) == _without_addresses(native["Profiles"])
    assert len(composed["Orderer"]["EtcdRaft"]["Consenters"]) == len(native["Orderer"]["EtcdRaft"]["Consenters"]) == 3


FABRIC_TOOLS = all(shutil.which(tool) for tool in ("cryptogen", "configtxgen"))


@pytest.mark.skipif(not FABRIC_TOOLS, reason="cryptogen/configtxgen not on PATH")
def test_compose_configtx_makes_a_genesis_block_with_three_consenters(tmp_path):
    # cryptogen writes the same layout enroll.sh writes from Fabric CA, so it stands in for /organizations.
    orgs = tmp_path / "organizations"
    subprocess.run(["cryptogen", "generate", f"--config={ROOT / 'network' / 'crypto-config.yaml'}",
                    f"--output={orgs}"], check=True, capture_output=True)
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    text = (COMPOSE_DIR / "configtx.yaml").read_text().replace("/organizations/", f"{orgs}/")
    (config_dir / "configtx.yaml").write_text(text)
    block = tmp_path / "vppchannel.block"
    subprocess.run(["configtxgen", "-configPath", str(config_dir), "-profile", "VppChannelUsingRaft",
                    "-outputBlock", str(block), "-channelID", "vppchannel"], check=True, capture_output=True)
    inspected = subprocess.run(["configtxgen", "-inspectBlock", str(block)], check=True, capture_output=True,
                               text=True).stdout
    config = json.loads(inspected)["data"]["data"][0]["payload"]["data"]["config"]
    orderer = config["channel_group"]["groups"]["Orderer"]
    consenters = orderer["values"]["ConsensusType"]["value"]["metadata"]["consenters"]
    assert [(c["host"], c["port"]) for c in consenters] == [
        ("orderer.example.com", 7050), ("orderer2.example.com", 7056), ("orderer3.example.com", 7066)]
    assert set(config["channel_group"]["groups"]["Application"]["groups"]) == {"Org1MSP", "Org2MSP"}


# -------------------------------------------------------------------------------- scripts


@pytest.mark.parametrize("script", [*sorted(p.name for p in (COMPOSE_DIR / "scripts").glob("*.sh")), "gen-env.sh"])
def test_scripts_the_containers_run_parse_as_posix_sh(script):
    path = COMPOSE_DIR / "scripts" / script if script != "gen-env.sh" else GEN_ENV
    checker = shutil.which("dash") or "sh"
    result = subprocess.run([checker, "-n", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_peer_entrypoint_empties_vm_endpoint_in_fabrics_core_yaml(tmp_path):
    """start-peer.sh against Fabric's own core.yaml (when installed; else a minimal one in the same shape)."""
    sample = None
    peer = shutil.which("peer")
    if peer:
        candidate = Path(peer).resolve().parent.parent / "config" / "core.yaml"
        sample = candidate if candidate.is_file() else None
    cfg = tmp_path / "image-config"
    cfg.mkdir()
    if sample:
        shutil.copy(sample, cfg / "core.yaml")
    else:
        (cfg / "core.yaml").write_text("peer:\n  id: x\nvm:\n\n    endpoint: unix:///var/run/docker.sock\n"
                                       "    docker:\n        tls:\n            enabled: false\nchaincode:\n  id: y\n")
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "peer").write_text('#!/bin/sh\necho "peer $* with $FABRIC_CFG_PATH"\n')
    (fake_bin / "peer").chmod(0o755)
    out = tmp_path / "peer-config"
    result = subprocess.run(["sh", str(COMPOSE_DIR / "scripts" / "start-peer.sh")], capture_output=True, text=True,
                            env={**os.environ, "PATH": f"{fake_bin}:{os.environ['PATH']}", "FABRIC_CFG_PATH": str(cfg),
                                 "VPP_PEER_CONFIG_DIR": str(out)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"peer node start with {out}"
    patched = yaml.safe_load((out / "core.yaml").read_text())
    original = yaml.safe_load((cfg / "core.yaml").read_text())
    assert patched["vm"]["endpoint"] == ""
    original["vm"]["endpoint"] = ""
    assert patched == original  # nothing else changed
