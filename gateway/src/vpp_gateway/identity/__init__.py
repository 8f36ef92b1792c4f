"""Identities for the gateway: a local certificate authority for embedded mode (``LocalCA``), issuing
Fabric-CA-shaped certificates usable on the embedded ledger and on real Fabric peers."""

from .ca import ATTRIBUTE_EXTENSION_OID, ROLES, IssuedIdentity, LocalCA

__all__ = ["ATTRIBUTE_EXTENSION_OID", "ROLES", "IssuedIdentity", "LocalCA"]
