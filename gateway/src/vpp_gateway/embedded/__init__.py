"""The embedded ledger: Fabric's semantics (simulate → read/write set → order → MVCC validation → hash-chained
blocks → state and history) in one process, persisted in SQLite. See ``gateway/EMBEDDED.md``."""

from .audit import AuditReport, audit
from .errors import CommitError, EmbeddedLedgerError, EndorsementError, LedgerClosedError
from .ledger import ChaincodeEventRecord, Committed, EmbeddedLedger
from .validator import EndorsedTransaction

__all__ = [
    "AuditReport", "ChaincodeEventRecord", "CommitError", "Committed", "EmbeddedLedger", "EmbeddedLedgerError",
    "EndorsedTransaction", "EndorsementError", "LedgerClosedError", "audit",
]
