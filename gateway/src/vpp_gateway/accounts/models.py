"""The values the account service hands out (the interface the REST API builds on)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ORGS", "ROLES", "AccountInfo", "ApiKeyInfo", "Principal", "TokenPair"]

#: Roles the contract knows (``vpp_contract.txn.ROLES``).
ROLES = ("admin", "owner", "utility", "auditor")
#: Fabric organisations: MSP id -> organisation name of its CA.
ORGS = {"Org1MSP": "VPP Operator", "Org2MSP": "Utility"}


@dataclass(frozen=True)
class Principal:
    """Who is calling: a person (``via="jwt"``) or an integrator's API key (``via="api_key"``)."""

    account_id: str
    ledger_account: str
    email: str | None
    org: str
    role: str
    via: str
    api_key_id: str | None
    identity: object = field(repr=False, compare=False)


@dataclass(frozen=True)
class TokenPair:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    token_type: str
    expires_in: int


@dataclass(frozen=True)
class ApiKeyInfo:
    key_id: str
    name: str
    org: str
    role: str
    created_at: int
    revoked_at: int | None
    last4: str


@dataclass(frozen=True)
class AccountInfo:
    account_id: str
    ledger_account: str
    email: str | None
    org: str
    role: str
    verified: bool
    created_at: int
