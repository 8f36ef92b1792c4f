"""The ledger-client interface the REST gateway uses, for both ledger backends (DESIGN §3).

* :class:`LedgerClient` — ``evaluate``, ``submit``, ``events``, ``close``; the caller's identity is passed per
  call (the chaincode derives account and role from it).
* One error hierarchy: :class:`LedgerError` → :class:`ContractError` (the chaincode said ``CODE: message``),
  :class:`ConflictError` (MVCC / phantom read conflict: endorse again with a new transaction),
  :class:`UnavailableError` (the ledger could not be reached or did not answer in time).
* Adapters: :class:`EmbeddedLedgerClient` over :class:`vpp_gateway.embedded.EmbeddedLedger`, and
  :class:`FabricLedgerClient` over :mod:`vpp_gateway.fabric` (one Gateway connection per identity).

Identities: anything with ``.creator`` (Fabric's serialized identity bytes) — e.g.
:class:`vpp_gateway.identity.IssuedIdentity`. The Fabric adapter hands the identity to a ``connect`` callable,
which builds the Gateway (typically ``Gateway.connect(endpoint, identity.signing_identity(), ...)``).
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .embedded import EmbeddedLedger
    from .fabric import Gateway

__all__ = [
    "Arg",
    "Committed",
    "ConflictError",
    "ContractError",
    "EmbeddedLedgerClient",
    "FabricLedgerClient",
    "HasCreator",
    "LedgerClient",
    "LedgerError",
    "LedgerEvent",
    "UnavailableError",
    "map_embedded_error",
    "map_fabric_error",
    "split_chaincode_message",
]

Arg = str | bytes
CONFLICT_CODES = frozenset({"MVCC_READ_CONFLICT", "PHANTOM_READ_CONFLICT"})
_CODE_MESSAGE = re.compile(r"([A-Z][A-Z0-9_]*): (.*)", re.DOTALL)


# -- values ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Committed:
    """A transaction committed as valid: the transaction function's result, its id and block."""

    result: bytes
    tx_id: str
    block_number: int


@dataclass(frozen=True, slots=True)
class LedgerEvent:
    """A chaincode event of a valid transaction."""

    block_number: int
    tx_id: str
    name: str
    payload: bytes


# -- errors ------------------------------------------------------------------------------------------------------

class LedgerError(Exception):
    """Base of every ledger-client error.

    ``code`` is the chaincode's stable error code (``FORBIDDEN``, ``NOT_FOUND``, ...) when the chaincode rejected
    the call, else ``None``; ``reason`` names the ledger-level cause otherwise (``MVCC_READ_CONFLICT``,
    ``UNAVAILABLE``, ``DEADLINE_EXCEEDED``, ``DUPLICATE_TXID``, a gRPC status name, ...). ``tx_id`` is the
    transaction concerned, when known.
    """

    def __init__(self, message: str, *, code: str | None = None, tx_id: str | None = None,
                 reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.tx_id = tx_id or None
        self.reason = reason

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}" if self.code else self.message
        return f"{text} (tx {self.tx_id})" if self.tx_id else text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r}, tx_id={self.tx_id!r}, " \
               f"reason={self.reason!r})"


class ContractError(LedgerError):
    """The chaincode rejected the transaction (``CODE: message``); retrying the same call will not help."""


class ConflictError(LedgerError):
    """MVCC or phantom read conflict: another transaction changed what this one read. Retry as a new transaction
    (endorse again); the state it was based on is gone."""


class UnavailableError(LedgerError):
    """The ledger could not be reached or did not answer in time. For a submit the transaction may or may not have
    been committed (``tx_id`` says which one to look for)."""


def split_chaincode_message(message: str) -> tuple[str | None, str]:
    """``"CODE: message"`` → ``("CODE", "message")``; any other text → ``(None, text)``."""
    match = _CODE_MESSAGE.fullmatch(message)
    return (match.group(1), match.group(2)) if match else (None, message)


# -- the interface -----------------------------------------------------------------------------------------------

@runtime_checkable
class HasCreator(Protocol):
    """An identity as the ledger sees it: Fabric's ``msp.SerializedIdentity`` bytes."""

    @property
    def creator(self) -> bytes: ...


@runtime_checkable
class LedgerClient(Protocol):
    """What the REST gateway needs from a ledger, whichever backend runs it."""

    async def evaluate(self, function: str, args: Sequence[Arg], identity: Any,
                       transient: Mapping[str, bytes] | None = None) -> bytes:
        """Run a transaction function without ordering it; returns its result."""
        ...

    async def submit(self, function: str, args: Sequence[Arg], identity: Any,
                     transient: Mapping[str, bytes] | None = None) -> Committed:
        """Endorse, order and wait for the commit."""
        ...

    def events(self, start_block: int = 0) -> AsyncIterator[LedgerEvent]:
        """The chaincode's events from ``start_block`` on, then live. Events of ``start_block`` may repeat after a
        resume: de-duplicate by ``tx_id``."""
        ...

    async def close(self) -> None: ...


# -- embedded ----------------------------------------------------------------------------------------------------

def map_embedded_error(error: Exception) -> LedgerError:
    """Translate an :mod:`vpp_gateway.embedded` error into the ledger-client hierarchy."""
    from .embedded import CommitError, EmbeddedLedgerError, EndorsementError, LedgerClosedError

    if isinstance(error, LedgerError):
        return error
    tx_id = getattr(error, "tx_id", None) or None
    if isinstance(error, CommitError):
        cls = ConflictError if error.code_name in CONFLICT_CODES else LedgerError
        return cls(str(error), tx_id=tx_id, reason=error.code_name)
    if isinstance(error, LedgerClosedError):
        return UnavailableError(str(error), tx_id=tx_id, reason="CLOSED")
    if isinstance(error, EndorsementError):
        if error.message.startswith("duplicate transaction found"):
            return LedgerError(error.message, tx_id=tx_id, reason="DUPLICATE_TXID")
        if error.__cause__ is not None:  # the simulator refused the proposal, the chaincode did not answer
            return LedgerError(error.message, tx_id=tx_id, reason="ENDORSEMENT_FAILED")
        code, message = split_chaincode_message(error.message)
        return ContractError(message, code=code, tx_id=tx_id, reason=f"CHAINCODE_{error.status}")
    if isinstance(error, EmbeddedLedgerError):
        return LedgerError(str(error), tx_id=tx_id)
    return LedgerError(f"{type(error).__name__}: {error}", tx_id=tx_id)


class EmbeddedLedgerClient:
    """:class:`LedgerClient` over an in-process :class:`~vpp_gateway.embedded.EmbeddedLedger`.

    ``identity`` is anything with ``.creator``. The ledger is the caller's unless ``owns_ledger=True``
    (then :meth:`close` closes it).
    """

    def __init__(self, ledger: EmbeddedLedger, chaincode_name: str, *, owns_ledger: bool = False) -> None:
        if not chaincode_name:
            raise ValueError("a chaincode name is required")
        self.ledger = ledger
        self.chaincode_name = chaincode_name
        self._owns_ledger = owns_ledger

    @staticmethod
    def _creator(identity: Any) -> bytes:
        creator = getattr(identity, "creator", None)
        if not isinstance(creator, bytes) or not creator:
            raise TypeError("identity must have .creator (serialized msp.SerializedIdentity bytes)")
        return creator

    async def evaluate(self, function: str, args: Sequence[Arg], identity: Any,
                       transient: Mapping[str, bytes] | None = None) -> bytes:
        creator = self._creator(identity)
        try:
            return await self.ledger.evaluate(self.chaincode_name, function, list(args), creator,
                                              dict(transient) if transient else None)
        except Exception as exc:
            raise map_embedded_error(exc) from exc

    async def submit(self, function: str, args: Sequence[Arg], identity: Any,
                     transient: Mapping[str, bytes] | None = None) -> Committed:
        creator = self._creator(identity)
        try:
            committed = await self.ledger.submit(self.chaincode_name, function, list(args), creator,
                                                 dict(transient) if transient else None)
        except Exception as exc:
            raise map_embedded_error(exc) from exc
        return Committed(committed.result, committed.tx_id, committed.block_number)

    async def events(self, start_block: int = 0) -> AsyncIterator[LedgerEvent]:
        try:
            async for record in self.ledger.events(self.chaincode_name, start_block):
                yield LedgerEvent(record.block_number, record.tx_id, record.event_name, record.payload)
        except Exception as exc:
            raise map_embedded_error(exc) from exc

    async def close(self) -> None:
        if self._owns_ledger:
            self.ledger.close()


# -- Fabric ------------------------------------------------------------------------------------------------------

#: what a Fabric 2.5/3.1 peer says when it cannot reach the chaincode server or loses it mid-transaction
#: (core/chaincode: chaincode_support.go, handler.go, runtime_launcher.go)
CHAINCODE_DOWN_MARKERS = ("could not launch chaincode", "chaincode stream terminated",
                          "timeout expired while executing transaction", "chaincode registration failed")


def map_fabric_error(error: Exception) -> LedgerError:
    """Translate a :mod:`vpp_gateway.fabric` error into the ledger-client hierarchy.

    Chaincode ``CODE: message`` → :class:`ContractError`; a :class:`~vpp_gateway.fabric.CommitError` for an MVCC or
    phantom read conflict → :class:`ConflictError`; gRPC ``UNAVAILABLE`` / ``DEADLINE_EXCEEDED``, and a peer
    that cannot reach the chaincode server (:data:`CHAINCODE_DOWN_MARKERS`) → :class:`UnavailableError`; anything
    else → :class:`LedgerError`.
    """
    import grpc

    from .fabric import CommitError, GatewayError

    if isinstance(error, LedgerError):
        return error
    if not isinstance(error, GatewayError):
        if isinstance(error, grpc.RpcError):
            return map_fabric_error(GatewayError.from_rpc_error(error))
        return LedgerError(f"{type(error).__name__}: {error}")
    tx_id = error.transaction_id
    if isinstance(error, CommitError):
        cls = ConflictError if error.validation_code_name in CONFLICT_CODES else LedgerError
        return cls(error.message, tx_id=tx_id, reason=error.validation_code_name)
    if error.chaincode_error is not None:
        return ContractError(error.chaincode_error.message, code=error.chaincode_code, tx_id=tx_id,
                             reason=f"CHAINCODE_{error.chaincode_status}")
    reason = error.code.name if error.code is not None else None
    if error.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return UnavailableError(str(error), tx_id=tx_id, reason=reason)
    texts = [error.message, *(detail.message for detail in error.details)]
    if any(marker in text for text in texts for marker in CHAINCODE_DOWN_MARKERS):
        # the peer could not reach the chaincode server (or lost it mid-transaction): nothing was endorsed, so
        # nothing can commit, and a retry succeeds once the server is back
        return UnavailableError(str(error), tx_id=tx_id, reason="CHAINCODE_UNAVAILABLE")
    return LedgerError(str(error), tx_id=tx_id, reason=reason)


Connect = Callable[[Any], "Gateway | Awaitable[Gateway]"]


#: Contract queries that read every lot (the supply and its conservation check): O(lots), not O(one owner).
FULL_SCAN_QUERIES = frozenset({"GetSupply"})


class FabricLedgerClient:
    """:class:`LedgerClient` over real Fabric peers through :mod:`vpp_gateway.fabric`.

    A Gateway connection signs as one identity, so ``connect(identity)`` is called once per identity (keyed by its
    ``creator`` bytes) and the Gateway cached until :meth:`close`. ``connect`` may be sync or async, e.g.::

        FabricLedgerClient(lambda who: Gateway.connect("peer0:7051", who.signing_identity(), tls_root_certificates=...),
                           "vppchannel", "vpp", events_identity=operator)

    ``events_identity`` is the identity the event stream is requested as (required for :meth:`events`).

    ``also_committed_on``: connectors to the other organisations' peers. A Gateway's commit status only says that
    *its* peer committed; a dependent transaction endorsed right after by every organisation can be refused by a
    peer that has not caught up (seen: RegisterMeter after RegisterAsset answered NOT_FOUND by the other org). With
    these, :meth:`submit` returns only once each of those peers has committed the transaction too.

    ``scan_timeout``: the deadline of the queries in :data:`FULL_SCAN_QUERIES`, which read every lot on the ledger
    (the Gateway's evaluate deadline, 5 s, is for ordinary queries; a 30-minute soak's 810,000 lots took longer).
    The peer's own ``chaincode.executetimeout`` still bounds them.
    """

    def __init__(self, connect: Connect, channel_name: str, chaincode_name: str, *,
                 events_identity: Any | None = None, contract_name: str | None = None,
                 also_committed_on: Sequence[Connect] = (), submit_attempts: int = 4,
                 scan_timeout: float = 60.0) -> None:
        if not channel_name or not chaincode_name:
            raise ValueError("a channel name and a chaincode name are required")
        self._connect = connect
        self.channel_name = channel_name
        self.chaincode_name = chaincode_name
        self.contract_name = contract_name
        self.events_identity = events_identity
        self._also = list(also_committed_on)
        self._submit_attempts = submit_attempts
        self._scan_timeout = scan_timeout
        self._gateways: dict[tuple[int, bytes], Gateway] = {}
        self._locks: dict[tuple[int, bytes], asyncio.Lock] = {}
        self._closed = False

    @staticmethod
    def _key(identity: Any) -> bytes:
        creator = getattr(identity, "creator", None)
        if not isinstance(creator, bytes) or not creator:
            raise TypeError("identity must have .creator (serialized msp.SerializedIdentity bytes)")
        return creator

    async def gateway_for(self, identity: Any, peer: int = 0) -> Gateway:
        """The cached Gateway for ``identity`` (peer 0: ``connect``; peer i: ``also_committed_on[i - 1]``),
        connecting on first use."""
        if self._closed:
            raise UnavailableError("the ledger client is closed", reason="CLOSED")
        key = (peer, self._key(identity))
        connect = self._connect if peer == 0 else self._also[peer - 1]
        gateway = self._gateways.get(key)
        if gateway is not None:
            return gateway
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            gateway = self._gateways.get(key)
            if gateway is None:
                try:
                    made = connect(identity)
                    gateway = await made if inspect.isawaitable(made) else made
                except LedgerError:
                    raise
                except Exception as exc:
                    raise UnavailableError(f"cannot connect to the Fabric gateway: {exc}",
                                           reason="CONNECT_FAILED") from exc
                self._gateways[key] = gateway
        return gateway

    async def _contract(self, identity: Any):
        gateway = await self.gateway_for(identity)
        return gateway.get_network(self.channel_name).get_contract(self.chaincode_name, self.contract_name)

    async def evaluate(self, function: str, args: Sequence[Arg], identity: Any,
                       transient: Mapping[str, bytes] | None = None) -> bytes:
        contract = await self._contract(identity)
        timeout = self._scan_timeout if function in FULL_SCAN_QUERIES else None
        try:
            return await contract.evaluate(function, list(args), transient, timeout=timeout)
        except Exception as exc:
            raise map_fabric_error(exc) from exc

    async def submit(self, function: str, args: Sequence[Arg], identity: Any,
                     transient: Mapping[str, bytes] | None = None) -> Committed:
        from .fabric.retry import RetryPolicy, submit_with_retry

        contract = await self._contract(identity)
        # retry by kind with the SAME transaction: a peer or orderer that was unavailable, or a commit status that
        # did not come within the gateway's deadline (a Raft leader died holding the envelope), is tried again;
        # Fabric commits one transaction id once, so a re-sent envelope never mints twice. MVCC conflicts are not
        # retried here: the caller endorses again as a new transaction (api.ledger_calls)
        policy = RetryPolicy(max_attempts=self._submit_attempts, initial_backoff=0.2, max_backoff=2.0,
                             conflict_codes=frozenset())
        try:
            committed = await submit_with_retry(contract, function, list(args), transient, policy=policy)
            for peer in range(1, len(self._also) + 1):  # every other organisation's peer has it too
                gateway = await self.gateway_for(identity, peer)
                await gateway.get_network(self.channel_name).commit_status(committed.transaction_id)
        except LedgerError:
            raise
        except Exception as exc:
            raise map_fabric_error(exc) from exc
        return Committed(committed.result, committed.transaction_id, committed.block_number)

    async def events(self, start_block: int = 0) -> AsyncIterator[LedgerEvent]:
        if self.events_identity is None:
            raise LedgerError("FabricLedgerClient needs events_identity to read events", reason="NO_IDENTITY")
        gateway = await self.gateway_for(self.events_identity)
        network = gateway.get_network(self.channel_name)
        try:
            async with network.chaincode_events(self.chaincode_name, start_block=start_block) as stream:
                async for event in stream:
                    yield LedgerEvent(event.block_number, event.transaction_id, event.event_name, event.payload)
        except LedgerError:
            raise
        except Exception as exc:
            raise map_fabric_error(exc) from exc

    async def close(self) -> None:
        """Close every Gateway this client opened."""
        self._closed = True
        gateways, self._gateways = list(self._gateways.values()), {}
        for gateway in gateways:
            await gateway.close()
