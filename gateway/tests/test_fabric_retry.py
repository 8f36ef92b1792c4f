from __future__ import annotations

import grpc
import pytest
from fabric_protos.peer import transaction_pb2
from fake_fabric_gateway import CHANNEL, Delay, Fail
from vpp_gateway.fabric import (
    CommitError,
    CommitStatusError,
    EndorseError,
    EvaluateError,
    Gateway,
    GatewayError,
    RetryAction,
    RetryPolicy,
    SubmitError,
    Timeouts,
    evaluate_with_retry,
    submit_with_retry,
)

FAST_RETRY = RetryPolicy(max_attempts=4, initial_backoff=0.001, max_backoff=0.01)
MVCC = transaction_pb2.TxValidationCode.Value("MVCC_READ_CONFLICT")
PHANTOM = transaction_pb2.TxValidationCode.Value("PHANTOM_READ_CONFLICT")
ENDORSEMENT_POLICY_FAILURE = transaction_pb2.TxValidationCode.Value("ENDORSEMENT_POLICY_FAILURE")
CONTRACT_ERROR = Fail(
    grpc.StatusCode.ABORTED,
    "failed to endorse transaction, see attached details for more info",
    [("peer0.org1.example.com:7051", "Org1MSP", "chaincode response 500, CONFLICTING_READING: already minted")],
)


@pytest.mark.asyncio
async def test_unavailable_on_submit_resubmits_the_same_transaction(contract, fake):
    fake.on("Submit", Fail(grpc.StatusCode.UNAVAILABLE, "no orderers could successfully process transaction"))
    retries = []

    committed = await submit_with_retry(
        contract, "Mint", ["m1"], policy=FAST_RETRY, on_retry=lambda e, a, n: retries.append((type(e), a, n))
    )

    assert fake.calls["Endorse"] == [committed.transaction_id]
    assert fake.calls["Submit"] == [committed.transaction_id] * 2
    assert fake.calls["CommitStatus"] == [committed.transaction_id]
    assert retries == [(SubmitError, RetryAction.SAME_TRANSACTION, 1)]
    assert committed.result == b"Mint(m1)"


@pytest.mark.asyncio
async def test_unavailable_or_timeout_on_endorse_reendorses_the_same_proposal(fake, signing_identity):
    fake.on("Endorse", Fail(grpc.StatusCode.UNAVAILABLE, "peer down"), Delay(3.0))
    short = Timeouts(endorse=0.5)
    actions = []

    async with Gateway.connect(f"127.0.0.1:{fake.port}", signing_identity, insecure=True, timeouts=short) as gw:
        contract = gw.get_network(CHANNEL).get_contract("vpp")
        committed = await submit_with_retry(
            contract, "Mint", ["m1"], policy=FAST_RETRY, on_retry=lambda e, a, n: actions.append((e.code, a))
        )

    assert actions == [
        (grpc.StatusCode.UNAVAILABLE, RetryAction.SAME_TRANSACTION),
        (grpc.StatusCode.DEADLINE_EXCEEDED, RetryAction.SAME_TRANSACTION),
    ]
    assert fake.calls["Endorse"] == [committed.transaction_id] * 3
    assert fake.calls["Submit"] == [committed.transaction_id]


@pytest.mark.asyncio
async def test_commit_status_timeout_resubmits_same_envelope_then_asks_again(contract, fake):
    fake.on("CommitStatus", Fail(grpc.StatusCode.DEADLINE_EXCEEDED, "commit status timeout"))

    committed = await submit_with_retry(contract, "Mint", ["m1"], policy=FAST_RETRY)

    assert fake.calls["Endorse"] == [committed.transaction_id]
    assert fake.calls["Submit"] == [committed.transaction_id] * 2
    assert fake.calls["CommitStatus"] == [committed.transaction_id] * 2


@pytest.mark.asyncio
@pytest.mark.parametrize("code", [MVCC, PHANTOM])
async def test_read_conflict_rebuilds_with_a_new_transaction_id(contract, fake, code):
    fake.commit_codes.extend([code, code])

    committed = await submit_with_retry(contract, "Mint", ["m1"], policy=FAST_RETRY)

    ids = fake.calls["Endorse"]
    assert len(ids) == 3 and len(set(ids)) == 3
    assert fake.calls["Submit"] == ids and fake.calls["CommitStatus"] == ids
    assert committed.transaction_id == ids[-1]
    assert committed.block_number == fake.submitted[ids[-1]]


@pytest.mark.asyncio
async def test_contract_error_is_never_retried(contract, fake):
    fake.on("Endorse", CONTRACT_ERROR, CONTRACT_ERROR)

    with pytest.raises(EndorseError) as caught:
        await submit_with_retry(contract, "Mint", ["m1"], policy=FAST_RETRY)

    assert len(fake.calls["Endorse"]) == 1
    assert caught.value.chaincode_code == "CONFLICTING_READING"


@pytest.mark.asyncio
async def test_contract_error_with_a_transient_code_is_still_not_retried(contract, fake):
    # A chaincode that timed out its own work may surface as UNAVAILABLE: the chaincode's
    # verdict wins over the status code.
    fake.on(
        "Endorse",
        Fail(grpc.StatusCode.UNAVAILABLE, "x", [("p:1", "Org1MSP", "chaincode response 500, BAD_SIGNATURE: bad")]),
    )

    with pytest.raises(EndorseError):
        await submit_with_retry(contract, "Mint", ["m1"], policy=FAST_RETRY)
    assert len(fake.calls["Endorse"]) == 1


@pytest.mark.asyncio
async def test_other_invalid_commit_is_not_retried(contract, fake):
    fake.commit_codes.append(ENDORSEMENT_POLICY_FAILURE)

    with pytest.raises(CommitError) as caught:
        await submit_with_retry(contract, "Mint", ["m1"], policy=FAST_RETRY)

    assert caught.value.validation_code_name == "ENDORSEMENT_POLICY_FAILURE"
    assert len(fake.calls["Endorse"]) == 1


@pytest.mark.asyncio
async def test_attempts_are_bounded(contract, fake):
    fake.on("Submit", *[Fail(grpc.StatusCode.UNAVAILABLE, "down")] * 10)

    with pytest.raises(SubmitError) as caught:
        await submit_with_retry(contract, "Mint", ["m1"], policy=FAST_RETRY)

    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    assert len(fake.calls["Submit"]) == FAST_RETRY.max_attempts
    assert len(set(fake.calls["Submit"])) == 1


@pytest.mark.asyncio
async def test_evaluate_retry_resends_the_same_proposal_only_when_transient(contract, fake):
    fake.on("Evaluate", Fail(grpc.StatusCode.UNAVAILABLE, "down"))
    assert await evaluate_with_retry(contract, "Get", ["k"], policy=FAST_RETRY) == b"Get(k)"
    assert len(fake.calls["Evaluate"]) == 2 and len(set(fake.calls["Evaluate"])) == 1

    fake.on("Evaluate", Fail(grpc.StatusCode.INVALID_ARGUMENT, "bad"))
    with pytest.raises(EvaluateError):
        await evaluate_with_retry(contract, "Get", ["k"], policy=FAST_RETRY)
    assert len(fake.calls["Evaluate"]) == 3


def test_policy_classification_and_backoff():
    policy = RetryPolicy(initial_backoff=0.1, max_backoff=1.0, multiplier=2.0, jitter=0.0)

    assert policy.action(CommitStatusError("x", code=grpc.StatusCode.DEADLINE_EXCEEDED)) is RetryAction.SAME_TRANSACTION
    assert policy.action(CommitError("tx", MVCC, 3)) is RetryAction.NEW_TRANSACTION
    assert policy.action(CommitError("tx", ENDORSEMENT_POLICY_FAILURE, 3)) is RetryAction.NONE
    assert policy.action(GatewayError("x", code=grpc.StatusCode.PERMISSION_DENIED)) is RetryAction.NONE
    assert policy.action(ValueError("not ours")) is RetryAction.NONE
    assert [policy.backoff(n) for n in (1, 2, 3, 4, 5, 6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    jittered = RetryPolicy(initial_backoff=1.0, jitter=0.2)
    assert all(0.8 <= jittered.backoff(1) <= 1.2 for _ in range(50))
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
