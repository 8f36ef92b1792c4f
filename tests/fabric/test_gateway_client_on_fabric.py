"""The project's Fabric Gateway client against the native network's peers (the fake-service tests are in
gateway/tests/test_fabric_*.py): submit, evaluate, an endorsement failure, a commit failure (MVCC) and chaincode
events resumed from a checkpoint."""

import asyncio
import json
import uuid

import grpc
import pytest
from vpp_gateway.fabric import CommitError, EndorseError, EvaluateError, FileCheckpointer
from vpp_gateway.fabric.retry import submit_with_retry


def _key(name: str) -> str:
    return f"client-{name}-{uuid.uuid4().hex[:8]}"


async def test_submit_then_evaluate_on_both_orgs_peers(fabric_network):
    net = fabric_network
    key = _key("put")
    async with net.gateway("org1") as gateway:
        contract = gateway.get_network(net.channel).get_contract("conformance")
        committed = await contract.submit_detailed("Put", [key, "hello"])
        assert len(committed.transaction_id) == 64 and committed.block_number > 0
        assert await contract.evaluate("Get", [key]) == b"hello"
        before = net.height("org1")[0]
        assert await contract.evaluate("Get", [key]) == b"hello"
        assert net.height("org1")[0] == before  # evaluate never reaches the orderer
    async with net.gateway("org2") as gateway:
        contract = gateway.get_network(net.channel).get_contract("conformance")
        for _ in range(40):  # the other org's peer commits the block on its own time
            try:
                if await contract.evaluate("Get", [key]) == b"hello":
                    break
            except EvaluateError:
                pass
            await asyncio.sleep(0.25)
        assert await contract.evaluate("Get", [key]) == b"hello"


async def test_an_endorsement_failure_is_typed_with_the_chaincode_code_and_each_peer(fabric_network):
    net = fabric_network
    async with net.gateway("org1") as gateway:
        contract = gateway.get_network(net.channel).get_contract("conformance")
        with pytest.raises(EndorseError) as caught:
            await contract.submit("Fail", ["INSUFFICIENT_BALANCE: need 5 Wh, have 2"])
        error = caught.value
        assert error.code == grpc.StatusCode.ABORTED
        assert len(error.transaction_id) == 64
        assert error.is_contract_error and error.chaincode_code == "REQUESTED_FAILURE"
        assert "INSUFFICIENT_BALANCE: need 5 Wh, have 2" in error.chaincode_message
        assert error.details and {d.msp_id for d in error.details} <= {"Org1MSP", "Org2MSP"}
        with pytest.raises(EvaluateError) as evaluated:
            await contract.evaluate("Fail", ["NOT_FOUND: nothing here"])
        assert evaluated.value.chaincode_code == "REQUESTED_FAILURE"


async def test_a_stale_read_fails_at_commit_with_mvcc_and_a_retry_with_a_new_id_succeeds(fabric_network):
    net = fabric_network
    key = _key("mvcc")
    async with net.gateway("org1") as gateway:
        contract = gateway.get_network(net.channel).get_contract("conformance")
        await contract.submit("Put", [key, "v1"])
        # a transaction that reads the key, endorsed now and sent only after another one changed the key
        stale = await contract.new_proposal("Get", [key]).endorse()
        await contract.submit("Put", [key, "v2"])
        commit = await stale.submit()
        status = await commit.status()
        assert not status.successful and status.code_name == "MVCC_READ_CONFLICT"
        with pytest.raises(CommitError) as caught:
            status.raise_for_status()
        assert caught.value.validation_code_name == "MVCC_READ_CONFLICT"
        assert caught.value.transaction_id == stale.transaction_id
        # the retry policy rebuilds it with a new transaction id, which commits
        result = await submit_with_retry(contract, "Get", [key])
        assert result.result == b"v2" and result.transaction_id != stale.transaction_id


async def test_events_resume_from_a_file_checkpoint_without_loss_or_repeat(fabric_network, tmp_path):
    net = fabric_network
    tag = uuid.uuid4().hex[:8]
    async with net.gateway("org1") as gateway:
        network = gateway.get_network(net.channel)
        contract = network.get_contract("conformance")
        first = await contract.submit_detailed("Emit", [f"evt-{tag}", json.dumps({"n": 0})])
        for n in range(1, 5):
            await contract.submit("Emit", [f"evt-{tag}", json.dumps({"n": n})])
        checkpoint_file = tmp_path / "checkpoint.json"

        async def take(count: int) -> list:
            checkpointer = FileCheckpointer(checkpoint_file)
            seen = []
            start = None if checkpointer.block_number is not None else first.block_number
            async with network.chaincode_events("conformance", start_block=start, checkpoint=checkpointer) as stream:
                async for event in stream:
                    if event.event_name != f"evt-{tag}":
                        checkpointer.checkpoint_event(event)
                        continue
                    seen.append(json.loads(event.payload)["n"])
                    checkpointer.checkpoint_event(event)
                    if len(seen) == count:
                        return seen
            return seen

        assert await asyncio.wait_for(take(2), 30) == [0, 1]
        assert await asyncio.wait_for(take(3), 30) == [2, 3, 4]  # a new listener resumes after event 1


async def test_the_ledger_client_waits_for_every_org_so_a_dependent_transaction_endorses(fabric_network):
    """Put then, at once, a submitted Get that both orgs endorse: without waiting, the other org's peer may not
    have the Put yet and answers NOT_FOUND. With also_committed_on, none of 25 dependent pairs fails."""
    from vpp_gateway.fabric import load_msp
    from vpp_gateway.ledger_client import FabricLedgerClient

    net = fabric_network
    msp = net.issue_identity("org1", f"writer-{uuid.uuid4().hex[:6]}", {"role": "admin"})
    identity = load_msp(msp, "Org1MSP")
    client = FabricLedgerClient(lambda who: net.gateway_as(msp, "org1"), net.channel, "conformance",
                                also_committed_on=[lambda who: net.gateway_as(msp, "org2")])
    try:
        for n in range(25):
            key = _key(f"dep{n}")
            put = await client.submit("Put", [key, f"v{n}"], identity)
            got = await client.submit("Get", [key], identity)  # endorsed by both orgs' peers
            assert got.result == f"v{n}".encode() and got.block_number > put.block_number
    finally:
        await client.close()
