"""Accounts, authentication and the identity key store of the gateway (DESIGN §7).

People register, verify their email and log in (argon2id passwords, short-lived HS256 access tokens, rotating
single-use refresh tokens); integrators use API keys. Every account and every API key acts on the ledger with its
own X.509 identity from its organisation's :class:`~vpp_gateway.identity.LocalCA`, whose private key is sealed at
rest under the directory's master key. The REST API uses only what ``__all__`` lists.
"""

from .errors import AccountStoreError, AuthError
from .mailers import LogMailer, Mail, Mailer, SmtpMailer
from .models import ORGS, ROLES, AccountInfo, ApiKeyInfo, Principal, TokenPair
from .service import AccountService

__all__ = [
    "ORGS",
    "ROLES",
    "AccountInfo",
    "AccountService",
    "AccountStoreError",
    "ApiKeyInfo",
    "AuthError",
    "LogMailer",
    "Mail",
    "Mailer",
    "Principal",
    "SmtpMailer",
    "TokenPair",
]
