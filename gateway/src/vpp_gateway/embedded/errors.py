"""Typed errors of the embedded ledger, shaped like the Fabric Gateway client's (one class per phase)."""

from __future__ import annotations

from fabric_protos.peer.transaction_pb2 import TxValidationCode


class EmbeddedLedgerError(Exception):
    """Base class: every error carries the transaction id it concerns (``""`` when there is none)."""

    def __init__(self, message: str, tx_id: str = ""):
        super().__init__(message)
        self.tx_id = tx_id


class EndorsementError(EmbeddedLedgerError):
    """The proposal failed at endorsement: the chaincode answered status ≥ 400 (``message`` is its
    ``CODE: message``) or the simulator refused the proposal. Nothing was ordered."""

    def __init__(self, message: str, tx_id: str = "", status: int = 500):
        super().__init__(message, tx_id)
        self.status = status
        self.message = message


class CommitError(EmbeddedLedgerError):
    """The transaction was ordered into a block but marked invalid; ``code_name`` is Fabric's name for why."""

    def __init__(self, tx_id: str, validation_code: int, block_number: int):
        self.validation_code = validation_code
        self.code_name = TxValidationCode.Name(validation_code)
        self.block_number = block_number
        super().__init__(f"transaction {tx_id} in block {block_number} is invalid: {self.code_name}", tx_id)


class LedgerClosedError(EmbeddedLedgerError):
    """The ledger was closed."""
