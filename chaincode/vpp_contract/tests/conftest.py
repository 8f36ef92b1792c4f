"""A small world for contract tests: identities with roles, a site with generator, battery and load meters."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_ccaas.testing import InMemoryPeer, TestCA, TestIdentity

from vpp_contract.contract import chaincode
from vpp_contract.domain.readings import canonical

DAY0 = 1_790_000_100 - 1_790_000_100 % 86_400  # a UTC midnight
BATTERY = {"chemistry": "LFP", "capacity_wh": 10_000, "soc_min_permille": 100, "soc_max_permille": 950,
           "charge_eff_ppm": 950_000, "discharge_eff_ppm": 950_000}


@dataclass
class Meter:
    meter_id: str
    key: ec.EllipticCurvePrivateKey
    interval: int = 900
    version: int = 1

    def sign(self, kind: str, start: int, key: ec.EllipticCurvePrivateKey | None = None, **values: int) -> dict:
        payload = {"meter": self.meter_id, "key": self.version, "kind": kind, "start": start,
                   "interval": self.interval, **values}
        signature = (key or self.key).sign(canonical(payload), ec.ECDSA(hashes.SHA256()))
        return {"payload": payload, "signature": base64.b64encode(signature).decode()}

    @property
    def public_pem(self) -> str:
        return self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@dataclass
class World:
    peer: InMemoryPeer
    admin: TestIdentity
    utility: TestIdentity
    owners: dict[str, TestIdentity]
    now: int = DAY0 + 10 * 86_400
    meters: dict[str, Meter] = field(default_factory=dict)

    async def call(self, fn: str, *args, who: TestIdentity | None = None, at: int | None = None):
        raw = [a if isinstance(a, str) else json.dumps(a) for a in args]
        return await self.peer.invoke("vpp", fn, *raw, identity=who or self.admin, timestamp=at or self.now)

    async def ok(self, fn: str, *args, **kw):
        result = await self.call(fn, *args, **kw)
        assert result.ok, result.response.message
        return result.json if result.response.payload else None

    async def error(self, fn: str, *args, **kw) -> str:
        result = await self.call(fn, *args, **kw)
        assert not result.ok, f"{fn} succeeded"
        return result.response.message.split(":", 1)[0]

    async def site(self, site_id: str, owner: str, battery: dict | None = BATTERY) -> dict[str, Meter]:
        await self.ok("RegisterSite", site_id, f"Org1MSP:{owner}", "Utrecht")
        made = {}
        assets = [("gen", "generator", 5_000), ("load", "load", 8_000)]
        if battery:
            assets.append(("bat", "battery", 5_000))
        for suffix, kind, power in assets:
            asset = f"{site_id}-{suffix}"
            await self.ok("RegisterAsset", asset, site_id, kind, str(power), battery if kind == "battery" else {})
            meter = Meter(f"m-{asset}", ec.generate_private_key(ec.SECP256R1()))
            await self.ok("RegisterMeter", meter.meter_id, asset, "900", meter.public_pem)
            self.meters[meter.meter_id] = made[suffix] = meter
        return made

    async def submit(self, *readings: dict, at: int | None = None) -> list[dict]:
        return await self.ok("SubmitReadings", list(readings), at=at)

    async def balance(self, owner: str) -> dict:
        return await self.ok("GetBalance", f"Org1MSP:{owner}")


@pytest.fixture(scope="session")
def identities():
    org1, org2 = TestCA("Org1MSP", "org1.example.com"), TestCA("Org2MSP", "org2.example.com")
    return {
        "admin": org1.issue("operator", {"role": "admin", "hf.EnrollmentID": "operator"}),
        "alice": org1.issue("alice", {"role": "owner", "hf.EnrollmentID": "alice"}),
        "bob": org1.issue("bob", {"role": "owner", "hf.EnrollmentID": "bob"}),
        "utility": org2.issue("utility", {"role": "utility", "hf.EnrollmentID": "utility"}),
        "auditor": org2.issue("auditor", {"role": "auditor", "hf.EnrollmentID": "auditor"}),
        "nobody": org1.issue("nobody", {"hf.EnrollmentID": "nobody"}),
    }


@pytest.fixture
def world(identities) -> World:
    peer = InMemoryPeer("vppchannel")
    peer.install("vpp", chaincode)
    return World(peer, identities["admin"], identities["utility"],
                 {k: v for k, v in identities.items() if k in ("alice", "bob")})
