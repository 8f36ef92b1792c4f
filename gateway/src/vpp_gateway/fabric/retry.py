"""Retry by kind of failure, with bounded attempts and jittered exponential backoff.

* Timeout or unavailable (``DEADLINE_EXCEEDED``, ``UNAVAILABLE``): send the *same* signed
  transaction again, same transaction ID. Re-endorsing commits nothing; re-submitting an
  envelope that was in fact ordered only adds a duplicate that the committer marks
  ``DUPLICATE_TXID``, while the commit status of the ID stays that of the first copy. So a
  transaction is never applied twice, whatever was lost on the wire. A failed commit-status
  call re-submits the same envelope too, in case the orderer dropped it.
* ``MVCC_READ_CONFLICT`` / ``PHANTOM_READ_CONFLICT``: the transaction read stale state and
  was invalidated; build a *new* proposal (new transaction ID) and run it again.
* Chaincode rejected it (``CODE: message``) or anything else: never retried.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import grpc

from .client import CommittedTransaction
from .errors import CommitError, CommitStatusError, GatewayError, SubmitError

if TYPE_CHECKING:
    from .client import Commit, Contract, Proposal, Transaction
    from .proposal import Arg

__all__ = [
    "DEFAULT_RETRY_POLICY",
    "RetryAction",
    "RetryPolicy",
    "evaluate_with_retry",
    "submit_with_retry",
]

log = logging.getLogger(__name__)


class RetryAction(enum.Enum):
    SAME_TRANSACTION = "same_transaction"
    NEW_TRANSACTION = "new_transaction"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 5.0
    multiplier: float = 2.0
    jitter: float = 0.2
    transient_codes: frozenset[grpc.StatusCode] = field(
        default=frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
    )
    conflict_codes: frozenset[str] = field(default=frozenset({"MVCC_READ_CONFLICT", "PHANTOM_READ_CONFLICT"}))

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def action(self, error: BaseException) -> RetryAction:
        if isinstance(error, CommitError):
            if error.validation_code_name in self.conflict_codes:
                return RetryAction.NEW_TRANSACTION
            return RetryAction.NONE
        if isinstance(error, GatewayError):
            if error.is_contract_error:
                return RetryAction.NONE
            if error.code in self.transient_codes:
                return RetryAction.SAME_TRANSACTION
        return RetryAction.NONE

    def backoff(self, failed_attempts: int) -> float:
        """Delay before the next attempt, after ``failed_attempts`` failures (>= 1)."""
        delay = min(self.initial_backoff * self.multiplier ** (failed_attempts - 1), self.max_backoff)
        if self.jitter:
            delay *= 1 + self.jitter * (2 * random.random() - 1)
        return max(delay, 0.0)


DEFAULT_RETRY_POLICY = RetryPolicy()

OnRetry = Callable[[GatewayError, RetryAction, int], None]


async def submit_with_retry(
    contract: Contract,
    transaction_name: str,
    args: Sequence[Arg] = (),
    transient: Mapping[str, Arg] | None = None,
    endorsing_orgs: Sequence[str] | None = None,
    *,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    on_retry: OnRetry | None = None,
) -> CommittedTransaction:
    """Submit like :meth:`Contract.submit_detailed`, retrying as the policy allows.

    Raises the last error once attempts run out or the error is not retryable.
    ``on_retry(error, action, failed_attempts)`` is called before each backoff.
    """

    def new_proposal() -> Proposal:
        return contract.new_proposal(transaction_name, args, transient=transient, endorsing_orgs=endorsing_orgs)

    proposal = new_proposal()
    transaction: Transaction | None = None
    commit: Commit | None = None
    failed = 0
    while True:
        try:
            if transaction is None:
                transaction = await proposal.endorse()
            if commit is None:
                commit = await transaction.submit()
            status = await commit.status()
            status.raise_for_status()
            return CommittedTransaction(transaction.result, status.transaction_id, status.block_number)
        except GatewayError as error:
            failed += 1
            action = policy.action(error)
            if action is RetryAction.NONE or failed >= policy.max_attempts:
                raise
            if action is RetryAction.NEW_TRANSACTION:
                proposal = new_proposal()
                transaction = commit = None
            elif isinstance(error, SubmitError | CommitStatusError):
                commit = None  # re-submit the same signed envelope, then ask for its status again
            # after an EndorseError, transaction is still None: the same proposal is endorsed again
            log.info("retrying %s (%s) after: %s", transaction_name, action.value, error)
            if on_retry is not None:
                on_retry(error, action, failed)
            await asyncio.sleep(policy.backoff(failed))


async def evaluate_with_retry(
    contract: Contract,
    transaction_name: str,
    args: Sequence[Arg] = (),
    transient: Mapping[str, Arg] | None = None,
    endorsing_orgs: Sequence[str] | None = None,
    *,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    on_retry: OnRetry | None = None,
) -> bytes:
    """Evaluate, re-sending the same proposal after a timeout or an unavailable peer."""
    proposal = contract.new_proposal(transaction_name, args, transient=transient, endorsing_orgs=endorsing_orgs)
    failed = 0
    while True:
        try:
            return await proposal.evaluate()
        except GatewayError as error:
            failed += 1
            action = policy.action(error)
            if action is not RetryAction.SAME_TRANSACTION or failed >= policy.max_attempts:
                raise
            if on_retry is not None:
                on_retry(error, action, failed)
            await asyncio.sleep(policy.backoff(failed))
