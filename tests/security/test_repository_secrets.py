"""No secret in the repository: every file git would commit (tracked, and new files not ignored) is searched for
key material and tokens, and the configuration and deployment files for credentials written as literal values.

tests/test_layout.py already refuses key and certificate files and PEM private keys in tracked files; this adds
the files not yet committed, encrypted PEM keys, tokens (JWTs, the gateway's API keys, cloud and chat tokens) and
literal passwords in configuration. Documented test fixtures, allowed because they protect nothing: the contract
tests' and the API tests' fixed passwords (``gateway/tests/api/api_support.py`` PASSWORD, a few literal passwords
in gateway/tests) and the fuzz meter's key scalar in ``tests/fuzz/targets/reading_payload.py`` (it signs fuzz
inputs only). None of them matches the patterns below, which look for material, not for the word "password".
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

TOKEN_PATTERNS = {
    "PEM private key": re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----\s*\n[A-Za-z0-9+/=]{40,}"),
    "JWT": re.compile(rb"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,}"),
    "gateway API key": re.compile(rb"\bvpp_[a-z0-9]{8,}_[A-Za-z0-9_-]{40,}"),
    "AWS access key": re.compile(rb"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(rb"\b(gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{40,})"),
    "Slack token": re.compile(rb"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "Google API key": re.compile(rb"\bAIza[0-9A-Za-z_-]{35}\b"),
}
CONFIG_FILE = re.compile(r"(\.(env|ya?ml|toml|ini|cfg|conf|properties|json|sh)$)|(^|/)(Dockerfile|\.env[^/]*)$")
CREDENTIAL = re.compile(r"""^\s*["']?([A-Za-z0-9_.-]*(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY)"""
                        r"""[A-Za-z0-9_]*)["']?\s*[:=]\s*["']?([^"'\s#,]*)""", re.IGNORECASE)
# a value that says where the secret comes from (a variable, a template, a file) rather than being it
PLACEHOLDER = re.compile(r"^(\$\{|\$[A-Za-z_(]|\{\{|<|$)|/")
NAMES_A_PLACE = re.compile(r"_(env|file|path|dir)$", re.IGNORECASE)


def committable_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode()
    return sorted(name for name in listed.split("\0") if name and (ROOT / name).is_file())


def token_findings(name: str, data: bytes) -> list[str]:
    return [f"{name}: {what}" for what, pattern in TOKEN_PATTERNS.items() if pattern.search(data)]


def credential_findings(name: str, text: str) -> list[str]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith(("#", "//")):
            continue
        match = CREDENTIAL.match(line)
        if match and not PLACEHOLDER.search(match.group(3)) and not NAMES_A_PLACE.search(match.group(1)):
            found.append(f"{name}:{number}: {line.strip()[:120]}")
    return found


def test_no_key_material_or_token_in_any_committable_file():
    files = committable_files()
    assert len(files) > 100 and "tests/security/test_repository_secrets.py" in files
    findings = []
    for name in files:
        path = ROOT / name
        if path.stat().st_size < 2_000_000:
            findings += token_findings(name, path.read_bytes())
    assert findings == []


def test_no_literal_credential_in_configuration():
    findings = []
    for name in committable_files():
        if CONFIG_FILE.search(name) and "node_modules/" not in name and not name.endswith("package-lock.json"):
            findings += credential_findings(name, (ROOT / name).read_text(errors="replace"))
    assert findings == []


def test_the_patterns_find_what_they_look_for():
    """The scan is only as good as its patterns: each finds a real specimen, made here at run time."""
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    specimens = {
        "PEM private key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.BestAvailableEncryption(b"passphrase")),
        "JWT": jwt.encode({"sub": "someone", "role": "admin"}, "k" * 32, algorithm="HS256").encode(),
        "gateway API key": b"vpp_ak0123456789abcdef_" + b"A" * 43,
        "AWS access key": b"AKIA" + b"ABCDEFGHIJKLMNOP",
        "GitHub token": b"ghp_" + b"a1" * 18,
        "Slack token": b"xoxb-" + b"1234567890-abcdef",
        "Google API key": b"AIza" + b"B" * 35,
    }
    for what, specimen in specimens.items():
        assert token_findings("x", b"prefix " + specimen + b" suffix") == [f"x: {what}"], what
    assert credential_findings("x.env", "DB_PASSWORD=hunter2hunter2") != []
    assert credential_findings("x.yaml", '  api_key: "abcdef123456"') != []
    for fine in ("DB_PASSWORD=${DB_PASSWORD:?set it}", "password: {{secret}}", "TLS_PRIVATEKEY: /etc/tls/server.key",
                 "api_key_env: VPP_API_KEY", "# password=example", "PASSWORD="):
        assert credential_findings("x.env", fine) == [], fine
