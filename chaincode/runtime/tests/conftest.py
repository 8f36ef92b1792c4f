import pytest
from fabric_ccaas.testing import InMemoryPeer, TestCA


@pytest.fixture(scope="session")
def org1() -> TestCA:
    return TestCA("Org1MSP", "org1.example.com")


@pytest.fixture(scope="session")
def alice(org1):
    return org1.issue("alice", {"role": "owner", "hf.EnrollmentID": "alice"})


@pytest.fixture
def ledger() -> InMemoryPeer:
    return InMemoryPeer(batch_size=7)  # small batches make every range walk cross batch boundaries
