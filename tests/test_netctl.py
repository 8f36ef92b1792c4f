"""network/scripts/netctl.py reads JSON out of Fabric CLI output that log lines surround (no Fabric needed)."""

import subprocess
import sys
from pathlib import Path

NETCTL = Path(__file__).resolve().parents[1] / "network" / "scripts" / "netctl.py"

# `peer channel getinfo` of Fabric 3.1: its gRPC client logs its resolver state as JSON at INFO, before the answer
FABRIC_3_GETINFO = """\
\x1b[34m2026-11-24 04:34:00.911 UTC 0005 INFO\x1b[0m [grpc] \x1b[34;1mAddTraceEvent\x1b[0m -> [core] [Channel #1]\
Resolver state updated: {
  "Addresses": [
    {
      "Addr": "127.0.0.1:38051",
      "ServerName": ""
    }
  ],
  "Endpoints": []
} (resolver returned new addresses)
\x1b[34m2026-11-24 04:34:00.913 UTC 0011 INFO\x1b[0m [channelCmd] InitCmdFactory -> Endorser and orderer \
connections initialized
Blockchain info: {"height":12,"currentBlockHash":"vyTg9RhN3l56UEwR96xCpWk0mB9hd3KeOo7AqzBgHQ0="}
"""
FABRIC_25_GETINFO = """\
2026-11-24 04:34:00.913 UTC 0001 INFO [channelCmd] InitCmdFactory -> Endorser and orderer connections initialized
Blockchain info: {"height":3,"currentBlockHash":"abc="}
"""


def netctl(*args: str, stdin: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(NETCTL), *args], input=stdin, capture_output=True, text=True,
                          timeout=30)


def test_channel_height_is_read_past_json_in_log_lines():
    assert netctl("json", "height", stdin=FABRIC_3_GETINFO).stdout.strip() == "12"
    assert netctl("json", "height", stdin=FABRIC_25_GETINFO).stdout.strip() == "3"


def test_output_without_json_fails_with_a_message():
    result = netctl("json", "height", stdin="[34m only a log line [0m\n")
    assert result.returncode != 0
    assert "no JSON in input" in result.stderr
