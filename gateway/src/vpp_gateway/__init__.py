"""VPP Ledger gateway: the Fabric Gateway client (``vpp_gateway.fabric``); the REST API
will live alongside it."""

__version__ = "0.1.0"
