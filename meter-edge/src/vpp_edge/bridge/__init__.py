"""The bridge: signed intervals from MQTT to the ledger, acknowledged to the broker only once committed."""

from .deadletter import DeadLetters
from .service import Bridge
from .submitters import (
    BatchResult,
    LedgerSubmitter,
    ReadingResult,
    RestSubmitter,
    SubmitRefusedError,
    Submitter,
    SubmitUnavailableError,
)

__all__ = ["BatchResult", "Bridge", "DeadLetters", "LedgerSubmitter", "ReadingResult", "RestSubmitter",
    "SubmitRefusedError", "SubmitUnavailableError", "Submitter"]
