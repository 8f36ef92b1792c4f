"""The contract layer: routing, argument checks, metadata, error codes, read-only evaluate."""

import dataclasses
import enum
import json
from typing import ClassVar

import pytest
from fabric_ccaas import ChaincodeError, Context, Contract, ContractChaincode, error_code_of, evaluate, transaction
from fabric_ccaas.testing import InMemoryPeer


class Code(enum.Enum):
    NOT_ALLOWED = "NOT_ALLOWED"


@dataclasses.dataclass
class Reading:
    meter: str
    wh: int
    note: str = ""


class Meters(Contract):
    seen_roles: ClassVar[list] = []

    async def before_transaction(self, ctx: Context) -> None:
        role = ctx.client_identity.get_attribute_value("role") if ctx.stub.get_creator() else None
        Meters.seen_roles.append(role)

    @transaction
    async def Record(self, ctx: Context, reading: Reading) -> dict:
        await ctx.stub.put_state(reading.meter, str(reading.wh).encode())
        return dataclasses.asdict(reading)

    @transaction
    async def Add(self, ctx: Context, a: int, b: int, flag: bool) -> int:
        return a + b if flag else a - b

    @evaluate
    async def Sneaky(self, ctx: Context, key: str) -> None:
        await ctx.stub.put_state(key, b"x")

    @transaction
    async def Deny(self, ctx: Context) -> None:
        raise ChaincodeError(Code.NOT_ALLOWED, "owners only")

    @transaction
    async def Crash(self, ctx: Context) -> None:
        raise ZeroDivisionError("bug")

    @evaluate
    async def Echo(self, ctx: Context, data: dict, raw: bytes) -> bytes:
        return json.dumps(data, sort_keys=True).encode() + b"|" + raw


class Other(Contract):
    name = "admin"

    @evaluate
    async def Ping(self, ctx: Context) -> str:
        return "pong"


@pytest.fixture
def peer():
    p = InMemoryPeer()
    p.install("cc", ContractChaincode(Meters(), Other(), title="meters", version="2.0.0"))
    return p


async def test_routing_default_and_qualified_names(peer):
    assert (await peer.invoke("cc", "Add", "2", "3", "true")).json == 5
    assert (await peer.invoke("cc", "Meters:Add", "2", "3", "false")).json == -1
    assert (await peer.invoke("cc", "admin:Ping")).response.payload == b"pong"
    missing = await peer.invoke("cc", "Ping")  # only the first contract is the default
    assert missing.response.status == 500 and missing.response.message.startswith("UNKNOWN_TRANSACTION:")


@pytest.mark.parametrize("args, fragment", [
    (("2", "3"), "takes 3 argument(s)"),
    (("2.5", "3", "true"), "argument a: not an integer"),
    ((" 2", "3", "true"), "not an integer"),
    (("2", "3", "yes"), "argument flag: not a boolean"),
])
async def test_bad_arguments_get_invalid_argument(peer, args, fragment):
    result = await peer.invoke("cc", "Add", *args)
    assert result.response.status == 500
    assert result.response.message.startswith("INVALID_ARGUMENT:") and fragment in result.response.message


async def test_dataclass_arguments_are_checked_field_by_field(peer, alice):
    ok = await peer.invoke("cc", "Record", '{"meter":"m1","wh":42}', identity=alice)
    assert ok.json == {"meter": "m1", "wh": 42, "note": ""}
    assert peer.state[("cc", "")]["m1"] == b"42"
    for bad, fragment in [('{"meter":"m1","wh":4.2}', "floating-point"), ('{"meter":"m1","wh":"42"}', "integer"),
                          ('{"meter":"m1"}', "missing field"), ('{"meter":"m1","wh":1,"owner":"x"}', "unknown field"),
                          ("[1]", "JSON object"), ("{", "Expecting")]:
        result = await peer.invoke("cc", "Record", bad, identity=alice)
        assert result.response.message.startswith("INVALID_ARGUMENT:"), result.response.message
        assert fragment in result.response.message


async def test_before_transaction_sees_the_callers_role(peer, alice):
    Meters.seen_roles.clear()
    await peer.invoke("cc", "Add", "1", "1", "true", identity=alice)
    assert Meters.seen_roles == ["owner"]


async def test_evaluate_transactions_cannot_write(peer):
    result = await peer.invoke("cc", "Sneaky", "k")
    assert result.response.message.startswith("READ_ONLY:")
    assert "k" not in peer.state.get(("cc", ""), {})


async def test_business_errors_carry_their_code_and_write_nothing(peer):
    result = await peer.invoke("cc", "Deny")
    assert result.response.status == 500 and result.response.message == "NOT_ALLOWED: owners only"
    assert error_code_of(result.response.message, Code) is Code.NOT_ALLOWED
    assert error_code_of("no code here", Code) is None


async def test_unexpected_exceptions_become_internal_errors(peer):
    result = await peer.invoke("cc", "Crash")
    assert result.response.message == "INTERNAL: ZeroDivisionError: bug"


async def test_json_and_bytes_arguments(peer):
    result = await peer.invoke("cc", "Echo", '{"b":1,"a":[2]}', b"\x00\xff")
    assert result.response.payload == b'{"a": [2], "b": 1}|\x00\xff'
    assert (await peer.invoke("cc", "Echo", '{"a":1e3}', b"")).response.message.startswith("INVALID_ARGUMENT")


async def test_metadata_describes_contracts_and_tags(peer):
    result = await peer.invoke("cc", "org.hyperledger.fabric:GetMetadata")
    meta = result.json
    assert meta["info"] == {"title": "meters", "version": "2.0.0"}
    assert set(meta["contracts"]) == {"Meters", "admin"}
    txs = {t["name"]: t for t in meta["contracts"]["Meters"]["transactions"]}
    assert txs["Echo"]["tag"] == ["EVALUATE"] and "SUBMIT" in txs["Add"]["tag"]
    assert [p["schema"] for p in txs["Add"]["parameters"]] == [
        {"type": "integer", "format": "int64"}, {"type": "integer", "format": "int64"}, {"type": "boolean"}]
    assert txs["Record"]["parameters"][0]["schema"] == {"$ref": "#/components/schemas/Reading"}
    assert meta["components"]["schemas"]["Reading"]["properties"]["wh"]["type"] == "integer"


def test_declaration_errors_are_caught_early():
    with pytest.raises(TypeError, match="async def"):
        class Bad(Contract):
            @transaction
            def Sync(self, ctx):
                return None

    class Unsupported(Contract):
        @transaction
        async def T(self, ctx: Context, x: float) -> None:
            return None

    with pytest.raises(TypeError, match="unsupported argument type"):
        ContractChaincode(Unsupported())
    with pytest.raises(ValueError, match="two contracts"):
        ContractChaincode(Other(), Other())
    with pytest.raises(TypeError):
        ChaincodeError("NOT_AN_ENUM", "x")
