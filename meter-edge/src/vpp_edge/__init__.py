"""VPP Ledger meter edge: meters in, signed 5/15-minute intervals out over MQTT, and the bridge to the ledger."""
