import pytest
from fabric_ccaas.testing import InMemoryPeer, TestCA


@pytest.fixture(scope="session")
def org1() -> TestCA:
    return TestCA("Org1MSP", "org1.example.com")


@pytest.fixture(scope="session")
def alice(org1):
    return org1.issue("alice", {"role": "owner", "hf.EnrollmentID": "alice"})


@pytest.fixture(params=[0, 100], ids=["writes-one-by-one", "writes-batched"])
def ledger(request) -> InMemoryPeer:
    # small range batches make every range walk cross batch boundaries; every test runs against a Fabric 2.5
    # peer (a round trip per write) and a Fabric 3.1 peer that takes a transaction's writes in WRITE_BATCH_STATE
    return InMemoryPeer(batch_size=7, write_batch_size=request.param)
