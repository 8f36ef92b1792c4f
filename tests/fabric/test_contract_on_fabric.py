"""The energy token contract on a real Fabric network: one simulated site-day through the peers, checked against
the same day on the in-process peer."""

import json
import time

from fabric_ccaas.testing import InMemoryPeer, TestCA
from vpp_contract.contract import chaincode
from vpp_contract.tests.conftest import World
from vpp_contract.tests.siteday import SiteDay


def _arg(a) -> str:
    return a if isinstance(a, str) else json.dumps(a)


async def test_a_site_day_through_the_peers_matches_the_in_process_run(fabric_network):
    net = fabric_network
    admin_msp = net.issue_identity("org1", "operator", {"role": "admin"})
    alice_msp = net.issue_identity("org1", "alice", {"role": "owner"})
    day_start = int(time.time()) // 86_400 * 86_400 - 86_400  # yesterday: every interval is over
    day = SiteDay("fabric-day", "Org1MSP:alice", day_start)
    readings = day.readings()

    async with net.gateway_as(admin_msp) as gateway:
        contract = gateway.get_network(net.channel).get_contract("vpp")
        for fn, args in day.registrations():
            await contract.submit(fn, [_arg(a) for a in args])
        for i in range(0, len(readings), 48):
            results = json.loads(await contract.submit("SubmitReadings", [json.dumps(readings[i:i + 48])]))
            assert {r["status"] for r in results} == {"accepted"}, results
        replay = json.loads(await contract.submit("SubmitReadings", [json.dumps(readings[:10])]))
        assert {r["status"] for r in replay} == {"duplicate"}
        supply = json.loads(await contract.evaluate("GetSupply"))
    async with net.gateway_as(alice_msp, org="org2") as gateway:  # the owner, through the other org's peer
        balance = json.loads(await gateway.get_network(net.channel).get_contract("vpp")
                             .evaluate("GetBalance", ["Org1MSP:alice"]))

    peer = InMemoryPeer("vppchannel")
    peer.install("vpp", chaincode)
    operator = TestCA("Org1MSP").issue("operator", {"role": "admin", "hf.EnrollmentID": "operator"})
    world = World(peer, operator, operator, {}, now=int(time.time()))
    for fn, args in day.registrations():
        await world.ok(fn, *[_arg(a) for a in args])
    for i in range(0, len(readings), 48):
        await world.submit(*readings[i:i + 48])
    assert supply == await world.ok("GetSupply")
    assert balance == await world.ok("GetBalance", "Org1MSP:alice")
    assert supply["Tgen"]["conserved"] and supply["Tstorage"]["conserved"] and supply["Tgen"]["minted"] > 20_000
    assert net.height("org1") == net.height("org2")
