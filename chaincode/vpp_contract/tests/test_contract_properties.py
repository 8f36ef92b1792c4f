"""Property-based tests: whatever readings, replays, reorderings, offers and trades arrive, the books balance."""

import asyncio
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import DAY0, World

NOW = DAY0 + 10 * 86_400
SLOTS = 8  # intervals of 15 minutes on day 0

reading = st.tuples(
    st.sampled_from(["s1", "s2"]),
    st.sampled_from(["gen", "bat", "load"]),
    st.integers(0, SLOTS - 1),
    st.integers(0, 1250),  # Wh within the meters' physical limits
)
action = st.one_of(
    st.tuples(st.just("batch"), st.lists(reading, min_size=1, max_size=6)),
    st.tuples(st.just("replay"), st.integers(0, 50)),
    st.tuples(st.just("offer"), st.sampled_from(["alice", "bob"]), st.sampled_from(["Tgen", "Tstorage"]),
              st.integers(1, 800)),
    st.tuples(st.just("buy"), st.sampled_from(["alice", "bob", "utility"]), st.integers(0, 5), st.integers(1, 500)),
)


async def scenario(identities, actions) -> None:
    from fabric_ccaas.testing import InMemoryPeer

    from vpp_contract.contract import chaincode

    peer = InMemoryPeer("vppchannel")
    peer.install("vpp", chaincode)
    world = World(peer, identities["admin"], identities["utility"], {})
    meters = {"s1": await world.site("s1", "alice"), "s2": await world.site("s2", "bob")}
    for who in ("Org1MSP:alice", "Org1MSP:bob", "Org2MSP:utility"):
        await world.ok("DepositCredit", who, "100000000")
    who_is = {"alice": identities["alice"], "bob": identities["bob"], "utility": identities["utility"]}
    signed: list[dict] = []
    first_value: dict[tuple[str, int], int] = {}
    offers: list[str] = []
    for act in actions:
        if act[0] == "batch":
            batch = []
            for site, asset, slot, wh in act[1]:
                start = DAY0 + slot * 900
                meter = meters[site][asset]
                if asset == "bat":
                    item = meter.sign("battery", start, charge_wh=wh, discharge_wh=0, soc_permille=500)
                else:
                    item = meter.sign("generation" if asset == "gen" else "load", start, wh=wh)
                batch.append(item)
                signed.append(item)
            results = await world.submit(*batch)
            for item, result in zip(batch, results, strict=True):
                k = (item["payload"]["meter"], item["payload"]["start"])
                if result["status"] == "accepted":
                    assert k not in first_value, "a second reading for one (meter, interval) was accepted"
                    first_value[k] = item["payload"].get("wh", item["payload"].get("charge_wh"))
                elif result["status"] == "duplicate":
                    assert k in first_value or any(
                        r["status"] == "accepted" and (b["payload"]["meter"], b["payload"]["start"]) == k
                        for b, r in zip(batch, results, strict=True))
                else:
                    assert result["code"] == "CONFLICTING_READING"
        elif act[0] == "replay" and signed:
            replayed = list(reversed(signed[-1 - act[1] % len(signed):]))  # old readings again, reordered
            for result in await world.submit(*replayed):
                assert result["status"] in ("duplicate", "rejected")
                assert result.get("code", "CONFLICTING_READING") == "CONFLICTING_READING"
        elif act[0] == "offer":
            result = await world.call("CreateOffer", act[2], str(act[3]), "200000", str(NOW), str(NOW + 3600),
                                      who=who_is[act[1]])
            if result.ok:
                offers.append(result.json["offer_id"])
            else:
                assert result.response.message.startswith("INSUFFICIENT_BALANCE")
        elif act[0] == "buy" and offers:
            result = await world.call("AcceptOffer", offers[act[2] % len(offers)], str(act[3]), who=who_is[act[1]])
            assert result.ok or result.response.message.split(":")[0] in (
                "OFFER_EXCEEDED", "OFFER_NOT_ACTIVE", "FORBIDDEN")

    supply = await world.ok("GetSupply")
    assert supply["Tgen"]["conserved"] and supply["Tstorage"]["conserved"], supply
    generated = sum(v for (meter, _), v in first_value.items() if meter.endswith("-gen"))
    assert supply["Tgen"]["minted"] == generated  # Tgen minted = metered generation
    for site in ("s1", "s2"):
        meter = meters[site]["gen"].meter_id
        rows = await world.ok("GetReadings", meter, str(DAY0), str(DAY0 + SLOTS * 900))
        assert sum(r["values"]["wh"] for r in rows) == sum(r["effects"]["minted_tgen"] for r in rows)
        assert len({r["start"] for r in rows}) == len(rows)
    for entries in peer.state.values():
        for k, raw in entries.items():
            if k.startswith("\x00lot\x00"):
                assert json.loads(raw)["amount"] > 0, "a lot with no positive amount is on the ledger"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(actions=st.lists(action, min_size=1, max_size=12))
def test_books_balance_under_any_sequence(identities, actions):
    asyncio.run(scenario(identities, actions))
