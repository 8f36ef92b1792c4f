"""VPP Ledger gateway: the Fabric Gateway client (``vpp_gateway.fabric``), the embedded ledger
(``vpp_gateway.embedded``), the local CA (``vpp_gateway.identity``) and the ledger-client interface over both
backends (``vpp_gateway.ledger_client``); the REST API will live alongside them."""

__version__ = "0.1.0"
