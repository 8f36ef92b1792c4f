"""``make demo``: the whole VPP Ledger system on one machine (no Docker).

Mosquitto, the REST gateway with the embedded ledger, Modbus simulators for N sites, one edge reader per site and the
MQTT → REST bridge, each a child process stopped by its pid. Run ``python scripts/demo --help``; see docs/DEMO.md.
"""
