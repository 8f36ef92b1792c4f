"""``python -m vpp_gateway.api`` as an operator starts it: settings from the environment, uvicorn with uvloop,
the embedded ledger and the account service opened from VPP_DATA_DIR, the web app served at /, a clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_console_entry_serves_api_and_web_app(tmp_path):
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html><title>VPP</title>")
    port = free_port()
    env = {**os.environ, "VPP_PORT": str(port), "VPP_DATA_DIR": str(tmp_path / "data"), "VPP_WEB_DIR": str(web),
           "VPP_SMTP_PASSWORD": "never-logged-secret", "VPP_LOG_LEVEL": "INFO",
           "PYTHONPATH": os.pathsep.join([str(REPO / "chaincode"), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, "-m", "vpp_gateway.api"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(base + "/api/v1/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.1)
        assert requests.get(base + "/api/v1/ready", timeout=5).json()["status"] == "ready"
        page = requests.get(base + "/", timeout=5)
        assert page.status_code == 200 and "<title>VPP</title>" in page.text
        missing = requests.get(base + "/api/v1/nothing", timeout=5)  # not the web app's fallback page
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "ROUTE_NOT_FOUND"
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output  # a graceful stop exits 0 (uvicorn re-raises the signal: handled)
    assert output.count("gateway configuration:") == 1  # one app, one ledger: nothing opened twice
    assert "gateway configuration:" in output and "smtp_password=***" in output
    assert "never-logged-secret" not in output
    assert "gateway stopped" in output  # lifespan shutdown closed the ledger and the accounts
    assert (tmp_path / "data" / "ledger.db").exists() and (tmp_path / "data" / "accounts").is_dir()
