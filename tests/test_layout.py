"""The repository keeps the layout and the promises its README and design make."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEM_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----\s*\n[A-Za-z0-9+/=]{40,}")


def test_the_design_layout_exists():
    for folder in ("chaincode", "network", "gateway", "meter-edge", "web", "tests"):
        assert (ROOT / folder).is_dir(), folder
    for file in ("docker-compose.yaml", "Makefile", "README.md", ".ci/run"):
        assert (ROOT / file).is_file(), file


def test_makefile_has_the_promised_targets():
    targets = {line.split(":", 1)[0] for line in (ROOT / "Makefile").read_text().splitlines()
               if line and not line[0].isspace() and ":" in line and not line.startswith((".", "#"))}
    assert {"setup", "test", "bench", "network-up", "network-down"} <= targets


def test_ci_runs_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci/run").read_text()
    for command in ("make setup", "make test"):
        assert command in readme and command in ci


def test_no_key_or_certificate_is_committed():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    offenders = []
    for name in tracked.splitlines():
        path = ROOT / name
        if path.suffix in (".pem", ".key", ".crt") or name.endswith("_sk"):
            offenders.append(name)
        elif path.is_file() and path.stat().st_size < 1_000_000:
            if PEM_KEY.search(path.read_bytes()):  # a header followed by key material, not a mere mention
                offenders.append(name)
    assert offenders == []


def test_the_key_check_finds_real_key_material(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert PEM_KEY.search(pem)
    assert not PEM_KEY.search(b'assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")')
