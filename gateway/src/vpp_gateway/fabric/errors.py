"""Typed errors, one per phase of a transaction, shaped like the official clients' errors.

Every error carries the transaction ID (when there is one), the gRPC status code and
message, and the per-peer details the Gateway attaches to the status
(``gateway.ErrorDetail``: endpoint address, MSP ID, message).

When the chaincode itself rejected the transaction, the peer reports
``chaincode response <status>, <chaincode message>``; our chaincode's messages follow the
project convention ``CODE: message``. Both are parsed into :class:`ChaincodeError`, so
callers read ``error.chaincode_code`` instead of matching text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import grpc
from fabric_protos.gateway import gateway_pb2
from fabric_protos.peer import transaction_pb2
from google.protobuf.message import DecodeError

from ._rpc_status import STATUS_DETAILS_KEY, Status

__all__ = [
    "ChaincodeError",
    "ChaincodeEventsError",
    "CommitError",
    "CommitStatusError",
    "EndorseError",
    "ErrorDetail",
    "EvaluateError",
    "GatewayError",
    "SubmitError",
    "decode_error_details",
    "parse_chaincode_error",
]

_CHAINCODE_RESPONSE = "chaincode response "
# Prefixes the Fabric 2.4/2.5 Gateway puts before a chaincode response in a status message.
_GATEWAY_PREFIXES = ("evaluate call to endorser returned error: ",)
_ERROR_DETAIL_TYPE = "/" + gateway_pb2.ErrorDetail.DESCRIPTOR.full_name
_CODE_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_CODE_CHARS = _CODE_FIRST | frozenset("0123456789_")


@dataclass(frozen=True, slots=True)
class ChaincodeError:
    """A transaction rejected by the chaincode (never worth retrying).

    ``status`` is the chaincode response status (usually 500); ``code`` is the stable
    error code from a ``CODE: message`` chaincode message, or ``None`` when the message
    does not follow that convention (then ``message`` is the whole chaincode message).
    """

    status: int
    code: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message


def _split_code(message: str) -> tuple[str | None, str]:
    head, sep, tail = message.partition(": ")
    if sep and head and head[0] in _CODE_FIRST and all(c in _CODE_CHARS for c in head):
        return head, tail
    return None, message


def parse_chaincode_error(text: str) -> ChaincodeError | None:
    """Parse ``chaincode response <status>, [CODE: ]message`` as the Fabric Gateway formats it.

    Returns ``None`` for any other text (peer, orderer or transport errors).
    """
    for prefix in _GATEWAY_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    if not text.startswith(_CHAINCODE_RESPONSE):
        return None
    status_text, sep, message = text[len(_CHAINCODE_RESPONSE) :].partition(", ")
    if not sep or not status_text.isdigit():
        return None
    code, message = _split_code(message)
    return ChaincodeError(int(status_text), code, message)


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One peer's or orderer's part in a failed request."""

    address: str
    msp_id: str
    message: str
    chaincode_error: ChaincodeError | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.msp_id}@{self.address}: {self.message}"


def decode_error_details(trailing_metadata: Iterable[tuple[str, Any]] | None) -> tuple[ErrorDetail, ...]:
    """Decode ``gateway.ErrorDetail`` entries from a ``grpc-status-details-bin`` trailer."""
    if not trailing_metadata:
        return ()
    details: list[ErrorDetail] = []
    for key, value in trailing_metadata:
        if key != STATUS_DETAILS_KEY:
            continue
        if isinstance(value, str):
            value = value.encode("latin-1")
        try:
            status = Status.FromString(value)
        except DecodeError:
            continue
        for item in status.details:
            if not item.type_url.endswith(_ERROR_DETAIL_TYPE):
                continue
            try:
                detail = gateway_pb2.ErrorDetail.FromString(item.value)
            except DecodeError:
                continue
            details.append(
                ErrorDetail(
                    address=detail.address,
                    msp_id=detail.msp_id,
                    message=detail.message,
                    chaincode_error=parse_chaincode_error(detail.message),
                )
            )
    return tuple(details)


class GatewayError(Exception):
    """Base of every error from the Fabric Gateway client.

    ``code`` is the gRPC status code (``None`` for :class:`CommitError`, which is a
    ledger verdict, not a failed call).
    """

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode | None = None,
        transaction_id: str | None = None,
        details: tuple[ErrorDetail, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.transaction_id = transaction_id
        self.details = details
        self.chaincode_error = self._find_chaincode_error()

    def _find_chaincode_error(self) -> ChaincodeError | None:
        for detail in self.details:
            if detail.chaincode_error is not None:
                return detail.chaincode_error
        return parse_chaincode_error(self.message)

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError, transaction_id: str | None = None) -> GatewayError:
        code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
        message = (error.details() if hasattr(error, "details") else None) or str(code)
        trailing = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
        return cls(message, code=code, transaction_id=transaction_id, details=decode_error_details(trailing))

    @property
    def is_contract_error(self) -> bool:
        return self.chaincode_error is not None

    @property
    def chaincode_code(self) -> str | None:
        return self.chaincode_error.code if self.chaincode_error else None

    @property
    def chaincode_message(self) -> str | None:
        return self.chaincode_error.message if self.chaincode_error else None

    @property
    def chaincode_status(self) -> int | None:
        return self.chaincode_error.status if self.chaincode_error else None

    def __str__(self) -> str:
        parts = [self.message]
        if self.code is not None:
            parts.append(f"[{self.code.name}]")
        if self.transaction_id:
            parts.append(f"tx {self.transaction_id}")
        text = " ".join(parts)
        if self.details:
            text += "; " + "; ".join(map(str, self.details))
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self!s})"


class EvaluateError(GatewayError):
    """Evaluating (querying) a transaction failed."""


class EndorseError(GatewayError):
    """Collecting endorsements failed; nothing was sent to the orderer."""


class SubmitError(GatewayError):
    """Sending the endorsed transaction to the orderer failed (it may or may not be ordered)."""


class CommitStatusError(GatewayError):
    """Obtaining the commit status failed (the transaction may or may not have committed)."""


class ChaincodeEventsError(GatewayError):
    """The chaincode events stream failed."""


class CommitError(GatewayError):
    """The transaction was ordered and committed to a block, but marked invalid."""

    def __init__(self, transaction_id: str, validation_code: int, block_number: int) -> None:
        self.validation_code = validation_code
        self.validation_code_name = _validation_code_name(validation_code)
        self.block_number = block_number
        super().__init__(
            f"transaction {transaction_id} failed to commit with status code "
            f"{validation_code} ({self.validation_code_name}) in block {block_number}",
            transaction_id=transaction_id,
        )

    def _find_chaincode_error(self) -> ChaincodeError | None:
        return None


def _validation_code_name(code: int) -> str:
    try:
        return transaction_pb2.TxValidationCode.Name(code)
    except ValueError:
        return f"UNKNOWN_{code}"
