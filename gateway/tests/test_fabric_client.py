from __future__ import annotations

import asyncio
import dataclasses

import grpc
import pytest
from fabric_protos.peer import chaincode_pb2, transaction_pb2
from fake_fabric_gateway import CHANNEL, FAST, MSP_ID, Delay, Fail, FakeGateway, make_credentials, start_server
from vpp_gateway.fabric import (
    CommitError,
    CommitStatusError,
    EndorseError,
    EvaluateError,
    Gateway,
    GatewayError,
    SubmitError,
)

MVCC = transaction_pb2.TxValidationCode.Value("MVCC_READ_CONFLICT")


@pytest.mark.asyncio
async def test_evaluate_returns_the_chaincode_result_and_is_never_ordered(contract, fake):
    result = await contract.evaluate("GetBalance", ["owner-1", b"\x00\x01"])

    assert result == b"GetBalance(owner-1,\x00\x01)"
    assert len(fake.calls["Evaluate"]) == 1
    assert fake.calls["Endorse"] == [] and fake.calls["Submit"] == [] and fake.calls["CommitStatus"] == []
    parsed = fake.proposals[fake.calls["Evaluate"][0]]
    assert parsed.chaincode_name == "vpp"
    assert parsed.chaincode_type == chaincode_pb2.ChaincodeSpec.NODE


@pytest.mark.asyncio
async def test_evaluate_with_contract_name_transient_and_target_orgs(gateway, fake):
    contract = gateway.get_network(CHANNEL).get_contract("vpp", "TokenContract")

    result = await contract.evaluate("Balance", ["a"], transient={"secret": b"s3"}, endorsing_orgs=["Org2MSP"])

    assert result == b"TokenContract:Balance(a)+secret"
    tx_id = fake.calls["Evaluate"][0]
    assert fake.proposals[tx_id].transient == {"secret": b"s3"}
    assert fake.organizations[tx_id] == ["Org2MSP"]


@pytest.mark.asyncio
async def test_submit_sends_endorsing_organizations(contract, fake):
    committed = await contract.submit_detailed("Mint", ["m"], endorsing_orgs=["Org1MSP", "Org2MSP"])

    assert fake.organizations[committed.transaction_id] == ["Org1MSP", "Org2MSP"]
    assert fake.organizations[(await contract.submit_detailed("Mint", ["m"])).transaction_id] == []


@pytest.mark.asyncio
async def test_each_proposal_gets_a_fresh_transaction_id(contract, fake):
    await asyncio.gather(*(contract.evaluate("Ping", [str(i)]) for i in range(20)))

    assert len(set(fake.calls["Evaluate"])) == 20


@pytest.mark.asyncio
async def test_submit_happy_path_returns_result_tx_id_and_block(contract, fake):
    committed = await contract.submit_detailed("Mint", ["meter-1", "2024-01-01T00:00Z", "1500"])

    assert committed.result == b"Mint(meter-1,2024-01-01T00:00Z,1500)"
    assert fake.calls["Endorse"] == fake.calls["Submit"] == fake.calls["CommitStatus"] == [committed.transaction_id]
    assert committed.block_number == fake.submitted[committed.transaction_id]
    assert await contract.submit("Mint", ["meter-2"]) == b"Mint(meter-2)"


@pytest.mark.asyncio
async def test_submit_step_by_step_like_the_official_client(contract, fake):
    proposal = contract.new_proposal("Transfer", ["a", "b", "5"])
    transaction = await proposal.endorse()
    assert transaction.transaction_id == proposal.transaction_id
    assert transaction.result == b"Transfer(a,b,5)"

    commit = await transaction.submit()
    status = await commit.status()

    assert status.successful and status.code_name == "VALID"
    assert status.transaction_id == proposal.transaction_id
    assert status.block_number == fake.submitted[proposal.transaction_id]


@pytest.mark.asyncio
async def test_endorsement_failure_raises_endorse_error_with_per_peer_details(contract, fake):
    fake.on(
        "Endorse",
        Fail(
            grpc.StatusCode.ABORTED,
            "failed to endorse transaction, see attached details for more info",
            [
                (
                    "peer0.org1.example.com:7051",
                    "Org1MSP",
                    "chaincode response 500, INSUFFICIENT_BALANCE: need 5 Wh, have 2",
                ),
                (
                    "peer0.org2.example.com:9051",
                    "Org2MSP",
                    "chaincode response 500, INSUFFICIENT_BALANCE: need 5 Wh, have 2",
                ),
            ],
        ),
    )

    with pytest.raises(EndorseError) as caught:
        await contract.submit("Transfer", ["a", "b", "5"])

    error = caught.value
    assert error.code == grpc.StatusCode.ABORTED
    assert error.transaction_id == fake.calls["Endorse"][0]
    assert [(d.address, d.msp_id) for d in error.details] == [
        ("peer0.org1.example.com:7051", "Org1MSP"),
        ("peer0.org2.example.com:9051", "Org2MSP"),
    ]
    assert error.is_contract_error
    assert (error.chaincode_status, error.chaincode_code, error.chaincode_message) == (
        500,
        "INSUFFICIENT_BALANCE",
        "need 5 Wh, have 2",
    )
    assert fake.calls["Submit"] == []


@pytest.mark.asyncio
async def test_evaluate_chaincode_error_is_parsed_from_the_status_message(contract, fake):
    fake.on(
        "Evaluate",
        Fail(
            grpc.StatusCode.UNKNOWN,
            "evaluate call to endorser returned error: chaincode response 500, FORBIDDEN: owner role required",
            [("peer0.org1.example.com:7051", "Org1MSP", "chaincode response 500, FORBIDDEN: owner role required")],
        ),
    )

    with pytest.raises(EvaluateError) as caught:
        await contract.evaluate("ListSites")

    assert caught.value.chaincode_code == "FORBIDDEN"
    assert caught.value.chaincode_message == "owner role required"
    assert isinstance(caught.value, GatewayError)


@pytest.mark.asyncio
async def test_peer_error_is_not_a_contract_error(contract, fake):
    fake.on("Endorse", Fail(grpc.StatusCode.FAILED_PRECONDITION, "no peers available to evaluate chaincode vpp"))

    with pytest.raises(EndorseError) as caught:
        await contract.submit("Mint", ["m"])

    assert caught.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert not caught.value.is_contract_error and caught.value.chaincode_code is None
    assert caught.value.details == ()


@pytest.mark.asyncio
async def test_commit_failure_raises_commit_error_with_validation_code(contract, fake):
    fake.commit_codes.append(MVCC)

    with pytest.raises(CommitError) as caught:
        await contract.submit("Mint", ["meter-1"])

    error = caught.value
    assert error.validation_code == MVCC
    assert error.validation_code_name == "MVCC_READ_CONFLICT"
    assert error.transaction_id == fake.calls["Submit"][0]
    assert error.block_number == fake.submitted[error.transaction_id]
    assert error.code is None and isinstance(error, GatewayError)


@pytest.mark.asyncio
async def test_submit_error_and_commit_status_error_are_typed(contract, fake):
    fake.on("Submit", Fail(grpc.StatusCode.ABORTED, "received unsuccessful response from orderer: status=BAD_REQUEST"))
    with pytest.raises(SubmitError) as submit_error:
        await contract.submit("Mint", ["m"])
    assert submit_error.value.transaction_id == fake.calls["Submit"][0]

    fake.on("CommitStatus", Fail(grpc.StatusCode.PERMISSION_DENIED, "access denied"))
    with pytest.raises(CommitStatusError) as status_error:
        await contract.submit("Mint", ["m"])
    assert status_error.value.code == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("method", "error_type", "call"),
    [
        ("Evaluate", EvaluateError, lambda c: c.evaluate("Get")),
        ("Endorse", EndorseError, lambda c: c.submit("Put")),
        ("Submit", SubmitError, lambda c: c.submit("Put")),
        ("CommitStatus", CommitStatusError, lambda c: c.submit("Put")),
    ],
)
async def test_deadline_exceeded_maps_to_the_phase_error(fake, signing_identity, method, error_type, call):
    # only the phase under test has a short deadline, so a slow machine cannot fail an earlier one
    phase = {"Evaluate": "evaluate", "Endorse": "endorse", "Submit": "submit", "CommitStatus": "commit_status"}[method]
    short = dataclasses.replace(FAST, **{phase: 0.1})
    fake.on(method, Delay(2.0))
    async with Gateway.connect(f"127.0.0.1:{fake.port}", signing_identity, insecure=True, timeouts=short) as gw:
        contract = gw.get_network(CHANNEL).get_contract("vpp")
        with pytest.raises(error_type) as caught:
            await call(contract)

    assert caught.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert caught.value.transaction_id == fake.calls[method][0]


@pytest.mark.asyncio
async def test_per_call_timeout_overrides_the_default(contract, fake):
    fake.on("Evaluate", Delay(0.5))
    proposal = contract.new_proposal("Get")

    with pytest.raises(EvaluateError) as caught:
        await proposal.evaluate(timeout=0.05)

    assert caught.value.code == grpc.StatusCode.DEADLINE_EXCEEDED


@pytest.mark.asyncio
async def test_unreachable_peer_is_unavailable(signing_identity):
    async with Gateway.connect("127.0.0.1:1", signing_identity, insecure=True) as gw:
        with pytest.raises(EvaluateError) as caught:
            await gw.get_network(CHANNEL).get_contract("vpp").evaluate("Get")

    assert caught.value.code == grpc.StatusCode.UNAVAILABLE


@pytest.mark.asyncio
async def test_plaintext_must_be_asked_for(signing_identity):
    with pytest.raises(ValueError, match="tls_root_certificates"):
        Gateway.connect("127.0.0.1:7051", signing_identity)


def test_connecting_outside_the_event_loop_is_refused(signing_identity):
    with pytest.raises(RuntimeError, match="inside the event loop"):
        Gateway.connect("127.0.0.1:7051", signing_identity, insecure=True)


@pytest.mark.asyncio
async def test_tls_with_the_peer_ca_and_a_target_name_override(client_credentials, signing_identity):
    peer_tls = make_credentials("peer0.org1.example.com", dns_names=("peer0.org1.example.com",))
    servicer = FakeGateway(client_credentials.cert_pem, MSP_ID, CHANNEL)
    server, port = await start_server(servicer, grpc.ssl_server_credentials([(peer_tls.key_pem, peer_tls.cert_pem)]))
    try:
        async with Gateway.connect(
            f"127.0.0.1:{port}",
            signing_identity,
            tls_root_certificates=peer_tls.cert_pem,
            ssl_target_name_override="peer0.org1.example.com",
        ) as gw:
            assert await gw.get_network(CHANNEL).get_contract("vpp").evaluate("Get", ["k"]) == b"Get(k)"

        wrong_ca = make_credentials("other", dns_names=("peer0.org1.example.com",))
        async with Gateway.connect(
            f"127.0.0.1:{port}",
            signing_identity,
            tls_root_certificates=wrong_ca.cert_pem,
            ssl_target_name_override="peer0.org1.example.com",
        ) as gw:
            with pytest.raises(EvaluateError) as caught:
                await gw.get_network(CHANNEL).get_contract("vpp").evaluate("Get", ["k"])
            assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop(grace=None)
    assert servicer.violations == []


@pytest.mark.asyncio
async def test_gateway_reuses_one_channel_and_caches_networks_and_contracts(gateway):
    network = gateway.get_network(CHANNEL)
    assert gateway.get_network(CHANNEL) is network
    assert network.get_contract("vpp") is network.get_contract("vpp")
    assert network.get_contract("vpp", "A") is not network.get_contract("vpp")
    assert network.get_contract("vpp").network.gateway.channel is gateway.channel
