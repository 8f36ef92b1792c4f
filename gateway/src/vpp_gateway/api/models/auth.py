"""People, tokens and API keys."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from .common import Body, PageQuery

Role = Literal["admin", "owner", "utility", "auditor"]
Org = Literal["Org1MSP", "Org2MSP"]
Email = Annotated[str, Field(min_length=3, max_length=254)]
Password = Annotated[str, Field(min_length=1, max_length=1024)]


class RegisterRequest(Body):
    email: Email
    password: Password
    display_name: str = Field("", max_length=100)


class VerifyRequest(Body):
    token: str = Field(min_length=1, max_length=1024)


class ResendRequest(Body):
    email: Email


class LoginRequest(Body):
    email: Email
    password: Password


class RefreshRequest(Body):
    refresh_token: str = Field(min_length=1, max_length=1024)


class CreateAccountRequest(Body):
    email: Email
    password: Password
    role: Role
    org: Org


class ApiKeyCreateRequest(Body):
    name: str = Field(min_length=1, max_length=100)
    role: Role | None = Field(None, description="admins only; others get their own role")
    org: Org | None = Field(None, description="admins only; others get their own org")


class TokenPairResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


class AccountResponse(BaseModel):
    account_id: str
    ledger_account: str
    email: str | None
    org: str
    role: str
    verified: bool
    created_at: int


class MeResponse(BaseModel):
    account_id: str
    ledger_account: str
    email: str | None
    org: str
    role: str
    via: Literal["jwt", "api_key"]
    api_key_id: str | None
    verified: bool | None = None


class ApiKeyResponse(BaseModel):
    key_id: str
    name: str
    org: str
    role: str
    created_at: int
    revoked_at: int | None
    last4: str


class ApiKeyCreatedResponse(BaseModel):
    api_key: ApiKeyResponse
    key: str = Field(description="the full key, shown once: send it as X-API-Key")


class ApiKeyListResponse(BaseModel):
    api_keys: list[ApiKeyResponse]
    next_cursor: str | None


class ApiKeyListQuery(PageQuery):
    pass
