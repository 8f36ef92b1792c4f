#!/usr/bin/env python3
"""Helper for network.sh: the parts that are easier and safer in Python than in sh.

Sub-commands (all settings come from the environment that network.sh exports):

  gen-node-configs   read the user's Fabric core.yaml / orderer.yaml and write one
                     config per node into the work folder with our overrides
  gen-configtx OUT   fill the ${...} placeholders of network/configtx.yaml, keep the
                     first ORDERER_COUNT Raft consenters and orderer endpoints
  check-ports P...   fail (exit 3) naming every port that is already bound on 127.0.0.1
  free-port START    print the first free port >= START not in --exclude
  start              start one process in its own session, write its pid file
  stop PIDFILE...    SIGTERM each process group, SIGKILL after a grace period
  alive PIDFILE      exit 0 if the process recorded in PIDFILE is alive
  wait-health        poll operations /healthz URLs until all report OK
  package-ccaas      build a chaincode-as-a-service package (metadata.json + code.tar.gz)
  json               small JSON queries over peer CLI output (no jq needed)
  write-network-json write <work>/network.json for test fixtures

Only the standard library and PyYAML are used.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socket
import string
import sys
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

# Exit codes shared with network.sh.
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_PREREQ = 3
EXIT_TIMEOUT = 4

# Every process we start carries this variable; `stop` only signals processes that
# carry it with the same work folder, so a recycled pid is never killed by mistake.
MARKER = "VPP_NETWORK_WORK_DIR"

NETWORK_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        die(f"internal error: {name} is not set", EXIT_USAGE)
    return value


def die(msg: str, code: int = EXIT_FAIL) -> None:
    print(f"netctl: {msg}", file=sys.stderr)
    sys.exit(code)


def load_yaml(path: Path) -> dict:
    try:
        import yaml
    except ImportError:  # pragma: no cover - checked by network.sh first
        die("PyYAML is not installed for this Python", EXIT_PREREQ)
    with path.open() as f:
        return yaml.safe_load(f)


def dump_yaml(data: dict, path: Path, header: str, expand_aliases: bool = False) -> None:
    import yaml

    class ExpandingDumper(yaml.SafeDumper):
        def ignore_aliases(self, data):  # write shared objects out in full instead of as &anchors
            return True

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        f.write(header)
        yaml.dump(data, f, Dumper=ExpandingDumper if expand_aliases else yaml.SafeDumper, sort_keys=False,
                  default_flow_style=False)


def set_path(doc: dict, dotted: str, value) -> None:
    """Set doc[a][b][c] = value for dotted 'a.b.c', creating maps on the way."""
    keys = dotted.split(".")
    node = doc
    for key in keys[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[keys[-1]] = value


# --------------------------------------------------------------------------- configs

def org_dir() -> Path:
    return Path(env("NETWORK_WORK_DIR")) / "organizations"


def peer_overrides(org: int) -> dict:
    """What we change in the user's core.yaml for peer0.org<org>."""
    work = Path(env("NETWORK_WORK_DIR"))
    name = f"peer0.org{org}.example.com"
    port = env(f"PEER0_ORG{org}_PORT")
    cc_port = env(f"PEER0_ORG{org}_CC_PORT")
    ops_port = env(f"PEER0_ORG{org}_OPS_PORT")
    node_dir = org_dir() / f"peerOrganizations/org{org}.example.com/peers/{name}"
    data = work / "data" / f"peer0.org{org}"
    address = f"127.0.0.1:{port}"
    return {
        "peer.id": name,
        "peer.networkId": "vpp",
        "peer.listenAddress": address,
        "peer.address": address,
        "peer.chaincodeListenAddress": f"127.0.0.1:{cc_port}",
        "peer.chaincodeAddress": f"127.0.0.1:{cc_port}",
        "peer.localMspId": f"Org{org}MSP",
        "peer.mspConfigPath": str(node_dir / "msp"),
        "peer.fileSystemPath": str(data),
        # One peer per org: it bootstraps gossip from itself, and publishes its
        # external endpoint so the other org (discovery, Gateway) can reach it.
        "peer.gossip.bootstrap": address,
        "peer.gossip.externalEndpoint": address,
        "peer.gossip.useLeaderElection": False,
        "peer.gossip.orgLeader": True,
        "peer.tls.enabled": True,
        "peer.tls.clientAuthRequired": False,
        "peer.tls.cert.file": str(node_dir / "tls/server.crt"),
        "peer.tls.key.file": str(node_dir / "tls/server.key"),
        "peer.tls.rootcert.file": str(node_dir / "tls/ca.crt"),
        "peer.gateway.enabled": True,
        "peer.gateway.endorsementTimeout": env("GATEWAY_ENDORSEMENT_TIMEOUT", "30s"),
        # PEER_PROFILE=true: Go's pprof endpoint, to see where a peer spends its CPU (off by default)
        "peer.profile.enabled": env("PEER_PROFILE", "false") == "true",
        "peer.profile.listenAddress": f"127.0.0.1:{env(f'PEER0_ORG{org}_PROFILE_PORT', '0')}",
        # No Docker: an empty vm.endpoint keeps the peer from registering a Docker
        # health checker and from falling back to the Docker builder.
        "vm.endpoint": "",
        "chaincode.externalBuilders": [
            {
                "name": "vpp-ccaas",
                "path": str(NETWORK_DIR / "builders" / "ccaas"),
                "propagateEnvironment": [],
            }
        ],
        "chaincode.executetimeout": env("CC_EXECUTE_TIMEOUT", "15s"),
        "chaincode.startuptimeout": env("CC_STARTUP_TIMEOUT", "60s"),
        "chaincode.installTimeout": "60s",
        "ledger.state.stateDatabase": "goleveldb",
        "ledger.snapshots.rootDir": str(data / "snapshots"),
        "operations.listenAddress": f"127.0.0.1:{ops_port}",
        "operations.tls.enabled": False,
        "metrics.provider": "prometheus",
    }


# The Raft orderers: orderer, orderer2, orderer3 (ORDERER_COUNT of them, in this order). Each has its
# own ports (ORDERER_PORT / ORDERER2_PORT ..., see network.config), certificates and ledger folder.
ORDERER_NAMES = ("orderer", "orderer2", "orderer3")


def orderer_names() -> list[str]:
    raw = env("ORDERER_COUNT", "1")
    if raw not in ("1", "2", "3"):
        die(f"ORDERER_COUNT must be 1, 2 or 3, not {raw!r}", EXIT_USAGE)
    return list(ORDERER_NAMES[: int(raw)])


def orderer_port_var(name: str, kind: str = "") -> str:
    """'orderer2', '_ADMIN' -> 'ORDERER2_ADMIN_PORT' (the variables network.config defines)."""
    return f"{name.upper()}{kind}_PORT"


def orderer_overrides(name: str) -> dict:
    work = Path(env("NETWORK_WORK_DIR"))
    node_dir = org_dir() / f"ordererOrganizations/example.com/orderers/{name}.example.com"
    tls = node_dir / "tls"
    data = work / "data" / name
    return {
        "General.ListenAddress": "127.0.0.1",
        "General.ListenPort": int(env(orderer_port_var(name))),
        "General.TLS.Enabled": True,
        "General.TLS.PrivateKey": str(tls / "server.key"),
        "General.TLS.Certificate": str(tls / "server.crt"),
        "General.TLS.RootCAs": [str(tls / "ca.crt")],
        "General.TLS.ClientAuthRequired": False,
        "General.Cluster.ClientCertificate": str(tls / "server.crt"),
        "General.Cluster.ClientPrivateKey": str(tls / "server.key"),
        "General.Cluster.RootCAs": [str(tls / "ca.crt")],
        # No system channel: channels are joined through the participation API.
        "General.BootstrapMethod": "none",
        "General.LocalMSPDir": str(node_dir / "msp"),
        "General.LocalMSPID": "OrdererMSP",
        "FileLedger.Location": str(data / "ledger"),
        "Consensus.WALDir": str(data / "etcdraft" / "wal"),
        "Consensus.SnapDir": str(data / "etcdraft" / "snapshot"),
        "ChannelParticipation.Enabled": True,
        "Admin.ListenAddress": f"127.0.0.1:{env(orderer_port_var(name, '_ADMIN'))}",
        "Admin.TLS.Enabled": True,
        "Admin.TLS.Certificate": str(tls / "server.crt"),
        "Admin.TLS.PrivateKey": str(tls / "server.key"),
        "Admin.TLS.ClientAuthRequired": True,
        "Admin.TLS.ClientRootCAs": [str(tls / "ca.crt")],
        "Operations.ListenAddress": f"127.0.0.1:{env(orderer_port_var(name, '_OPS'))}",
        "Operations.TLS.Enabled": False,
        "Metrics.Provider": "prometheus",
    }


def cmd_gen_node_configs(args) -> None:
    src = Path(env("FABRIC_CFG_DIR"))
    out = Path(env("NETWORK_WORK_DIR")) / "config"
    header = (
        "# GENERATED by network/scripts/netctl.py at network.sh up: the user's\n"
        "# {src} with the overrides for this node. Edit network/scripts/netctl.py,\n"
        "# not this file.\n"
    )
    for org in (1, 2):
        doc = load_yaml(src / "core.yaml")
        for key, value in peer_overrides(org).items():
            set_path(doc, key, value)
        target = out / f"peer0.org{org}" / "core.yaml"
        dump_yaml(doc, target, header.format(src=src / "core.yaml"))
        print(f"  wrote {target}")
    for name in orderer_names():
        doc = load_yaml(src / "orderer.yaml")
        for key, value in orderer_overrides(name).items():
            set_path(doc, key, value)
        target = out / name / "orderer.yaml"
        dump_yaml(doc, target, header.format(src=src / "orderer.yaml"))
        print(f"  wrote {target}")


def cmd_gen_configtx(args) -> None:
    template = string.Template((NETWORK_DIR / "configtx.yaml").read_text())
    count = len(orderer_names())
    values = {
        "ORG_DIR": str(org_dir()),
        # The template names all three orderers; the ones beyond ORDERER_COUNT are dropped below.
        **{orderer_port_var(name): env(orderer_port_var(name), "0") for name in ORDERER_NAMES},
        "PEER0_ORG1_PORT": env("PEER0_ORG1_PORT"),
        "PEER0_ORG2_PORT": env("PEER0_ORG2_PORT"),
        "BATCH_TIMEOUT": env("BATCH_TIMEOUT"),
        "MAX_MESSAGE_COUNT": env("MAX_MESSAGE_COUNT"),
        "ABSOLUTE_MAX_BYTES": env("ABSOLUTE_MAX_BYTES"),
        "PREFERRED_MAX_BYTES": env("PREFERRED_MAX_BYTES"),
    }
    try:
        text = template.substitute(values)
    except (KeyError, ValueError) as exc:
        die(f"configtx.yaml template: bad placeholder {exc}", EXIT_FAIL)
    doc = keep_orderers(yaml_load_text(text), count)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    dump_yaml(doc, out, "# GENERATED from network/configtx.yaml by netctl.py gen-configtx (anchors expanded)\n",
              expand_aliases=True)
    print(f"  wrote {out} ({count} Raft consenter(s))")


def yaml_load_text(text: str) -> dict:
    import yaml

    return yaml.safe_load(text)


def keep_orderers(doc: dict, count: int) -> dict:
    """Keep the first ``count`` Raft consenters and orderer endpoints of every orderer section and organisation.

    After loading, the profile's sections are the same objects as the anchored defaults, so trimming the
    top-level ones trims the profile's too; the profile is walked as well in case it was written out in full.
    """
    def trim_orderer(section: dict | None) -> None:
        consenters = ((section or {}).get("EtcdRaft") or {}).get("Consenters")
        if consenters is not None:
            if len(consenters) < count:
                die(f"configtx.yaml lists {len(consenters)} consenters, ORDERER_COUNT is {count}", EXIT_FAIL)
            del consenters[count:]

    def trim_org(org: dict) -> None:
        endpoints = org.get("OrdererEndpoints")
        if endpoints is not None:
            del endpoints[count:]

    trim_orderer(doc.get("Orderer"))
    for org in doc.get("Organizations") or []:
        trim_org(org)
    for profile in (doc.get("Profiles") or {}).values():
        trim_orderer(profile.get("Orderer"))
        for org in (profile.get("Orderer") or {}).get("Organizations") or []:
            trim_org(org)
    return doc


# --------------------------------------------------------------------------- ports

def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def cmd_check_ports(args) -> None:
    busy = [f"{p}" for p in args.ports if port_in_use(int(p))]
    if busy:
        die(
            "port(s) already in use on 127.0.0.1: " + ", ".join(busy)
            + " (another network running? set NETWORK_PORT_BASE or stop it)",
            EXIT_PREREQ,
        )


def cmd_free_port(args) -> None:
    exclude = {int(p) for p in args.exclude.split(",") if p}
    port = args.start
    while port < 65535:
        if port not in exclude and not port_in_use(port):
            print(port)
            return
        port += 1
    die("no free port", EXIT_FAIL)


# --------------------------------------------------------------------------- processes

def read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def proc_environ_has(pid: int, marker: str) -> bool:
    try:
        data = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return marker.encode() in data.split(b"\0")


def proc_pgid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 5 is pgrp; the command name (field 2) may contain spaces, so split after ')'.
    fields = stat.rsplit(")", 1)[1].split()
    state, pgrp = fields[0], int(fields[2])
    if state == "Z":
        return None
    return pgrp


def group_members(pgid: int, marker: str) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            pid = int(entry)
            if proc_pgid(pid) == pgid and proc_environ_has(pid, marker):
                members.append(pid)
    return members


def our_marker() -> str:
    return f"{MARKER}={env('NETWORK_WORK_DIR')}"


def is_alive(pidfile: Path) -> bool:
    pid = read_pid(pidfile)
    return bool(pid) and bool(group_members(pid, our_marker()))


def cmd_alive(args) -> None:
    sys.exit(0 if is_alive(Path(args.pidfile)) else 1)


def cmd_start(args) -> None:
    pidfile, logfile = Path(args.pid), Path(args.log)
    if pidfile.exists() and is_alive(pidfile):
        die(f"{args.name} is already running (pid {read_pid(pidfile)}, {pidfile})", EXIT_FAIL)
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    logfile.parent.mkdir(parents=True, exist_ok=True)
    child_env = dict(os.environ)
    if args.clean_env:
        # A shell that sourced envVar.sh carries CORE_PEER_* for the CLI; those would
        # override the node's generated config, so nodes get none of them.
        for key in list(child_env):
            if key.startswith(("CORE_", "ORDERER_", "FABRIC_")):
                del child_env[key]
    for item in args.env or []:
        key, _, value = item.partition("=")
        child_env[key] = value
    child_env[MARKER] = env("NETWORK_WORK_DIR")
    cmd = args.command
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        die("start: no command given", EXIT_USAGE)
    import subprocess

    with logfile.open("ab") as log:
        log.write(f"=== {time.strftime('%Y-%m-%dT%H:%M:%S')} start: {' '.join(cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            cmd,
            cwd=args.cwd or None,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: `stop` signals the whole group
        )
    pidfile.write_text(f"{proc.pid}\n")
    time.sleep(args.settle)
    if proc.poll() is not None:
        tail = logfile.read_text(errors="replace").splitlines()[-25:]
        die(
            f"{args.name} exited at once with code {proc.returncode}; last log lines "
            f"({logfile}):\n    " + "\n    ".join(tail),
            EXIT_FAIL,
        )
    print(f"  started {args.name}: pid {proc.pid}, log {logfile}")


def cmd_stop(args) -> None:
    marker = our_marker()
    groups = {}
    for name in args.pidfiles:
        pidfile = Path(name)
        pid = read_pid(pidfile)
        if pid is None:
            pidfile.unlink(missing_ok=True)
            continue
        members = group_members(pid, marker)
        if members:
            groups[pidfile] = pid
            for member in members:
                try:
                    os.kill(member, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            print(f"  SIGTERM {pidfile.stem} (pid {pid}, {len(members)} process(es))")
        else:
            print(f"  {pidfile.stem}: not running")
            pidfile.unlink(missing_ok=True)
    deadline = time.monotonic() + args.grace
    while groups and time.monotonic() < deadline:
        for pidfile, pid in list(groups.items()):
            if not group_members(pid, marker):
                pidfile.unlink(missing_ok=True)
                del groups[pidfile]
        time.sleep(0.1)
    for pidfile, pid in groups.items():
        for member in group_members(pid, marker):
            try:
                os.kill(member, signal.SIGKILL)
            except ProcessLookupError:
                pass
        print(f"  SIGKILL {pidfile.stem} (pid {pid}): still running after {args.grace}s")
        pidfile.unlink(missing_ok=True)
    if groups:
        time.sleep(0.3)
        left = [pid for pid in groups.values() if group_members(pid, marker)]
        if left:
            die(f"processes still running after SIGKILL: {left}", EXIT_FAIL)


def health_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200 and json.loads(resp.read() or b"{}").get("status") == "OK"
    except (urllib.error.URLError, OSError, ValueError):
        return False


def cmd_wait_health(args) -> None:
    pending = dict(item.split("=", 1) for item in args.targets)
    start = time.monotonic()
    deadline = start + args.timeout
    last_print = 0.0
    while pending:
        for name, url in list(pending.items()):
            if health_ok(url):
                print(f"  {name} healthy after {time.monotonic() - start:.1f}s ({url})")
                del pending[name]
        if not pending:
            break
        if args.pidfiles:
            for pidfile in args.pidfiles.split(","):
                name = Path(pidfile).stem
                if name in pending and not is_alive(Path(pidfile)):
                    die(f"{name} died while starting; see its log", EXIT_FAIL)
        now = time.monotonic()
        if now > deadline:
            die(
                f"timed out after {args.timeout}s waiting for health of: "
                + ", ".join(f"{n} ({u})" for n, u in pending.items()),
                EXIT_TIMEOUT,
            )
        if now - last_print >= 5:
            print(f"  waiting for {', '.join(pending)} ... {now - start:.0f}s")
            last_print = now
        time.sleep(0.25)


# --------------------------------------------------------------------------- chaincode

def tar_add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def cmd_package_ccaas(args) -> None:
    """metadata.json {"type":"ccaas","label":...} + code.tar.gz {connection.json[, META-INF/]}."""
    connection = {"address": args.address, "dial_timeout": args.dial_timeout, "tls_required": False}
    code = io.BytesIO()
    with tarfile.open(fileobj=code, mode="w:gz") as tar:
        tar_add_bytes(tar, "connection.json", json.dumps(connection, indent=2).encode() + b"\n")
        if args.meta_inf and Path(args.meta_inf).is_dir():
            # CouchDB index definitions (META-INF/statedb/couchdb/indexes/*.json).
            tar.add(args.meta_inf, arcname="META-INF")
    metadata = {"type": "ccaas", "label": args.label}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, mode="w:gz") as tar:
        tar_add_bytes(tar, "metadata.json", json.dumps(metadata).encode() + b"\n")
        tar_add_bytes(tar, "code.tar.gz", code.getvalue())
    (out.parent / "connection.json").write_text(json.dumps(connection, indent=2) + "\n")
    print(f"  wrote {out} (label {args.label}, address {args.address})")


def load_json_stdin() -> object:
    text = sys.stdin.read()
    # `peer channel getinfo` prints "Blockchain info: {...}", other commands bare JSON; either may follow log
    # lines (with "[34m" colour codes), and Fabric 3's CLI logs gRPC resolver state as JSON at INFO. The
    # command's own answer comes last: take the last JSON value that decodes.
    decoder = json.JSONDecoder()
    found, i = None, 0
    while i < len(text):
        if text[i] in "{[":
            try:
                found, end = decoder.raw_decode(text, i)
                i = end
                continue
            except ValueError:
                pass
        i += 1
    if found is None:
        die("no JSON in input", EXIT_FAIL)
    return found


def cmd_json(args) -> None:
    doc = load_json_stdin()
    if args.query == "height":
        print(doc.get("height", 0))
    elif args.query == "installed":  # queryinstalled --output json; arg: package id
        ids = [c.get("package_id") for c in doc.get("installed_chaincodes", []) or []]
        sys.exit(0 if args.arg in ids else 1)
    elif args.query == "approvals":  # checkcommitreadiness --output json; prints Org1MSP=true ...
        approvals = doc.get("approvals", {})
        print(" ".join(f"{k}={str(v).lower()}" for k, v in sorted(approvals.items())))
        sys.exit(0 if approvals and all(approvals.values()) else 1)
    elif args.query == "sequence":  # querycommitted/queryapproved --output json
        print(doc.get("sequence", 0))
    elif args.query == "committed":  # querycommitted --output json; arg: "version:sequence"
        version, _, sequence = args.arg.partition(":")
        ok = doc.get("version") == version and str(doc.get("sequence")) == sequence
        sys.exit(0 if ok else 1)
    elif args.query == "osn-consenter":  # osnadmin channel list --channelID: active Raft consenter?
        print(f"status {doc.get('status')}, consensusRelation {doc.get('consensusRelation')}, "
              f"height {doc.get('height')}")
        sys.exit(0 if doc.get("status") == "active" and doc.get("consensusRelation") == "consenter" else 1)
    else:
        die(f"unknown json query {args.query}", EXIT_USAGE)


# --------------------------------------------------------------------------- network.json

def cmd_write_network_json(args) -> None:
    """Everything a test fixture needs to talk to the network, as JSON."""
    work = Path(env("NETWORK_WORK_DIR"))
    orgs = org_dir()
    doc_path = work / "network.json"
    doc = json.loads(doc_path.read_text()) if doc_path.exists() else {}
    orderer_org = orgs / "ordererOrganizations/example.com"
    admin_tls = orderer_org / "users/Admin@example.com/tls"
    orderers = [
        {
            "name": name,
            "host": f"{name}.example.com",
            "address": f"127.0.0.1:{env(orderer_port_var(name))}",
            "admin_address": f"127.0.0.1:{env(orderer_port_var(name, '_ADMIN'))}",
            "operations": f"http://127.0.0.1:{env(orderer_port_var(name, '_OPS'))}",
            "tls_ca": str(orderer_org / "tlsca/tlsca.example.com-cert.pem"),
            "pid_file": str(work / f"pids/{name}.pid"),
            "log": str(work / f"logs/{name}.log"),
        }
        for name in orderer_names()
    ]
    doc.update(
        {
            "work_dir": str(work),
            "fabric_bin": env("FABRIC_BIN_DIR"),
            "fabric_cfg_path": env("FABRIC_CFG_DIR"),
            # "orderer" is the first Raft node (what a client submits to); "orderers" lists every one.
            "orderer": orderers[0],
            "orderers": orderers,
            # The OrdererMSP admin's TLS client certificate: osnadmin (channel participation) on every orderer.
            "orderer_admin": {
                "tls_cert": str(admin_tls / "client.crt"),
                "tls_key": str(admin_tls / "client.key"),
            },
            "orgs": {},
        }
    )
    for org in (1, 2):
        base = orgs / f"peerOrganizations/org{org}.example.com"
        doc["orgs"][f"org{org}"] = {
            "msp_id": f"Org{org}MSP",
            "peer": {
                "name": f"peer0.org{org}.example.com",
                "address": f"127.0.0.1:{env(f'PEER0_ORG{org}_PORT')}",
                "chaincode_address": f"127.0.0.1:{env(f'PEER0_ORG{org}_CC_PORT')}",
                "operations": f"http://127.0.0.1:{env(f'PEER0_ORG{org}_OPS_PORT')}",
                # Go's pprof, served only with PEER_PROFILE=true
                "profile": (f"http://127.0.0.1:{env(f'PEER0_ORG{org}_PROFILE_PORT')}"
                            if env("PEER_PROFILE", "false") == "true" else None),
                "tls_ca": str(base / f"tlsca/tlsca.org{org}.example.com-cert.pem"),
                "pid_file": str(work / f"pids/peer0.org{org}.pid"),
                "log": str(work / f"logs/peer0.org{org}.log"),
            },
            "users": {
                user: {
                    "msp_dir": str(base / f"users/{user}@org{org}.example.com/msp"),
                    "cert": str(
                        base / f"users/{user}@org{org}.example.com/msp/signcerts/{user}@org{org}.example.com-cert.pem"
                    ),
                    "key_dir": str(base / f"users/{user}@org{org}.example.com/msp/keystore"),
                    "tls_dir": str(base / f"users/{user}@org{org}.example.com/tls"),
                }
                for user in ("Admin", "User1")
            },
        }
    if args.channel:
        doc.setdefault("channels", {})[args.channel] = {
            "batch_timeout": env("BATCH_TIMEOUT"),
            "max_message_count": int(env("MAX_MESSAGE_COUNT")),
            "absolute_max_bytes": env("ABSOLUTE_MAX_BYTES"),
            "preferred_max_bytes": env("PREFERRED_MAX_BYTES"),
            "block": str(work / f"channel-artifacts/{args.channel}.block"),
        }
    if args.chaincode:
        name = args.chaincode
        cc_dir = work / "chaincode" / name
        if args.cc_per_org:
            # deployCCAAS -ccperorg: one server per organisation, each with its own package
            # id; there is no single package id, address or pid file for the name.
            doc.setdefault("chaincodes", {})[name] = {
                "channel": args.cc_channel,
                "version": args.cc_version,
                "sequence": int(args.cc_sequence),
                "per_org": True,
                "servers": {
                    org: {
                        "package_id": (cc_dir / org / "package_id").read_text().strip(),
                        "address": (cc_dir / org / "address").read_text().strip(),
                        "pid_file": str(work / f"pids/cc-{name}-{org}.pid"),
                        "log": str(work / f"logs/cc-{name}-{org}.log"),
                    }
                    for org in ("org1", "org2")
                },
            }
        else:
            doc.setdefault("chaincodes", {})[name] = {
                "channel": args.cc_channel,
                "package_id": (cc_dir / "package_id").read_text().strip(),
                "address": (cc_dir / "address").read_text().strip(),
                "version": args.cc_version,
                "sequence": int(args.cc_sequence),
                "pid_file": str(work / f"pids/cc-{name}.pid"),
                "log": str(work / f"logs/cc-{name}.log"),
            }
    doc_path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")


# --------------------------------------------------------------------------- main

def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="netctl.py")
    sub = parser.add_subparsers(dest="cmd", required=True)

    sub.add_parser("gen-node-configs").set_defaults(func=cmd_gen_node_configs)

    p = sub.add_parser("gen-configtx")
    p.add_argument("out")
    p.set_defaults(func=cmd_gen_configtx)

    p = sub.add_parser("check-ports")
    p.add_argument("ports", nargs="+")
    p.set_defaults(func=cmd_check_ports)

    p = sub.add_parser("free-port")
    p.add_argument("start", type=int)
    p.add_argument("--exclude", default="")
    p.set_defaults(func=cmd_free_port)

    p = sub.add_parser("start")
    p.add_argument("--name", required=True)
    p.add_argument("--pid", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--cwd")
    p.add_argument("--env", action="append", help="KEY=VALUE for the child")
    p.add_argument("--clean-env", action="store_true", help="drop CORE_*/ORDERER_*/FABRIC_* first")
    p.add_argument("--settle", type=float, default=0.5, help="seconds to watch for an early exit")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_start)

    p = sub.add_parser("stop")
    p.add_argument("--grace", type=float, default=10)
    p.add_argument("pidfiles", nargs="*")
    p.set_defaults(func=cmd_stop)

    p = sub.add_parser("alive")
    p.add_argument("pidfile")
    p.set_defaults(func=cmd_alive)

    p = sub.add_parser("wait-health")
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--pidfiles", default="", help="comma-separated; fail fast if one dies")
    p.add_argument("targets", nargs="+", help="NAME=URL")
    p.set_defaults(func=cmd_wait_health)

    p = sub.add_parser("package-ccaas")
    p.add_argument("--label", required=True)
    p.add_argument("--address", required=True)
    p.add_argument("--dial-timeout", default="10s")
    p.add_argument("--meta-inf")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_package_ccaas)

    p = sub.add_parser("json")
    p.add_argument("query", choices=["height", "installed", "approvals", "sequence", "committed", "osn-consenter"])
    p.add_argument("arg", nargs="?", default="")
    p.set_defaults(func=cmd_json)

    p = sub.add_parser("write-network-json")
    p.add_argument("--channel")
    p.add_argument("--chaincode")
    p.add_argument("--cc-channel")
    p.add_argument("--cc-version")
    p.add_argument("--cc-sequence")
    p.add_argument("--cc-per-org", action="store_true", help="one chaincode server per organisation")
    p.set_defaults(func=cmd_write_network_json)

    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main(sys.argv[1:])
