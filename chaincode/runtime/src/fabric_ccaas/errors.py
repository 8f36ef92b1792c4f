"""Errors raised by the runtime and by contracts.

A contract error travels to clients as the response message ``CODE: message``, so a client branches on the
code and never parses prose. Applications keep their codes in one ``enum.Enum`` of their own; the runtime's
own codes are in :class:`RuntimeCode`.
"""

from __future__ import annotations

import enum


class RuntimeCode(enum.Enum):
    """Codes the runtime itself raises (an application enum may reuse these names)."""

    UNKNOWN_TRANSACTION = "UNKNOWN_TRANSACTION"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    READ_ONLY = "READ_ONLY"
    PEER_ERROR = "PEER_ERROR"
    INTERNAL = "INTERNAL"


class ChaincodeError(Exception):
    """A business error: returned to the client as a status-500 response ``CODE: message``."""

    def __init__(self, code: enum.Enum, message: str):
        if not isinstance(code, enum.Enum):
            raise TypeError(f"code must be a member of an Enum, not {code!r}")
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.detail = message

    @property
    def message(self) -> str:
        return f"{self.code.value}: {self.detail}"


class PeerError(Exception):
    """The peer answered a stub call with an ERROR message; ``message`` is the peer's own text."""

    def __init__(self, call: str, message: str):
        super().__init__(f"{call}: peer error: {message}")
        self.call = call
        self.message = message


class StreamClosedError(Exception):
    """The connection to the peer ended while a stub call was waiting for its answer."""


class KeyValidationError(ValueError):
    """A key or composite-key part that Fabric would reject."""
