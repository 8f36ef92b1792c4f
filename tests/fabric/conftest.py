"""A native Fabric 2.5 network for the session, with the conformance and records chaincodes served by fabric-ccaas.

Skipped, with the reason, when the Fabric binaries or their config are not installed (see locate.py).
"""

import os

import pytest

from .harness import CONTRACT_DIR, EXAMPLES, FabricNetwork, contract_chaincode_command, python_chaincode_command
from .locate import FabricMissingError, locate


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/fabric/" in str(item.fspath):
            item.add_marker(pytest.mark.fabric)


@pytest.fixture(scope="session")
def fabric_install():
    try:
        return locate()
    except FabricMissingError as exc:
        pytest.skip(f"Fabric tests need Fabric 2.5 binaries: {exc}")


@pytest.fixture(scope="session")
def fabric_network(fabric_install, tmp_path_factory):
    port_base = int(os.environ.get("VPP_TEST_FABRIC_PORT_BASE", "27050"))
    network = FabricNetwork(tmp_path_factory.mktemp("fabric"), port_base)
    try:
        network.up(batch_timeout="250ms", max_message_count=10)
        network.deploy("conformance", python_chaincode_command("conformance"),
                       collections=EXAMPLES / "collections.json")
        network.deploy("records", python_chaincode_command("records"))
        network.deploy("vpp", contract_chaincode_command(), workdir=CONTRACT_DIR / "vpp_contract")  # + META-INF
        for chaincode in ("conformance", "records", "vpp"):
            network.wait_until_endorsable(chaincode)
        yield network
    finally:
        network.down()
