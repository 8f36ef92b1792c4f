"""Fixtures for the account service: a clock the test moves, a LogMailer, a fresh account directory, and helpers
that walk a person through register -> verify -> login."""

from __future__ import annotations

import secrets
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from vpp_gateway.accounts import AccountService, AuthError, LogMailer, Principal, TokenPair

PUBLIC_URL = "https://vpp.test"


class Clock:
    """Seconds since the epoch, moved by hand."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def new_password() -> str:
    return "pw-" + secrets.token_urlsafe(12)


def link_token(body: str) -> str:
    """The token of the verification link in a mail body."""
    link = next(word for word in body.split() if word.startswith(f"{PUBLIC_URL}/verify?"))
    return parse_qs(urlsplit(link).query)["token"][0]


def refused(code: str):
    """``pytest.raises`` for an AuthError with this code (the status is checked by the error table test)."""
    return pytest.raises(AuthError, match=rf"^{code}: ")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def mailer() -> LogMailer:
    return LogMailer()


@pytest.fixture
def account_dir(tmp_path):
    return tmp_path / "accounts"


@pytest.fixture
def service(account_dir, clock, mailer):
    opened = AccountService.open(account_dir, mailer=mailer, clock=clock, public_url=PUBLIC_URL)
    yield opened
    opened.close()


@pytest.fixture
async def admin(service) -> Principal:
    """A logged-in admin (bootstrapped as `make demo` does, then through login and bearer authentication)."""
    password = new_password()
    service.bootstrap_admin("admin@vpp.test", password)
    pair = await service.login("admin@vpp.test", password)
    return service.authenticate_bearer(pair.access_token)


async def verified_person(service: AccountService, mailer: LogMailer, email: str,
                          password: str | None = None) -> tuple[str, TokenPair, Principal]:
    """Register, follow the mailed link, log in; returns (password, tokens, principal)."""
    password = password or new_password()
    await service.register(email, password)
    await service.verify_email(link_token(mailer.outbox[-1].body))
    pair = await service.login(email, password)
    return password, pair, service.authenticate_bearer(pair.access_token)
