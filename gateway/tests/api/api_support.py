"""A real gateway on a real socket: uvicorn serving ``create_app`` on 127.0.0.1 (a free port) in a thread with its
own event loop, over the embedded ledger with the vpp contract and the real AccountService. Tests talk to it
with ``requests`` exactly as a client would.

One server per session (argon2 makes every login cost ~0.5 s); each module uses its own ids.
"""

from __future__ import annotations

import asyncio
import base64
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from vpp_contract.contract import chaincode as vpp
from vpp_contract.domain.readings import canonical
from vpp_gateway.accounts import AccountService, LogMailer
from vpp_gateway.api import Config, create_app
from vpp_gateway.embedded import EmbeddedLedger
from vpp_gateway.ledger_client import EmbeddedLedgerClient

API = "/api/v1"
PASSWORD = "a long and unusual passphrase"


class LiveServer:
    """uvicorn + the gateway in a background thread; ``stop()`` shuts it down through the ASGI lifespan."""

    def __init__(self, directory: Path, **config: Any) -> None:
        self.directory = directory
        self.config = Config(data_dir=directory, port=0, **config)
        self.mailer = LogMailer()
        self.url = ""
        self.accounts: AccountService | None = None
        self.ledger: EmbeddedLedger | None = None
        self._server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=self._run, name="gateway", daemon=True)
        self._failure: BaseException | None = None
        self._ready = threading.Event()

    def start(self, admin_email: str | None = None) -> LiveServer:
        self._admin_email = admin_email
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the gateway did not start in 30 s")
        if self._failure is not None:
            raise RuntimeError("the gateway failed to start") from self._failure
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the test thread
            self._failure = exc
            self._ready.set()

    async def _serve(self) -> None:
        # the account store's SQLite connection belongs to this thread: open everything here
        self.accounts = AccountService.open(self.directory / "accounts", mailer=self.mailer,
                                            public_url="http://127.0.0.1")
        if self._admin_email:
            self.accounts.bootstrap_admin(self._admin_email, PASSWORD)
        self.ledger = EmbeddedLedger.open(self.directory / "ledger.db", block_size=20, block_timeout=0.005)
        self.ledger.install("vpp", vpp)
        client = EmbeddedLedgerClient(self.ledger, "vpp", owns_ledger=True)
        accounts = self.accounts

        async def close() -> None:
            await client.close()
            accounts.close()

        app = create_app(self.config, client, self.accounts, on_shutdown=close)
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on",
                                                     log_level="warning", loop="asyncio"))
        serving = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self._ready.set()
        await serving

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(15)
        assert not self._thread.is_alive(), "the gateway did not stop"

    def verification_token(self, email: str) -> str:
        for mail in reversed(self.mailer.outbox):
            if mail.to == email:
                return re.search(r"token=([A-Za-z0-9_\-]+)", mail.body).group(1)
        raise AssertionError(f"no mail to {email}")


@dataclass
class Client:
    """requests against the live server, optionally as someone (a bearer token or an API key)."""

    base: str
    token: str | None = None
    api_key: str | None = None
    session: requests.Session = field(default_factory=requests.Session)

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.api_key:
            headers["X-API-Key"] = self.api_key
        return {**headers, **(extra or {})}

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
                ) -> requests.Response:
        kwargs.setdefault("timeout", 20)
        return self.session.request(method, self.base + API + path, headers=self.headers(headers), **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, json=json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def ok(self, method: str, path: str, expected: int = 200, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        assert response.status_code == expected, (method, path, response.status_code, response.text)
        return response.json() if response.content else None


def error_code(response: requests.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    return body["error"]["code"]


@dataclass
class World:
    server: LiveServer
    anonymous: Client
    admin: Client
    alice: Client
    bob: Client
    utility: Client
    me: dict[str, dict] = field(default_factory=dict)

    def client(self, token: str | None = None, api_key: str | None = None) -> Client:
        return Client(self.server.url, token, api_key)


def login(server: LiveServer, email: str) -> Client:
    anonymous = Client(server.url)
    pair = anonymous.ok("POST", "/auth/login", json={"email": email, "password": PASSWORD})
    return Client(server.url, pair["access_token"])


def register_owner(server: LiveServer, email: str, name: str) -> Client:
    anonymous = Client(server.url)
    anonymous.ok("POST", "/auth/register", 201, json={"email": email, "password": PASSWORD, "display_name": name})
    anonymous.ok("POST", "/auth/verify", json={"token": server.verification_token(email)})
    return login(server, email)


@pytest.fixture(scope="session")
def live(tmp_path_factory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("gateway"), sse_heartbeat_s=1, max_batch=50, rate_per_min=0)
    server.start(admin_email="admin@vpp.example")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def world(live: LiveServer) -> World:
    admin = login(live, "admin@vpp.example")
    admin.ok("POST", "/accounts", 201, json={"email": "grid@utility.example", "password": PASSWORD,
                                            "role": "utility", "org": "Org2MSP"})
    world = World(live, Client(live.url), admin, register_owner(live, "alice@owner.example", "Alice"),
                  register_owner(live, "bob@owner.example", "Bob"), login(live, "grid@utility.example"))
    for name in ("admin", "alice", "bob", "utility"):
        world.me[name] = getattr(world, name).ok("GET", "/me")
    return world


# -- meters and signed readings ---------------------------------------------------------------------------------

@dataclass
class MeterKey:
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    @property
    def public_pem(self) -> str:
        return self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, payload: dict) -> dict:
        signature = self.key.sign(canonical(payload), ec.ECDSA(hashes.SHA256()))
        return {"payload": payload, "signature": base64.b64encode(signature).decode()}


def aligned_past(intervals_ago: int, interval: int = 900) -> int:
    now = int(time.time())
    return now - now % interval - intervals_ago * interval


def generation(meter: str, key: MeterKey, start: int, wh: int, version: int = 1) -> dict:
    return key.sign({"meter": meter, "key": version, "kind": "generation", "start": start, "interval": 900,
                     "wh": wh})
