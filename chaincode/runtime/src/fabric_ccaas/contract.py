"""Contracts: transactions declared as methods, arguments checked against their annotations.

::

    class Records(Contract):
        @transaction
        async def CreateRecord(self, ctx: Context, record_id: str, value: int) -> None: ...

        @transaction(evaluate=True)
        async def ReadRecord(self, ctx: Context, record_id: str) -> dict: ...

    chaincode = ContractChaincode(Records())

A client calls ``Records:CreateRecord`` (or ``CreateRecord``: the first contract is the default). Results are
returned as bytes (``bytes``), UTF-8 (``str``) or canonical JSON (everything else). Errors reach clients as
``CODE: message``. Evaluate transactions get a read-only stub. JSON arguments may not contain floats unless the
chaincode allows them: ledgers must be deterministic.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import logging
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fabric_protos.peer import proposal_response_pb2

from .errors import ChaincodeError, KeyValidationError, PeerError, RuntimeCode, StreamClosedError
from .handler import Chaincode, error_response, success_response
from .identity import ClientIdentity
from .stub import ChaincodeStub

log = logging.getLogger("fabric_ccaas.contract")

METADATA_FUNCTION = "org.hyperledger.fabric:GetMetadata"
_INT_PATTERN = re.compile(r"-?(0|[1-9][0-9]*)")


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the same value always gives the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class Context:
    """What every transaction receives first: the stub and the caller's identity."""

    __slots__ = ("stub",)

    def __init__(self, stub: ChaincodeStub):
        self.stub = stub

    @property
    def client_identity(self) -> ClientIdentity:
        return self.stub.client_identity


def transaction(fn: Callable | None = None, *, evaluate: bool = False, name: str | None = None):
    """Mark a contract method as a transaction. ``evaluate=True`` tags it read-only."""

    def mark(func: Callable) -> Callable:
        if not inspect.iscoroutinefunction(func):
            raise TypeError(f"transaction {func.__qualname__} must be declared 'async def'")
        func.__fabric_transaction__ = {"evaluate": evaluate, "name": name or func.__name__}
        return func

    return mark(fn) if fn is not None else mark


def evaluate(fn: Callable) -> Callable:
    """Shorthand for ``@transaction(evaluate=True)``."""
    return transaction(fn, evaluate=True)


class Contract:
    """Base class for contracts. ``name`` defaults to the class name."""

    name: str | None = None
    version: str = "0.0.1"

    async def before_transaction(self, ctx: Context) -> None:
        """Called before every transaction of this contract (for example to check the caller's role)."""

    @classmethod
    def contract_name(cls) -> str:
        return cls.name or cls.__name__


# -- argument conversion --------------------------------------------------------------------------------------

def _reject_float(text: str) -> Any:
    raise ValueError(f"floating-point number {text} is not allowed; use integers in fixed units")


def _json_loader(allow_floats: bool) -> Callable[[bytes], Any]:
    if allow_floats:
        return json.loads
    return lambda raw: json.loads(raw, parse_float=_reject_float, parse_constant=_reject_float)


def _to_str(raw: bytes) -> str:
    return raw.decode("utf-8")


def _to_int(raw: bytes) -> int:
    text = raw.decode("ascii")
    if not _INT_PATTERN.fullmatch(text):
        raise ValueError(f"not an integer: {text!r}")
    return int(text)


def _to_bool(raw: bytes) -> bool:
    if raw in (b"true", b"false"):
        return raw == b"true"
    raise ValueError(f"not a boolean (true or false): {raw[:20]!r}")


def _check_json_type(value: Any, expected: type, label: str) -> Any:
    if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{label} must be an integer")
    if expected in (str, bool, dict, list) and not isinstance(value, expected):
        raise ValueError(f"{label} must be of type {expected.__name__}")
    return value


def _dataclass_converter(cls: type, load: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    required = {n for n, f in fields.items()
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}

    def convert(raw: bytes) -> Any:
        data = load(raw)
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object for {cls.__name__}")
        unknown = set(data) - set(fields)
        if unknown:
            raise ValueError(f"unknown field(s) for {cls.__name__}: {', '.join(sorted(unknown))}")
        missing = required - set(data)
        if missing:
            raise ValueError(f"missing field(s) for {cls.__name__}: {', '.join(sorted(missing))}")
        for key, value in data.items():
            hint = hints.get(key)
            if hint in (int, str, bool, dict, list):
                _check_json_type(value, hint, f"{cls.__name__}.{key}")
        return cls(**data)

    return convert


def _converter(annotation: Any, allow_floats: bool) -> Callable[[bytes], Any]:
    load = _json_loader(allow_floats)
    if annotation in (inspect.Parameter.empty, str):
        return _to_str
    if annotation is bytes:
        return bytes
    if annotation is int:
        return _to_int
    if annotation is bool:
        return _to_bool
    origin = typing.get_origin(annotation) or annotation
    if origin in (dict, list):
        return lambda raw: _check_json_type(load(raw), origin, "argument")
    if annotation is Any:
        return load
    if dataclasses.is_dataclass(annotation):
        return _dataclass_converter(annotation, load)
    raise TypeError(f"unsupported argument type {annotation!r}")


def _schema(annotation: Any, components: dict[str, Any]) -> dict[str, Any]:
    if annotation in (inspect.Parameter.empty, str):
        return {"type": "string"}
    if annotation is bytes:
        return {"type": "string", "format": "byte"}
    if annotation is int:
        return {"type": "integer", "format": "int64"}
    if annotation is bool:
        return {"type": "boolean"}
    origin = typing.get_origin(annotation) or annotation
    if origin is dict:
        return {"type": "object"}
    if origin is list:
        return {"type": "array"}
    if dataclasses.is_dataclass(annotation):
        name = annotation.__name__
        if name not in components:
            hints = typing.get_type_hints(annotation)
            components[name] = {"$id": name, "type": "object", "additionalProperties": False,
                                "properties": {f.name: _schema(hints.get(f.name), components)
                                               for f in dataclasses.fields(annotation)}}
        return {"$ref": f"#/components/schemas/{name}"}
    return {}


def _serialise(result: Any) -> bytes:
    if result is None:
        return b""
    if isinstance(result, bytes):
        return result
    if isinstance(result, str):
        return result.encode("utf-8")
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return canonical_json(dataclasses.asdict(result))
    return canonical_json(result)


@dataclass(frozen=True, slots=True)
class _Transaction:
    contract: Contract
    name: str
    method: Callable
    converters: tuple[Callable[[bytes], Any], ...]
    parameter_names: tuple[str, ...]
    evaluate: bool


class ContractChaincode(Chaincode):
    """Serves one or more contracts; the first is the default for unqualified function names."""

    def __init__(self, *contracts: Contract, title: str = "chaincode", version: str = "0.0.1",
                 allow_float_arguments: bool = False):
        if not contracts:
            raise ValueError("at least one contract is needed")
        self._title, self._version = title, version
        self._routes: dict[str, _Transaction] = {}
        self._components: dict[str, Any] = {}
        self._contracts: dict[str, tuple[Contract, list[dict[str, Any]]]] = {}
        for index, contract in enumerate(contracts):
            name = contract.contract_name()
            if name in self._contracts:
                raise ValueError(f"two contracts are named {name}")
            described = []
            self._contracts[name] = (contract, described)
            for tx in self._transactions_of(contract, allow_float_arguments, described):
                self._routes[f"{name}:{tx.name}"] = tx
                if index == 0:
                    self._routes[tx.name] = tx
        self._metadata = canonical_json(self._describe())

    def _transactions_of(self, contract: Contract, allow_floats: bool, described: list[dict[str, Any]]):
        for attr in sorted(dir(type(contract))):
            method = getattr(contract, attr)
            info = getattr(method, "__fabric_transaction__", None)
            if info is None:
                continue
            hints = typing.get_type_hints(method)
            params = list(inspect.signature(method).parameters.values())
            if not params:
                raise TypeError(f"{attr} must take the transaction context as its first parameter")
            params = params[1:]
            for p in params:
                if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                    raise TypeError(f"{attr}: only positional parameters are supported ({p.name})")
            converters = tuple(_converter(hints.get(p.name, p.annotation), allow_floats) for p in params)
            described.append({
                "name": info["name"],
                "tag": ["EVALUATE"] if info["evaluate"] else ["SUBMIT", "submitTx"],
                "parameters": [{"name": p.name, "schema": _schema(hints.get(p.name, p.annotation),
                                                                   self._components)} for p in params],
                **({"returns": _schema(hints["return"], self._components)}
                   if hints.get("return") not in (None, type(None)) else {}),
            })
            yield _Transaction(contract, info["name"], method, converters, tuple(p.name for p in params),
                               info["evaluate"])

    def _describe(self) -> dict[str, Any]:
        return {
            "$schema": "https://hyperledger.github.io/fabric-chaincode-node/main/api/contract-schema.json",
            "info": {"title": self._title, "version": self._version},
            "contracts": {
                name: {"name": name, "info": {"title": name, "version": contract.version},
                       "transactions": described}
                for name, (contract, described) in self._contracts.items()
            },
            "components": {"schemas": self._components},
        }

    @property
    def metadata(self) -> dict[str, Any]:
        return json.loads(self._metadata)

    async def init(self, stub: ChaincodeStub) -> proposal_response_pb2.Response:
        if not stub.args:  # `peer chaincode invoke --isInit` with no function: nothing to initialise
            return success_response()
        return await self.invoke(stub)

    async def invoke(self, stub: ChaincodeStub) -> proposal_response_pb2.Response:
        args = stub.args
        if not args:
            return error_response(f"{RuntimeCode.UNKNOWN_TRANSACTION.value}: no function name was given")
        function = args[0].decode("utf-8", "replace")
        if function == METADATA_FUNCTION:
            return success_response(self._metadata)
        tx = self._routes.get(function)
        if tx is None:
            return error_response(f"{RuntimeCode.UNKNOWN_TRANSACTION.value}: no transaction named {function!r}")
        raw_args = args[1:]
        if len(raw_args) != len(tx.converters):
            return error_response(
                f"{RuntimeCode.INVALID_ARGUMENT.value}: {tx.name} takes {len(tx.converters)} argument(s) "
                f"({', '.join(tx.parameter_names)}), got {len(raw_args)}"
            )
        values = []
        for name, convert, raw in zip(tx.parameter_names, tx.converters, raw_args, strict=False):
            try:
                values.append(convert(raw))
            except (ValueError, TypeError, UnicodeDecodeError) as exc:
                return error_response(f"{RuntimeCode.INVALID_ARGUMENT.value}: argument {name}: {exc}")
        stub.read_only = tx.evaluate
        ctx = Context(stub)
        try:
            await tx.contract.before_transaction(ctx)
            result = await tx.method(ctx, *values)
            return success_response(_serialise(result))
        except ChaincodeError as exc:
            return error_response(exc.message)
        except PeerError as exc:
            return error_response(f"{RuntimeCode.PEER_ERROR.value}: {exc}")
        except KeyValidationError as exc:
            return error_response(f"{RuntimeCode.INVALID_ARGUMENT.value}: {exc}")
        except StreamClosedError:
            raise
        except Exception as exc:  # a bug: answer with a code, keep serving, log the trace
            log.exception("transaction %s failed unexpectedly", function)
            return error_response(f"{RuntimeCode.INTERNAL.value}: {type(exc).__name__}: {exc}")


def error_code_of(message: str, codes: type[enum.Enum]) -> enum.Enum | None:
    """The code at the start of a ``CODE: message`` string, if it belongs to ``codes``."""
    head, sep, _ = message.partition(":")
    if not sep:
        return None
    try:
        return codes(head.strip())
    except ValueError:
        return None
