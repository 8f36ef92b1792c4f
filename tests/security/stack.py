"""A real gateway process (embedded ledger, DEBUG logging) with a mail catcher, and a small world made through REST
the way users make it: two owners who registered and verified by mail, each with a site, a generator and a battery,
meters registered by the admin, readings signed by the meters and sent by the edge bridge's admin API key, credit,
an offer by alice bought in part by the utility.

Every secret the flow handles (passwords, access and refresh tokens, API keys, verification tokens) is recorded in
``Stack.secrets`` so the log and the data directory can be searched for it afterwards. Processes are started with
``Popen`` (tests.postman.live_gateway) and stopped by their pid.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.postman.live_gateway import (
    Accounts,
    Gateway,
    MailCatcher,
    MeterKey,
    aligned_past,
    bootstrap_accounts,
    generation,
)

INTERVAL_S = 900


@dataclass
class Person:
    email: str
    password: str
    access_token: str
    refresh_token: str
    account: str          # ledger account, e.g. Org1MSP:acc_...
    account_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@dataclass
class Stack:
    gateway: Gateway
    mail: MailCatcher
    data_dir: Path
    accounts: Accounts
    people: dict[str, Person] = field(default_factory=dict)
    ids: dict[str, dict[str, str]] = field(default_factory=dict)   # owner -> site/gen/bat/meter ids
    meter_keys: dict[str, MeterKey] = field(default_factory=dict)
    bridge_key: str = ""
    offer_id: str = ""
    secrets: list[tuple[str, str]] = field(default_factory=list)   # (what, value) never to be logged

    @property
    def api(self) -> str:
        return self.gateway.api

    def keep_secret(self, what: str, value: str) -> str:
        self.secrets.append((what, value))
        return value

    def call(self, method: str, path: str, *, who: str | None = None, api_key: str | None = None,
             json_body: Any = None, data: bytes | None = None, headers: dict[str, str] | None = None,
             params: dict[str, Any] | None = None, timeout: float = 30) -> requests.Response:
        sent = dict(headers or {})
        if who is not None:
            sent.update(self.people[who].headers)
        if api_key is not None:
            sent["X-API-Key"] = api_key
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        return requests.request(method, self.api + path, json=json_body, data=data, headers=sent, params=params,
                                timeout=timeout)

    def ok(self, method: str, path: str, expected: int = 200, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert response.status_code == expected, (method, path, response.status_code, response.text[:500])
        return response.json() if response.content else None

    # -- people ---------------------------------------------------------------------------------------------
    def verification_token(self, email: str) -> str:
        with requests.get(f"{self.mail.url}/messages", params={"to": email}, timeout=10) as response:
            mails = response.json()
        assert mails, f"no mail to {email}"
        match = re.search(r"token=([A-Za-z0-9_\-]+)", mails[-1]["body"])
        assert match, mails[-1]["body"]
        return self.keep_secret("verification token", urllib.parse.unquote(match.group(1)))

    def login(self, name: str, email: str, password: str) -> Person:
        pair = self.ok("POST", "/auth/login", json_body={"email": email, "password": password})
        self.keep_secret("access token", pair["access_token"])
        self.keep_secret("refresh token", pair["refresh_token"])
        person = Person(email, password, pair["access_token"], pair["refresh_token"], "", "")
        self.people[name] = person
        me = self.ok("GET", "/me", who=name)
        person.account, person.account_id = me["ledger_account"], me["account_id"]
        return person

    def register_owner(self, name: str) -> Person:
        email = f"{name}@owner.example"
        password = self.keep_secret("password", "pw-" + secrets.token_urlsafe(16))
        self.ok("POST", "/auth/register", 201, json_body={"email": email, "password": password, "display_name": name})
        self.ok("POST", "/auth/verify", json_body={"token": self.verification_token(email)})
        return self.login(name, email, password)

    # -- the world -------------------------------------------------------------------------------------------
    def plant(self, owner: str) -> None:
        """A site with a generator and a battery (self-service), meters by the admin, three intervals minted."""
        site, gen, bat = f"{owner}-site", f"{owner}-pv", f"{owner}-bat"
        self.ok("POST", "/sites", 201, who=owner, json_body={"site_id": site, "location": f"{owner}town"})
        self.ok("POST", f"/sites/{site}/assets", 201, who=owner,
                json_body={"asset_id": gen, "kind": "generator", "max_power_w": 6000})
        self.ok("POST", f"/sites/{site}/assets", 201, who=owner, json_body={
            "asset_id": bat, "kind": "battery", "max_power_w": 5000,
            "battery": {"chemistry": "lfp", "capacity_wh": 10_000, "soc_min_permille": 100,
                        "soc_max_permille": 950, "charge_eff_ppm": 950_000, "discharge_eff_ppm": 950_000}})
        meter, bat_meter = f"{owner}-m", f"{owner}-bm"
        for asset, meter_id in ((gen, meter), (bat, bat_meter)):
            key = self.meter_keys[meter_id] = MeterKey()
            self.ok("POST", f"/assets/{asset}/meters", 201, who="admin",
                    json_body={"meter_id": meter_id, "interval_s": INTERVAL_S, "public_key_pem": key.public_pem})
        readings = [generation(meter, self.meter_keys[meter], aligned_past(n), 1000) for n in (8, 7, 6)]
        readings.append(self.meter_keys[bat_meter].sign({
            "meter": bat_meter, "key": 1, "kind": "battery", "start": aligned_past(7), "interval": INTERVAL_S,
            "charge_wh": 200, "discharge_wh": 0, "soc_permille": 500}))
        answer = self.ok("POST", "/readings/batches", api_key=self.bridge_key, json_body={"readings": readings})
        assert answer["accepted"] == len(readings), answer
        self.ids[owner] = {"site_id": site, "asset_id": gen, "battery_id": bat, "meter_id": meter,
                           "battery_meter_id": bat_meter, "account": self.people[owner].account}

    @classmethod
    def start(cls, data_dir: Path) -> Stack:
        accounts = Accounts()
        bootstrap_accounts(data_dir, accounts)
        mail = MailCatcher.start()
        try:
            gateway = Gateway.start(data_dir, smtp_port=mail.smtp_port,
                                    extra_env={"VPP_LOG_LEVEL": "DEBUG", "VPP_SSE_HEARTBEAT_S": "1"})
        except Exception:
            mail.stop()
            raise
        stack = cls(gateway, mail, data_dir, accounts)
        try:
            stack.populate()
        except Exception:
            stack.stop()
            raise
        return stack

    def populate(self) -> None:
        self.keep_secret("password", self.accounts.password)
        self.login("admin", self.accounts.admin_email, self.accounts.password)
        self.login("utility", self.accounts.utility_email, self.accounts.password)
        bridge = self.ok("POST", "/api-keys", 201, who="admin",
                         json_body={"name": "edge bridge", "role": "admin", "org": "Org1MSP"})
        self.bridge_key = self.keep_secret("API key", bridge["key"])
        for owner in ("alice", "bob"):
            self.register_owner(owner)
            self.plant(owner)
        self.ok("POST", "/credit/deposits", who="admin",
                json_body={"account": self.people["utility"].account, "amount_micro": 10_000_000})
        now = int(time.time())
        offer = self.ok("POST", "/offers", 201, who="alice", json_body={
            "token": "Tgen", "quantity_wh": 900, "rate_micro_per_kwh": 150_000, "valid_from": now - 60,
            "valid_until": now + 86_400})
        self.offer_id = offer["offer_id"]
        self.ok("POST", f"/offers/{self.offer_id}/accept", who="utility", json_body={"quantity_wh": 300})

    def stop(self) -> None:
        try:
            self.gateway.stop()
        finally:
            self.mail.stop()

    def log_text(self) -> str:
        return self.gateway.log_path.read_text(errors="replace")


def sse_events(response: requests.Response, until: Any, limit_s: float = 15.0) -> list[dict]:
    """Parse an SSE stream into events until ``until(events)`` is true or ``limit_s`` passes (heartbeats every
    second keep the read going)."""
    events: list[dict] = []
    current: dict[str, str] = {}
    deadline = time.monotonic() + limit_s
    for line in response.iter_lines(decode_unicode=True):
        if line == "":
            if current:
                if "data" in current:
                    current["json"] = json.loads(current["data"])
                events.append(current)
                current = {}
                if until(events):
                    break
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            current[name] = value.lstrip(" ")
        if time.monotonic() > deadline:
            break
    return events
