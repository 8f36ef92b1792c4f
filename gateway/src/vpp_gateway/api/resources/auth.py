"""Registration, e-mail verification, tokens, the caller itself, API keys and administrator-made accounts."""

from __future__ import annotations

from dataclasses import asdict

from ..deps import Resource
from ..endpoint import Call, Reply, operation
from ..models.auth import (
    AccountResponse,
    ApiKeyCreatedResponse,
    ApiKeyCreateRequest,
    ApiKeyListQuery,
    ApiKeyListResponse,
    ApiKeyResponse,
    CreateAccountRequest,
    LoginRequest,
    MeResponse,
    RefreshRequest,
    RegisterRequest,
    ResendRequest,
    TokenPairResponse,
    VerifyRequest,
)
from ..models.common import Status
from ..pagination import page_after

TAG = "accounts"
PEOPLE_FIELDS = frozenset({"role", "org", "owner"})  # who someone is comes from the server, never the body


def account(info) -> AccountResponse:
    return AccountResponse.model_validate(asdict(info))


def tokens(pair) -> TokenPairResponse:
    return TokenPairResponse.model_validate(asdict(pair))


class Register(Resource):
    @operation("Create an owner account; a verification link is mailed", tags=TAG, auth=False, ledger=False,
               body=RegisterRequest, response=AccountResponse, status=201, admin_fields=PEOPLE_FIELDS,
               errors=("EMAIL_TAKEN", "WEAK_PASSWORD", "INVALID_EMAIL", "PROPERTY_FORBIDDEN"))
    async def on_post(self, call: Call):
        body: RegisterRequest = call.body
        return account(await self.deps.accounts.register(body.email, body.password, body.display_name))


class Verify(Resource):
    @operation("Verify an e-mail address with the token from the mail", tags=TAG, auth=False, ledger=False,
               body=VerifyRequest, response=AccountResponse, errors=("TOKEN_INVALID", "TOKEN_EXPIRED"))
    async def on_post(self, call: Call):
        return account(await self.deps.accounts.verify_email(call.body.token))


class Resend(Resource):
    @operation("Send the verification mail again (answers the same whether the address is known or not)",
               tags=TAG, auth=False, ledger=False, body=ResendRequest, response=Status, status=202)
    async def on_post(self, call: Call):
        await self.deps.accounts.resend_verification(call.body.email)
        return Status(status="accepted")


class Login(Resource):
    @operation("Log in: an access token (JWT) and a refresh token", tags=TAG, auth=False, ledger=False,
               body=LoginRequest, response=TokenPairResponse,
               errors=("BAD_CREDENTIALS", "EMAIL_NOT_VERIFIED", "ACCOUNT_DISABLED", "RATE_LIMITED"))
    async def on_post(self, call: Call):
        return tokens(await self.deps.accounts.login(call.body.email, call.body.password, client=call.req.remote_addr))


class Refresh(Resource):
    @operation("Exchange a refresh token for a new pair (single use; reuse revokes the family)", tags=TAG,
               auth=False, ledger=False, body=RefreshRequest, response=TokenPairResponse,
               errors=("TOKEN_INVALID", "TOKEN_EXPIRED", "TOKEN_REVOKED"))
    async def on_post(self, call: Call):
        return tokens(await self.deps.accounts.refresh(call.body.refresh_token))


class Logout(Resource):
    @operation("Revoke a refresh token", tags=TAG, auth=False, ledger=False, body=RefreshRequest, status=204,
               errors=("TOKEN_INVALID",))
    async def on_post(self, call: Call):
        await self.deps.accounts.logout(call.body.refresh_token)
        return Reply(None, 204)


class Me(Resource):
    @operation("Who the caller is", tags=TAG, ledger=False, response=MeResponse)
    async def on_get(self, call: Call):
        p = call.principal
        verified = None
        if p.via == "jwt":
            verified = self.deps.accounts.get_account(p.account_id).verified
        return MeResponse(account_id=p.account_id, ledger_account=p.ledger_account, email=p.email, org=p.org,
                          role=p.role, via=p.via, api_key_id=p.api_key_id, verified=verified)


class ApiKeys(Resource):
    @operation("The API keys the caller may see (admins: all)", tags=TAG, ledger=False, query=ApiKeyListQuery,
               response=ApiKeyListResponse)
    async def on_get(self, call: Call):
        keys = self.deps.accounts.list_api_keys(call.principal)
        page, cursor = page_after(keys, lambda k: k.key_id, call.query.limit, call.query.cursor, "api-keys")
        return ApiKeyListResponse(api_keys=[ApiKeyResponse.model_validate(asdict(k)) for k in page],
                                  next_cursor=cursor)

    @operation("Create an API key (the secret is shown once). Role and org: admins only", tags=TAG, ledger=False,
               body=ApiKeyCreateRequest, response=ApiKeyCreatedResponse, status=201,
               admin_fields=frozenset({"role", "org"}), errors=("PROPERTY_FORBIDDEN", "FORBIDDEN"))
    async def on_post(self, call: Call):
        body: ApiKeyCreateRequest = call.body
        info, secret = await self.deps.accounts.create_api_key(call.principal, body.name, body.role, body.org)
        return ApiKeyCreatedResponse(api_key=ApiKeyResponse.model_validate(asdict(info)), key=secret)


class ApiKey(Resource):
    @operation("Revoke an API key", tags=TAG, ledger=False, response=ApiKeyResponse, errors=("NOT_FOUND", "FORBIDDEN"))
    async def on_delete(self, call: Call):
        info = await self.deps.accounts.revoke_api_key(call.principal, call.params["key_id"])
        return ApiKeyResponse.model_validate(asdict(info))


class Accounts(Resource):
    @operation("Create a verified account for a utility, auditor or admin person", tags=TAG, ledger=False,
               roles=frozenset({"admin"}), body=CreateAccountRequest, response=AccountResponse, status=201,
               errors=("EMAIL_TAKEN", "WEAK_PASSWORD", "INVALID_EMAIL"))
    async def on_post(self, call: Call):
        body: CreateAccountRequest = call.body
        return account(await self.deps.accounts.create_account(call.principal, body.email, body.password,
                                                               body.role, body.org))
