"""A real gateway process for the Postman, schemathesis and benchmark runs: ``python -m vpp_gateway.api`` on a free
loopback port with its own data directory (embedded ledger), plus the mail catcher it sends verification mails to,
the accounts bootstrapped before it starts, and meter-signed readings (this harness plays the meter edge: it holds
the meter keys, the gateway only ever sees public keys and signatures).

Every process is started with ``subprocess.Popen`` and stopped by its pid (SIGTERM, then SIGKILL after a grace).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
API = "/api/v1"
INTERVAL_S = 900


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(process: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGTERM to this pid (uvicorn shuts down through the lifespan), SIGKILL if it does not exit in time."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(5)


@dataclass
class MailCatcher:
    process: subprocess.Popen
    smtp_port: int
    http_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @classmethod
    def start(cls) -> MailCatcher:
        process = subprocess.Popen([sys.executable, str(HERE / "mailcatcher.py"), "--smtp-port", "0",
                                    "--http-port", "0"], stdout=subprocess.PIPE, text=True)
        line = process.stdout.readline()
        if not line:
            stop_process(process)
            raise RuntimeError("the mail catcher did not start")
        ports = json.loads(line)
        return cls(process, ports["smtp_port"], ports["http_port"])

    def stop(self) -> None:
        stop_process(self.process)


@dataclass
class Accounts:
    """People bootstrapped into the data directory before the gateway starts (passwords generated now)."""

    admin_email: str = "admin@vpp.example"
    utility_email: str = "grid@utility.example"
    password: str = field(default_factory=lambda: "pw-" + secrets.token_urlsafe(18))


def bootstrap_accounts(data_dir: Path, accounts: Accounts) -> None:
    """The first admin and a utility account, through AccountService on the data directory (as an operator's
    console would), before the gateway opens it."""
    from vpp_gateway.accounts import AccountService, LogMailer

    service = AccountService.open(data_dir / "accounts", mailer=LogMailer())
    try:
        service.bootstrap_admin(accounts.admin_email, accounts.password)
        asyncio.run(service.create_account(service.console_principal(), accounts.utility_email, accounts.password,
                                           "utility", "Org2MSP"))
    finally:
        service.close()


@dataclass
class Gateway:
    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return self.url + API

    @classmethod
    def start(cls, data_dir: Path, *, smtp_port: int | None = None, extra_env: dict[str, str] | None = None,
              timeout_s: float = 30.0, command: list[str] | None = None) -> Gateway:
        port = free_port()
        env = {**os.environ, "VPP_HOST": "127.0.0.1", "VPP_PORT": str(port), "VPP_DATA_DIR": str(data_dir),
               "VPP_BACKEND": "embedded", "VPP_PUBLIC_URL": f"http://127.0.0.1:{port}", "VPP_LOG_LEVEL": "WARNING",
               "VPP_RATE_PER_MIN": "0"}
        if smtp_port is not None:
            env.update(VPP_SMTP_HOST="127.0.0.1", VPP_SMTP_PORT=str(smtp_port), VPP_SMTP_STARTTLS="false")
        env.update(extra_env or {})
        log_path = data_dir / "gateway.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(command or [sys.executable, "-m", "vpp_gateway.api"], env=env, stdout=log,
                                       stderr=subprocess.STDOUT, cwd=ROOT)
        gateway = cls(process, port, log_path)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the gateway exited with {process.returncode}: {gateway.log_tail()}")
            try:
                with urllib.request.urlopen(gateway.api + "/ready", timeout=2) as response:
                    if response.status == 200:
                        return gateway
            except OSError:
                time.sleep(0.1)
        gateway.stop()
        raise RuntimeError(f"the gateway was not ready in {timeout_s} s: {gateway.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        stop_process(self.process)


# -- the meter edge's part: keys and signed readings ------------------------------------------------------------

class MeterKey:
    """A meter's ECDSA P-256 key; signs the canonical payload exactly as the edge does."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())

    @property
    def public_pem(self) -> str:
        return self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, payload: dict) -> dict:
        from vpp_contract.domain.readings import canonical

        signature = self.key.sign(canonical(payload), ec.ECDSA(hashes.SHA256()))
        return {"payload": payload, "signature": base64.b64encode(signature).decode()}


def aligned_past(intervals_ago: int, now: float | None = None) -> int:
    now = int(time.time() if now is None else now)
    return now - now % INTERVAL_S - intervals_ago * INTERVAL_S


def generation(meter: str, key: MeterKey, start: int, wh: int, version: int = 1) -> dict:
    return key.sign({"meter": meter, "key": version, "kind": "generation", "start": start, "interval": INTERVAL_S,
                     "wh": wh})


def request_json(method: str, url: str, body: object = None, headers: dict[str, str] | None = None,
                 expected: int = 200) -> dict:
    """A plain urllib request for set-up steps; fails loudly with the gateway's error body."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode()
    if status != expected:
        raise AssertionError(f"{method} {url} -> {status} (expected {expected}): {text}")
    return json.loads(text) if text else {}
