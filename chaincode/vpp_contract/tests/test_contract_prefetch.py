"""A batch reads its meters and the readings already there with range reads, not one read per reading."""

from collections import Counter

from cryptography.hazmat.primitives.asymmetric import ec
from fabric_ccaas.testing import InMemoryPeer
from fabric_protos.peer import chaincode_shim_pb2 as shim

from vpp_contract.contract import chaincode

from .conftest import DAY0, Meter, World

MT = shim.ChaincodeMessage
T = DAY0 + 12 * 3600


class CountingPeer(InMemoryPeer):
    def __init__(self):
        super().__init__("vppchannel")
        self.counts: Counter = Counter()

    def answer(self, message):
        self.counts[MT.Type.Name(message.type)] += 1
        return super().answer(message)


async def registered(identities, names):
    peer = CountingPeer()
    peer.install("vpp", chaincode)
    world = World(peer, identities["admin"], identities["utility"], {})
    await world.ok("RegisterSite", "s", "Org1MSP:alice", "x")
    meters = []
    for name in names:
        meter = Meter(name, ec.generate_private_key(ec.SECP256R1()))
        await world.ok("RegisterAsset", f"a-{name}", "s", "generator", "10000", {})
        await world.ok("RegisterMeter", name, f"a-{name}", "900", meter.public_pem)
        meters.append(meter)
    return world, peer, meters


async def test_a_contiguous_batch_needs_no_read_per_reading(identities):
    world, peer, meters = await registered(identities, [f"m-{i:03d}" for i in range(40)])
    batch = [m.sign("generation", T, wh=10) for m in meters] + [m.sign("generation", T + 900, wh=20) for m in meters]
    peer.counts.clear()
    results = await world.submit(*batch)
    assert [r["status"] for r in results] == ["accepted"] * 80
    assert peer.counts["GET_STATE"] == 0  # meters and existing readings came from three range reads
    assert peer.counts["GET_STATE_BY_RANGE"] == 3
    peer.counts.clear()
    again = await world.submit(*batch)
    assert {r["status"] for r in again} == {"duplicate"} and peer.counts["GET_STATE"] == 0


async def test_a_sparse_batch_stops_its_range_read_and_still_sees_everything(identities):
    names = [f"m-{i:03d}" for i in range(100)]
    world, _peer, meters = await registered(identities, names)
    sparse = [meters[0], meters[99]]  # the meter range holds 98 unrelated meters
    await world.submit(meters[50].sign("generation", T, wh=5))
    results = await world.submit(*[m.sign("generation", T, wh=7) for m in sparse],
                                 meters[50].sign("generation", T, wh=6))
    assert [r.get("code", r["status"]) for r in results] == ["accepted", "accepted", "CONFLICTING_READING"]
    balance = await world.ok("GetBalance", "Org1MSP:alice")
    assert balance["Tgen"] == 5 + 7 + 7
