"""Fixtures for the Fabric Gateway client tests: a throwaway client identity, the fake
Gateway peer on 127.0.0.1 and a Gateway connected to it."""

from __future__ import annotations

import pytest
import pytest_asyncio
from fake_fabric_gateway import CHANNEL, FAST, MSP_ID, Credentials, FakeGateway, make_credentials, start_server
from vpp_gateway.fabric import EcdsaSigner, Gateway, SigningIdentity, X509Identity


@pytest.fixture(scope="session")
def client_credentials() -> Credentials:
    return make_credentials("User1@org1.example.com")


@pytest.fixture
def signing_identity(client_credentials: Credentials) -> SigningIdentity:
    return SigningIdentity(
        X509Identity(MSP_ID, client_credentials.cert_pem), EcdsaSigner.from_pem(client_credentials.key_pem)
    )


@pytest_asyncio.fixture
async def fake(client_credentials: Credentials):
    servicer = FakeGateway(client_credentials.cert_pem, MSP_ID, CHANNEL)
    server, port = await start_server(servicer)
    servicer.port = port
    yield servicer
    await server.stop(grace=None)
    assert servicer.violations == [], f"the fake peer rejected the client's messages: {servicer.violations}"


@pytest_asyncio.fixture
async def gateway(fake: FakeGateway, signing_identity: SigningIdentity):
    async with Gateway.connect(f"127.0.0.1:{fake.port}", signing_identity, insecure=True, timeouts=FAST) as connected:
        yield connected


@pytest.fixture
def contract(gateway: Gateway):
    return gateway.get_network(CHANNEL).get_contract("vpp")
