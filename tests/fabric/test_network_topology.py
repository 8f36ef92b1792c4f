"""The native network's ordering service: three Raft orderers, each an active consenter of the channel, one leader,
all replicating the same blocks the peers commit (network.sh up + createChannel, ORDERER_COUNT=3)."""

import os
import time

from .harness import NetworkError


def test_three_orderers_run_as_separate_processes(fabric_network):
    names = [o["name"] for o in fabric_network.orderers]
    assert names == ["orderer", "orderer2", "orderer3"]
    pids = {name: fabric_network.pid_of(name) for name in names}
    assert len(set(pids.values())) == 3
    for pid in pids.values():
        os.kill(pid, 0)  # raises if the process is gone
    addresses = {o["address"] for o in fabric_network.orderers} | {o["admin_address"] for o in fabric_network.orderers}
    assert len(addresses) == 6
    assert all(address.startswith("127.0.0.1:") for address in addresses)


def test_each_orderer_is_an_active_consenter_of_the_channel(fabric_network):
    for orderer in fabric_network.orderers:
        channel = fabric_network.osnadmin_channel(orderer["name"])
        assert channel["name"] == fabric_network.channel
        assert channel["status"] == "active", (orderer["name"], channel)
        assert channel["consensusRelation"] == "consenter", (orderer["name"], channel)


def test_exactly_one_raft_leader(fabric_network):
    label = f'channel="{fabric_network.channel}"'
    leaders = {}
    for orderer in fabric_network.orderers:
        samples = fabric_network.orderer_metric(orderer["name"], "consensus_etcdraft_is_leader")
        values = [value for labels, value in samples.items() if label in labels]
        assert len(values) == 1, (orderer["name"], samples)
        leaders[orderer["name"]] = values[0]
    assert sorted(leaders.values()) == [0.0, 0.0, 1.0], leaders


def test_every_orderer_holds_the_blocks_the_peers_committed(fabric_network):
    # The session fixture deployed three chaincodes (lifecycle transactions in several blocks): every orderer must
    # have replicated all of them, not only the one the peer CLI submitted to.
    peer_height, _ = fabric_network.height("org1")
    assert peer_height > 1
    deadline = time.monotonic() + 15
    while True:
        heights = {o["name"]: fabric_network.osnadmin_channel(o["name"])["height"] for o in fabric_network.orderers}
        if all(height >= peer_height for height in heights.values()):
            break
        if time.monotonic() > deadline:
            raise NetworkError(f"orderers behind peer0.org1 (height {peer_height}): {heights}")
        time.sleep(0.5)
