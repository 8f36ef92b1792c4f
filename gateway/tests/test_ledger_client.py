"""The ledger-client interface: the embedded adapter driving the energy contract, and the Fabric adapter's
error mapping and per-identity gateways (no network)."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import grpc
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from vpp_contract.contract import chaincode as vpp
from vpp_contract.domain.readings import canonical
from vpp_gateway.embedded import CommitError as EmbeddedCommitError
from vpp_gateway.embedded import EmbeddedLedger, EndorsementError, LedgerClosedError
from vpp_gateway.fabric import (
    ChaincodeError,
    CommitError,
    CommitStatusError,
    EndorseError,
    ErrorDetail,
    EvaluateError,
    GatewayError,
    SubmitError,
)
from vpp_gateway.identity import LocalCA
from vpp_gateway.ledger_client import (
    Committed,
    ConflictError,
    ContractError,
    EmbeddedLedgerClient,
    FabricLedgerClient,
    LedgerClient,
    LedgerError,
    LedgerEvent,
    UnavailableError,
    map_embedded_error,
    map_fabric_error,
)


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> LocalCA:
    return LocalCA.create(tmp_path_factory.mktemp("ca") / "org1", "Org1MSP", "org1.example.com", insecure=True)


@pytest.fixture(scope="module")
def people(ca):
    return {"admin": ca.issue("operator", "admin"), "alice": ca.issue("alice", "owner"),
            "bob": ca.issue("bob", "owner")}


@pytest.fixture
async def client(tmp_path):
    ledger = EmbeddedLedger.open(tmp_path / "vpp.db", block_size=10, block_timeout=0.02)
    ledger.install("vpp", vpp)
    client = EmbeddedLedgerClient(ledger, "vpp", owns_ledger=True)
    yield client
    await client.close()


def test_adapters_satisfy_the_protocol(client):
    assert isinstance(client, LedgerClient)
    assert isinstance(FabricLedgerClient(lambda who: None, "vppchannel", "vpp"), LedgerClient)


# -- embedded -------------------------------------------------------------------------------------------------

async def test_admin_registers_owner_reads(client, people):
    committed = await client.submit("RegisterSite", ["s1", "Org1MSP:alice", "Utrecht"], people["admin"])
    assert isinstance(committed, Committed) and committed.block_number >= 1 and len(committed.tx_id) == 64
    assert json.loads(committed.result)["owner"] == "Org1MSP:alice"
    sites = json.loads(await client.evaluate("GetSites", ["Org1MSP:alice"], people["alice"]))
    assert [s["site_id"] for s in sites] == ["s1"]
    balance = json.loads(await client.evaluate("GetBalance", ["Org1MSP:alice"], people["alice"]))
    assert balance["account"] == "Org1MSP:alice" and balance["credit_micro"] == 0


async def test_contract_errors_carry_the_code(client, people):
    with pytest.raises(ContractError) as raised:
        await client.submit("RegisterSite", ["s2", "Org1MSP:alice", "Utrecht"], people["alice"])
    assert raised.value.code == "FORBIDDEN" and "needs admin" in raised.value.message
    assert raised.value.tx_id
    with pytest.raises(ContractError) as raised:  # owners see their own account only
        await client.evaluate("GetBalance", ["Org1MSP:alice"], people["bob"])
    assert raised.value.code == "FORBIDDEN"
    await client.submit("RegisterSite", ["s2", "Org1MSP:alice", "Utrecht"], people["admin"])
    with pytest.raises(ContractError) as raised:
        await client.submit("RegisterSite", ["s2", "Org1MSP:alice", "Utrecht"], people["admin"])
    assert raised.value.code == "ALREADY_EXISTS"


async def test_conflicting_submits_raise_conflict(client, people):
    client.ledger.block_size, client.ledger.block_timeout = 2, 5.0  # both endorsed before the block is cut
    outcomes = await asyncio.gather(
        client.submit("RegisterSite", ["s3", "Org1MSP:alice", "Utrecht"], people["admin"]),
        client.submit("RegisterSite", ["s3", "Org1MSP:bob", "Delft"], people["admin"]),
        return_exceptions=True)
    committed = [o for o in outcomes if isinstance(o, Committed)]
    conflicts = [o for o in outcomes if isinstance(o, ConflictError)]
    assert len(committed) == 1 and len(conflicts) == 1, outcomes
    assert conflicts[0].reason == "MVCC_READ_CONFLICT" and conflicts[0].code is None and conflicts[0].tx_id
    assert isinstance(conflicts[0].__cause__, EmbeddedCommitError)


async def test_conflict_through_endorse_and_submit_endorsed(client, people):
    ledger = client.ledger
    first = await ledger.endorse("vpp", "RegisterSite", ["s4", "Org1MSP:alice", "x"], people["admin"].creator)
    second = await ledger.endorse("vpp", "RegisterSite", ["s4", "Org1MSP:bob", "y"], people["admin"].creator)
    await ledger.submit_endorsed(first)
    with pytest.raises(EmbeddedCommitError) as raised:
        await ledger.submit_endorsed(second)
    mapped = map_embedded_error(raised.value)
    assert isinstance(mapped, ConflictError) and mapped.tx_id == second.tx_id


def test_embedded_error_mapping():
    contract = map_embedded_error(EndorsementError("NOT_FOUND: site x does not exist", "t1", 404))
    assert type(contract) is ContractError and (contract.code, contract.message, contract.tx_id) == \
        ("NOT_FOUND", "site x does not exist", "t1")
    plain = map_embedded_error(EndorsementError("something odd", "t2"))
    assert type(plain) is ContractError and plain.code is None and plain.message == "something odd"
    dup = map_embedded_error(EndorsementError("duplicate transaction found [t3]", "t3"))
    assert type(dup) is LedgerError and dup.reason == "DUPLICATE_TXID"
    try:
        raise EndorsementError("simulation refused", "t4") from RuntimeError("x")
    except EndorsementError as exc:
        refused = map_embedded_error(exc)
    assert type(refused) is LedgerError and refused.code is None
    phantom = map_embedded_error(EmbeddedCommitError("t5", 12, 3))
    assert type(phantom) is ConflictError and phantom.reason == "PHANTOM_READ_CONFLICT"
    assert type(map_embedded_error(EmbeddedCommitError("t6", 9, 3))) is LedgerError
    assert type(map_embedded_error(LedgerClosedError("closed"))) is UnavailableError


async def test_closed_ledger_is_unavailable(tmp_path, people):
    ledger = EmbeddedLedger.open(tmp_path / "closed.db")
    ledger.install("vpp", vpp)
    client = EmbeddedLedgerClient(ledger, "vpp")
    ledger.close()
    with pytest.raises(UnavailableError):
        await client.evaluate("GetSupply", [], people["admin"])


def _signed_reading(meter_id: str, key: ec.EllipticCurvePrivateKey, start: int, wh: int) -> dict:
    payload = {"meter": meter_id, "key": 1, "kind": "generation", "start": start, "interval": 900, "wh": wh}
    signature = key.sign(canonical(payload), ec.ECDSA(hashes.SHA256()))
    return {"payload": payload, "signature": base64.b64encode(signature).decode()}


async def test_events_iterate(client, people):
    admin = people["admin"]
    await client.submit("RegisterSite", ["s5", "Org1MSP:alice", "Utrecht"], admin)
    await client.submit("RegisterAsset", ["s5-gen", "s5", "generator", "5000", "{}"], admin)
    meter_key = ec.generate_private_key(ec.SECP256R1())
    pem = meter_key.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    await client.submit("RegisterMeter", ["m-s5-gen", "s5-gen", "900", pem], admin)
    now = int(time.time())
    start = now - now % 900 - 2 * 900
    readings = [_signed_reading("m-s5-gen", meter_key, start + i * 900, 100 + i) for i in range(2)]
    committed = [await client.submit("SubmitReadings", [json.dumps([r])], admin) for r in readings]

    seen: list[LedgerEvent] = []
    async with asyncio.timeout(5):
        async for event in client.events(start_block=0):
            seen.append(event)
            if len(seen) == 2:
                break
    assert [e.tx_id for e in seen] == [c.tx_id for c in committed]
    assert [e.block_number for e in seen] == [c.block_number for c in committed]
    assert {e.name for e in seen} == {"VppLedger"}
    assert json.loads(seen[0].payload)["events"][0]["type"] == "mint"

    resumed = []
    async with asyncio.timeout(5):
        async for event in client.events(start_block=committed[1].block_number):
            resumed.append(event)
            break
    assert resumed[0].tx_id == committed[1].tx_id


# -- Fabric: error mapping ------------------------------------------------------------------------------------

def test_fabric_chaincode_error_is_contract_error():
    detail = ErrorDetail("peer0:7051", "Org1MSP", "chaincode response 500, FORBIDDEN: role owner cannot do this",
                         ChaincodeError(500, "FORBIDDEN", "role owner cannot do this"))
    error = EndorseError("failed to endorse transaction", code=grpc.StatusCode.ABORTED, transaction_id="tx1",
                         details=(detail,))
    mapped = map_fabric_error(error)
    assert type(mapped) is ContractError
    assert (mapped.code, mapped.message, mapped.tx_id) == ("FORBIDDEN", "role owner cannot do this", "tx1")

    from_message = map_fabric_error(EvaluateError(
        "evaluate call to endorser returned error: chaincode response 500, NOT_FOUND: no site s9",
        code=grpc.StatusCode.UNKNOWN, transaction_id="tx2"))
    assert type(from_message) is ContractError and from_message.code == "NOT_FOUND"


@pytest.mark.parametrize(("code", "expected"), [(11, ConflictError), (12, ConflictError), (9, LedgerError),
                                                (10, LedgerError)])
def test_fabric_commit_error(code, expected):
    mapped = map_fabric_error(CommitError("tx3", code, 42))
    assert type(mapped) is expected and mapped.tx_id == "tx3" and mapped.code is None


@pytest.mark.parametrize(("error_type", "status", "expected"), [
    (EvaluateError, grpc.StatusCode.UNAVAILABLE, UnavailableError),
    (SubmitError, grpc.StatusCode.UNAVAILABLE, UnavailableError),
    (CommitStatusError, grpc.StatusCode.DEADLINE_EXCEEDED, UnavailableError),
    (EndorseError, grpc.StatusCode.DEADLINE_EXCEEDED, UnavailableError),
    (EndorseError, grpc.StatusCode.ABORTED, LedgerError),
    (EvaluateError, grpc.StatusCode.PERMISSION_DENIED, LedgerError),
])
def test_fabric_transport_errors(error_type, status, expected):
    mapped = map_fabric_error(error_type("peer said no", code=status, transaction_id="tx4"))
    assert type(mapped) is expected and mapped.code is None and mapped.reason == status.name
    assert mapped.tx_id == "tx4"


def test_a_chaincode_server_the_peer_cannot_reach_is_unavailable():
    # the Gateway's answer to a submit while org1's chaincode server was killed (native Fabric 2.5.12, 2026-11-24)
    detail = ErrorDetail("127.0.0.1:45051", "Org1MSP", "error in simulation: failed to execute transaction 2a0d: "
                         "could not launch chaincode vpp_1.0:0d32: connection to vpp_1.0:0d32 failed: error cannot "
                         "create connection for vpp_1.0:0d32: error creating grpc connection to 127.0.0.1:45070: "
                         "failed to create new connection: connection error: desc = \"transport: error while dialing: "
                         "dial tcp 127.0.0.1:45070: connect: connection refused\"", None)
    error = EndorseError("failed to endorse transaction, see attached details for more info",
                         code=grpc.StatusCode.ABORTED, transaction_id="tx5", details=(detail,))
    mapped = map_fabric_error(error)
    assert type(mapped) is UnavailableError and mapped.reason == "CHAINCODE_UNAVAILABLE" and mapped.tx_id == "tx5"
    hung = EndorseError("timeout expired while executing transaction", code=grpc.StatusCode.ABORTED)
    assert type(map_fabric_error(hung)) is UnavailableError


def test_unknown_errors_are_ledger_errors():
    assert type(map_fabric_error(RuntimeError("boom"))) is LedgerError
    assert type(map_fabric_error(GatewayError("odd"))) is LedgerError


# -- Fabric: gateways per identity ----------------------------------------------------------------------------

class FakeContract:
    def __init__(self, gateway):
        self.gateway = gateway

    async def evaluate(self, name, args, transient=None, *, timeout=None):  # noqa: ASYNC109 - the real Contract.evaluate takes it
        self.gateway.calls.append(("evaluate", name, tuple(args)))
        self.gateway.timeouts.append((name, timeout))
        if name == "Fail":
            raise EvaluateError("chaincode response 500, INVALID_ARGUMENT: bad", code=grpc.StatusCode.UNKNOWN)
        return b"result"

    def new_proposal(self, name, args, transient=None, endorsing_orgs=None):
        return FakeProposal(self.gateway, name, tuple(args))


class FakeProposal:
    """Proposal → endorse → submit → commit status, as vpp_gateway.fabric has them. ``gateway.status_failures``
    commit-status deadlines happen before the real status (the envelope reached an orderer that died)."""

    def __init__(self, gateway, name, args):
        self.gateway, self.name, self.args = gateway, name, args
        self.result = b"ok"

    async def endorse(self):
        self.gateway.calls.append(("endorse", self.name, self.args))
        return self

    async def submit(self):
        self.gateway.calls.append(("submit", self.name, self.args))
        return self

    async def status(self):
        if self.gateway.status_failures:
            self.gateway.status_failures -= 1
            raise CommitStatusError("deadline exceeded", code=grpc.StatusCode.DEADLINE_EXCEEDED, transaction_id="tx8")
        return self

    def raise_for_status(self):
        if self.name == "Conflict":
            raise CommitError("tx9", 11, 7)

    transaction_id = "tx8"
    block_number = 7


class FakeGateway:
    def __init__(self, identity):
        self.identity = identity
        self.calls = []
        self.timeouts = []
        self.closed = False
        self.status_failures = 0

    def get_network(self, name):
        assert name == "vppchannel"
        return self

    def get_contract(self, chaincode, contract_name=None):
        assert chaincode == "vpp"
        return FakeContract(self)

    async def close(self):
        self.closed = True


async def test_fabric_client_one_gateway_per_identity(people):
    made: list[FakeGateway] = []

    def connect(identity):
        made.append(FakeGateway(identity))
        return made[-1]

    client = FabricLedgerClient(connect, "vppchannel", "vpp")
    assert await client.evaluate("GetSupply", [], people["admin"]) == b"result"
    assert await client.submit("RegisterSite", ["s1", "o", "l"], people["admin"]) == Committed(b"ok", "tx8", 7)
    await asyncio.gather(*(client.evaluate("GetSupply", [], people["alice"]) for _ in range(3)))
    assert [g.identity for g in made] == [people["admin"], people["alice"]]
    with pytest.raises(ContractError) as raised:
        await client.evaluate("Fail", [], people["alice"])
    assert raised.value.code == "INVALID_ARGUMENT"
    with pytest.raises(ConflictError):
        await client.submit("Conflict", [], people["alice"])
    await client.close()
    assert all(g.closed for g in made)
    with pytest.raises(UnavailableError):
        await client.evaluate("GetSupply", [], people["admin"])


async def test_fabric_client_gives_full_scan_queries_their_own_deadline(people):
    """GetSupply reads every lot: it gets ``scan_timeout`` (VPP_FABRIC_SCAN_WAIT), other queries the Gateway's."""
    gateway = FakeGateway(people["admin"])
    client = FabricLedgerClient(lambda who: gateway, "vppchannel", "vpp", scan_timeout=42.0)
    await client.evaluate("GetSupply", [], people["admin"])
    await client.evaluate("GetBalance", ["o"], people["admin"])
    assert gateway.timeouts == [("GetSupply", 42.0), ("GetBalance", None)]
    await client.close()


async def test_fabric_client_sends_the_same_transaction_again_when_its_commit_status_does_not_come(people):
    """A Raft leader that dies holding the envelope: the commit status times out, the client re-submits the same
    endorsed transaction (no second endorsement, so no second transaction id) and gets its status."""
    made: list[FakeGateway] = []

    def connect(identity):
        made.append(FakeGateway(identity))
        made[-1].status_failures = 2
        return made[-1]

    client = FabricLedgerClient(connect, "vppchannel", "vpp")
    assert await client.submit("RegisterSite", ["s1", "o", "l"], people["admin"]) == Committed(b"ok", "tx8", 7)
    assert [kind for kind, *_ in made[0].calls] == ["endorse", "submit", "submit", "submit"]
    made[0].status_failures = 4  # more than the attempts allowed: the deadline reaches the caller
    with pytest.raises(UnavailableError):
        await client.submit("RegisterSite", ["s2", "o", "l"], people["admin"])
    with pytest.raises(ConflictError):  # a conflict is the caller's to retry, as a new transaction
        await client.submit("Conflict", [], people["admin"])
    assert [kind for kind, *_ in made[0].calls][-2:] == ["endorse", "submit"]


async def test_fabric_client_async_connect_and_failures(people):
    async def connect(identity):
        raise ConnectionRefusedError("no peer")

    client = FabricLedgerClient(connect, "vppchannel", "vpp")
    with pytest.raises(UnavailableError, match="no peer"):
        await client.evaluate("GetSupply", [], people["admin"])
    with pytest.raises(LedgerError, match="events_identity"):
        async for _ in client.events():
            pass
