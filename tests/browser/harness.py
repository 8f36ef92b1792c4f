"""What the browser test needs around the web app: a real gateway process (embedded ledger, temp dir, free port),
accounts made with the operator's console, and meter keys that sign readings the way a meter edge does."""

from __future__ import annotations

import base64
import json
import os
import re
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

REPO = Path(__file__).resolve().parents[2]
PYTHON = REPO / ".venv" / "bin" / "python"
if not PYTHON.exists():
    PYTHON = Path(sys.executable)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Gateway:
    url: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen = field(repr=False)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def verification_token(self, email: str) -> str:
        """The token of the last verification mail to ``email`` (LogMailer writes whole mails to the log)."""
        tokens = re.findall(r"mail to " + re.escape(email) + r":.*?[?&]token=([A-Za-z0-9._~%-]+)", self.log_text(),
                            flags=re.S)
        if not tokens:
            raise AssertionError(f"no verification mail to {email} in {self.log_path}")
        return tokens[-1]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_gateway(data_dir: Path, web_dir: Path, log_path: Path, timeout_s: float = 20.0) -> Gateway:
    port = free_port()
    env = {**os.environ, "VPP_DATA_DIR": str(data_dir), "VPP_WEB_DIR": str(web_dir), "VPP_PORT": str(port),
           "VPP_HOST": "127.0.0.1", "VPP_PUBLIC_URL": f"http://127.0.0.1:{port}", "VPP_SMTP_HOST": "",
           "VPP_RATE_PER_MIN": "0", "VPP_SSE_HEARTBEAT_S": "2"}
    log = log_path.open("wb")
    process = subprocess.Popen([str(PYTHON), "-m", "vpp_gateway.api"], cwd=REPO, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    gateway = Gateway(f"http://127.0.0.1:{port}", data_dir, log_path, process)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited with {process.returncode}:\n{gateway.log_text()}")
        try:
            with urllib.request.urlopen(gateway.url + "/api/v1/ready", timeout=1) as answer:
                if answer.status == 200:
                    return gateway
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    gateway.stop()
    raise RuntimeError(f"gateway not ready in {timeout_s} s:\n{gateway.log_text()}")


def console(data_dir: Path, *args: str, password: str | None = None) -> dict:
    """``python -m vpp_gateway.accounts --dir <data>/accounts ...`` (the operator's console); its JSON answer."""
    env = {**os.environ}
    if password is not None:
        env["VPP_PASSWORD"] = password
    done = subprocess.run([str(PYTHON), "-m", "vpp_gateway.accounts", "--dir", str(data_dir / "accounts"), *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"console {args}: {done.stderr}")
    return json.loads(done.stdout)


def canonical(payload: dict) -> bytes:
    """The bytes a meter signs (vpp_contract.domain.readings.canonical)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class MeterKey:
    """An ECDSA P-256 key pair generated at run time, as a meter holds one."""

    def __init__(self, meter_id: str) -> None:
        self.meter_id = meter_id
        self._key = ec.generate_private_key(ec.SECP256R1())

    def public_pem(self) -> str:
        return self._key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, payload: dict) -> dict:
        signature = self._key.sign(canonical(payload), ec.ECDSA(hashes.SHA256()))
        return {"payload": payload, "signature": base64.b64encode(signature).decode()}


def aligned_start(intervals_ago: int, interval_s: int = 900, now: float | None = None) -> int:
    now_s = int(time.time() if now is None else now)
    return now_s - now_s % interval_s - intervals_ago * interval_s
