"""Differential fidelity (DESIGN §3): one input log through Fabric 2.5 and through the embedded ledger gives the
same verdict for every transaction and the same world-state hash.

The log fixes everything the energy contract may depend on, per transaction: function, arguments, identity
(creator bytes), nonce (so the tx id, hex SHA-256(nonce ‖ creator), from which the contract derives lot and offer
ids) and timestamp. Both backends get the same creator bytes: the certificates issued on the test network.

The contract is deployed a second time under its own name (``vppdiff``): the session's ``vpp`` namespace already
holds what other tests wrote, which the embedded ledger never saw. A fresh namespace makes "the world state of
this chaincode" the same thing on both sides.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from fabric_protos.common import common_pb2
from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2
from fabric_protos.orderer import ab_pb2
from fabric_protos.peer import events_pb2, transaction_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from vpp_contract.contract import chaincode
from vpp_contract.tests.siteday import SiteDay
from vpp_gateway.embedded import CommitError, EmbeddedLedger, EndorsementError
from vpp_gateway.embedded.rwset import WorldStateHasher
from vpp_gateway.fabric import GatewayError, load_msp
from vpp_gateway.fabric.client import Commit

from .harness import CONTRACT_DIR, contract_chaincode_command, endorser_transactions

pytestmark = pytest.mark.slow

CHAINCODE = "vppdiff"
SYSTEM_NAMESPACES = {"_lifecycle", "lscc", "cscc", "qscc", "escc", "vscc"}


# -- the log ---------------------------------------------------------------------------------------------------------
@dataclass
class Step:
    """One line of the input log. ``op``: ``tx`` (endorse, submit, wait), ``endorse`` (endorse only, keep it as
    ``ref``), ``submit`` (submit the endorsed ``ref`` and wait), ``resubmit`` (the same endorsed transaction
    again: a duplicate tx id at commit), ``reendorse`` (the same proposal again: a duplicate tx id at endorsement).
    """

    op: str
    who: str = ""
    fn: str = ""
    args: list[str] = field(default_factory=list)
    nonce: bytes = b""
    timestamp: Timestamp | None = None
    ref: str = ""


def _arg(a: Any) -> str:
    return a if isinstance(a, str) else json.dumps(a)


class Log:
    def __init__(self, creators: dict[str, bytes], t0: int):
        self.creators = creators
        self.t0 = t0
        self.salt = os.urandom(8)  # the session ledger outlives the test: never reuse a tx id
        self.steps: list[Step] = []
        self.by_ref: dict[str, Step] = {}

    def _fixed(self, who: str) -> tuple[bytes, Timestamp]:
        n = len(self.steps)
        nonce = hashlib.sha256(self.salt + n.to_bytes(4, "big")).digest()[:24]
        return nonce, Timestamp(seconds=self.t0 + 2 * n, nanos=1000 * n + 7)  # strictly increasing, nanos too

    def tx_id(self, ref: str) -> str:
        step = self.by_ref[ref]
        return hashlib.sha256(step.nonce + self.creators[step.who]).hexdigest()

    def tx(self, who: str, fn: str, *args: Any, op: str = "tx", ref: str = "") -> Step:
        nonce, stamp = self._fixed(who)
        step = Step(op, who, fn, [_arg(a) for a in args], nonce, stamp, ref)
        self.steps.append(step)
        if ref:
            self.by_ref[ref] = step
        return step

    def again(self, op: str, ref: str) -> None:
        self.steps.append(Step(op, ref=ref))


DAYS = 7  # the issue's "simulated week of several sites"


def build_log(creators: dict[str, bytes], owners: list[str]) -> tuple[Log, int]:
    """3 sites, a week of 15-minute readings in half-day batches, credit, a standing bid, offers and acceptances,
    a settlement, a chaincode refusal, an MVCC conflict and two duplicate tx ids."""
    now = int(time.time())
    today = now - now % 86_400
    log = Log(creators, now)
    n_readings = 0
    first_days = {owner: SiteDay(f"diff-{owner}", f"Org1MSP:{owner}", today - DAYS * 86_400) for owner in owners}
    for owner in owners:
        for fn, args in first_days[owner].registrations():
            log.tx("admin", fn, *args)
    for day_index in range(DAYS):
        for owner in owners:
            day = SiteDay(f"diff-{owner}", f"Org1MSP:{owner}", today - (DAYS - day_index) * 86_400)
            day.meters = first_days[owner].meters  # the same meters (keys) every day
            readings = day.readings()
            n_readings += len(readings)
            half = len(readings) // 2
            log.tx("admin", "SubmitReadings", readings[:half])
            log.tx("admin", "SubmitReadings", readings[half:])
    log.tx("admin", "DepositCredit", "Org2MSP:diffutil", 50_000_000)
    log.tx("admin", "DepositCredit", f"Org1MSP:{owners[1]}", 5_000_000)
    log.tx("utility", "SetStandingBid", 40_000, True)
    valid_until = now + 86_400
    log.tx(owners[0], "CreateOffer", "Tgen", 2_000, 120_000, now - 60, valid_until, ref="offer-a")
    log.tx(owners[2], "CreateOffer", "Tstorage", 500, 180_000, now - 60, valid_until, ref="offer-c")
    offer_a, offer_c = log.tx_id("offer-a")[:24], log.tx_id("offer-c")[:24]
    log.tx(owners[1], "AcceptOffer", offer_a, 400)
    log.tx(owners[0], "AcceptOffer", offer_a, 100)  # a seller cannot buy its own offer: refused at endorsement
    # MVCC: both read and write the offer (and the utility's credit) before either is submitted
    log.tx("utility", "AcceptOffer", offer_a, 300, op="endorse", ref="mvcc-a")
    log.tx("utility", "AcceptOffer", offer_a, 200, op="endorse", ref="mvcc-b")
    log.again("submit", "mvcc-a")
    log.again("submit", "mvcc-b")  # → MVCC_READ_CONFLICT
    log.again("resubmit", "mvcc-a")  # the same envelope again → DUPLICATE_TXID in a block
    log.again("reendorse", "mvcc-a")  # the same proposal again → refused at endorsement
    log.tx("utility", "AcceptOffer", offer_c, 250)
    log.tx("admin", "SettleExpiredTgen", f"Org1MSP:{owners[2]}", 86_400)
    log.tx("admin", "SettleExpiredTgen", f"Org1MSP:{owners[1]}", 86_400)
    return log, n_readings


# -- verdicts ----------------------------------------------------------------------------------------------------------
def _refusal(message: str, code: str | None) -> str:
    if "duplicate transaction found" in message:
        return "ENDORSEMENT_REFUSED:DUPLICATE_TXID"
    return f"ENDORSEMENT_REFUSED:{code or message[:60]}"


class EmbeddedBackend:
    def __init__(self, ledger: EmbeddedLedger, creators: dict[str, bytes]):
        self.ledger, self.creators = ledger, creators
        self.endorsed: dict[str, Any] = {}

    async def endorse(self, step: Step) -> str | None:
        try:
            self.endorsed[step.ref or id(step)] = await self.ledger.endorse(
                CHAINCODE, step.fn, step.args, self.creators[step.who], nonce=step.nonce, timestamp=step.timestamp)
            return None
        except EndorsementError as exc:
            return _refusal(exc.message, exc.message.split(":", 1)[0] if ":" in exc.message else None)

    async def submit(self, ref: Any) -> tuple[str, str]:
        try:
            committed = await self.ledger.submit_endorsed(self.endorsed[ref])
            return committed.validation_code_name, committed.validation_code_name
        except CommitError as exc:
            return exc.code_name, exc.code_name


class FabricBackend:
    """``followers``: gateways to the other endorsing peers. The gateway peer's CommitStatus only says that *its*
    ledger has the block; the next proposal is endorsed by both orgs' peers, and one that has not committed the
    block yet simulates against older state (RegisterMeter right after RegisterAsset: NOT_FOUND on that peer, so
    the endorsement fails). Waiting for the commit on every endorsing peer makes the log sequential on all of them,
    as it is on the embedded ledger."""

    def __init__(self, contracts: dict[str, Any], followers: list[Any]):
        self.contracts = contracts
        self.followers = followers
        self.endorsed: dict[Any, Any] = {}
        self.proposals: dict[Any, Any] = {}

    async def endorse(self, step: Step) -> str | None:
        key = step.ref or id(step)
        if key not in self.proposals:
            self.proposals[key] = self.contracts[step.who].new_proposal(step.fn, step.args, nonce=step.nonce,
                                                                        timestamp=step.timestamp)
        try:
            self.endorsed[key] = await self.proposals[key].endorse()
            return None
        except GatewayError as exc:
            details = getattr(exc, "details", ())
            message = " | ".join(d.message for d in details) or str(exc)
            return _refusal(message, getattr(exc, "chaincode_code", None))

    async def submit(self, ref: Any) -> tuple[str, str]:
        """(what the commit status said, filled in later from the blocks)."""
        transaction = self.endorsed[ref]
        commit = await transaction.submit()
        status = await commit.status()
        for follower in self.followers:
            await Commit(follower, transaction).status()
        return status.code_name, ""


async def run(log: Log, backend: Any) -> list[dict]:
    """Run the log sequentially; one record per step: the client's view of the verdict."""
    records = []
    for step in log.steps:
        if step.op in ("tx", "endorse"):
            refused = await backend.endorse(step)
            record = {"op": step.op, "fn": step.fn, "tx_id": log.tx_id(step.ref) if step.ref else
                      hashlib.sha256(step.nonce + log.creators[step.who]).hexdigest()}
            if refused:
                record["verdict"] = refused
            elif step.op == "tx":
                record["reported"], record["verdict"] = await backend.submit(step.ref or id(step))
            else:
                record["verdict"] = "ENDORSED"
        elif step.op in ("submit", "resubmit"):
            record = {"op": step.op, "fn": log.by_ref[step.ref].fn, "tx_id": log.tx_id(step.ref)}
            if step.ref in backend.endorsed:
                record["reported"], record["verdict"] = await backend.submit(step.ref)
            else:
                record["verdict"] = "NOT_ENDORSED"
        else:  # reendorse
            record = {"op": step.op, "fn": log.by_ref[step.ref].fn, "tx_id": log.tx_id(step.ref),
                      "verdict": await backend.endorse(log.by_ref[step.ref]) or "ENDORSED"}
        records.append(record)
    return records


# -- Fabric: blocks over the Deliver service, world state from their write sets -------------------------------------
async def fetch_blocks(gateway: Any, channel: str, stop: int) -> list[common_pb2.Block]:
    """Blocks 0..stop from the gateway peer's Deliver service (one signed SeekInfo, one stream)."""
    identity = gateway.signing_identity
    now = time.time_ns()
    header = common_pb2.Header(
        channel_header=common_pb2.ChannelHeader(
            type=common_pb2.DELIVER_SEEK_INFO, channel_id=channel, epoch=0,
            timestamp=Timestamp(seconds=now // 10**9, nanos=now % 10**9)).SerializeToString(),
        signature_header=common_pb2.SignatureHeader(creator=identity.creator,
                                                    nonce=os.urandom(24)).SerializeToString())
    seek = ab_pb2.SeekInfo(start=ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=0)),
                           stop=ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=stop)),
                           behavior=ab_pb2.SeekInfo.BLOCK_UNTIL_READY)
    payload = common_pb2.Payload(header=header, data=seek.SerializeToString()).SerializeToString()
    envelope = common_pb2.Envelope(payload=payload, signature=identity.sign_message(payload))
    deliver = gateway.channel.stream_stream("/protos.Deliver/Deliver",
                                            request_serializer=common_pb2.Envelope.SerializeToString,
                                            response_deserializer=events_pb2.DeliverResponse.FromString)
    blocks = []
    call = deliver(iter([envelope]), timeout=60)
    async for response in call:
        if response.HasField("block"):
            blocks.append(response.block)
        elif response.status != common_pb2.SUCCESS:
            raise RuntimeError(f"deliver: {common_pb2.Status.Name(response.status)}")
        if len(blocks) == stop + 1:
            break
    call.cancel()
    return blocks


def fabric_public_state(blocks: list[common_pb2.Block], namespaces: set[str]) -> dict[tuple[str, str], bytes]:
    """The public world state of ``namespaces`` after applying, in order, the write sets of every VALID endorser
    transaction (Fabric's commit: blind replay of valid writes; an empty value or is_delete removes the key)."""
    state: dict[tuple[str, str], bytes] = {}
    for block in blocks:
        for _, code, action in endorser_transactions(block):
            if code != transaction_pb2.VALID:
                continue
            for ns in rwset_pb2.TxReadWriteSet.FromString(action.results).ns_rwset:
                if ns.namespace not in namespaces or ns.namespace in SYSTEM_NAMESPACES:
                    continue
                for write in kv_rwset_pb2.KVRWSet.FromString(ns.rwset).writes:
                    if write.is_delete or not write.value:
                        state.pop((ns.namespace, write.key), None)
                    else:
                        state[(ns.namespace, write.key)] = write.value
    return state


def public_state_hash(state: dict[tuple[str, str], bytes]) -> str:
    """The embedded ledger's canonical world-state hash (:class:`WorldStateHasher`) of public entries."""
    hasher = WorldStateHasher()
    for (ns, key) in sorted(state, key=lambda k: (k[0].encode(), k[1].encode())):
        hasher.add(ns, "", key, state[(ns, key)])
    return hasher.hexdigest()


def embedded_public_state(ledger: EmbeddedLedger, namespaces: set[str]) -> dict[tuple[str, str], bytes]:
    return {(ns, key): value for ns, coll, key, value, *_ in ledger.store.state_rows()
            if ns in namespaces and coll == ""}


def embedded_block_verdicts(ledger: EmbeddedLedger) -> list[tuple[str, str]]:
    out = []
    for number in range(1, ledger.height):
        row = ledger.store.db.execute("SELECT data FROM blocks WHERE number = ?", (number,)).fetchone()
        for tx in json.loads(row[0])["transactions"]:
            out.append((tx["tx_id"], transaction_pb2.TxValidationCode.Name(tx["validation_code"])))
    return out


# -- the test ----------------------------------------------------------------------------------------------------------
async def test_one_log_same_verdicts_and_world_state_on_fabric_and_embedded(fabric_network, tmp_path):
    net = fabric_network
    started = time.monotonic()
    net.deploy(CHAINCODE, contract_chaincode_command(), workdir=CONTRACT_DIR / "vpp_contract")
    await asyncio.to_thread(net.wait_until_endorsable, CHAINCODE)
    deployed = time.monotonic()

    owners = ["dora", "erik", "fenna"]
    msps = {"admin": net.issue_identity("org1", "diffop", {"role": "admin"}),
            "utility": net.issue_identity("org2", "diffutil", {"role": "utility"}),
            **{o: net.issue_identity("org1", o, {"role": "owner"}) for o in owners}}
    msp_ids = {"org1": "Org1MSP", "org2": "Org2MSP"}
    creators = {who: load_msp(msp, msp_ids[msp.parts[-3]]).creator for who, msp in msps.items()}
    log, n_readings = build_log(creators, owners)

    # -- Fabric ------------------------------------------------------------------------------------------------
    gateways = {who: net.gateway_as(msp) for who, msp in msps.items()}
    org2 = net.gateway_as(msps["admin"], org="org2")
    try:
        contracts = {who: g.get_network(net.channel).get_contract(CHAINCODE) for who, g in gateways.items()}
        fabric = await run(log, FabricBackend(contracts, [org2]))
        height, _ = await asyncio.to_thread(net.height, "org1")
        blocks = await fetch_blocks(gateways["admin"], net.channel, height - 1)
    finally:
        for g in (*gateways.values(), org2):
            await g.close()
    ran_fabric = time.monotonic()
    ours = {r["tx_id"] for r in fabric}
    fabric_blocks = [(tx_id, transaction_pb2.TxValidationCode.Name(code))
                     for block in blocks for tx_id, code, _ in endorser_transactions(block) if tx_id in ours]
    # the committed verdict of each submission is the n-th occurrence of its tx id in the blocks
    seen: dict[str, int] = {}
    for record in fabric:
        if "reported" in record:
            nth = seen[record["tx_id"]] = seen.get(record["tx_id"], -1) + 1
            record["verdict"] = [c for t, c in fabric_blocks if t == record["tx_id"]][nth]
    fabric_state = fabric_public_state(blocks, {CHAINCODE})

    # -- embedded ----------------------------------------------------------------------------------------------
    ledger = EmbeddedLedger.open(tmp_path / "diff.db", channel=net.channel, block_size=10, block_timeout=0.01)
    try:
        ledger.install(CHAINCODE, chaincode)
        embedded = await run(log, EmbeddedBackend(ledger, creators))
        embedded_blocks = embedded_block_verdicts(ledger)
        embedded_state = embedded_public_state(ledger, {CHAINCODE})
        full_hash = ledger.state_hash()
    finally:
        ledger.close()

    def verdicts(records):
        return [(r["op"], r["fn"], r["tx_id"], r["verdict"]) for r in records]

    report = {"transactions": len(log.steps), "readings": n_readings,
              "verdicts": {v: sum(r["verdict"] == v for r in fabric) for v in sorted({r["verdict"] for r in fabric})},
              "fabric_commit_status_of_duplicate": [r["reported"] for r in fabric if r["op"] == "resubmit"],
              "keys": len(fabric_state), "hash": public_state_hash(fabric_state),
              "seconds": {"deploy": round(deployed - started, 1), "fabric": round(ran_fabric - deployed, 1),
                          "embedded": round(time.monotonic() - ran_fabric, 1)}}
    print("differential:", json.dumps(report))
    assert verdicts(fabric) == verdicts(embedded)
    assert fabric_blocks == embedded_blocks  # same order of the same transactions with the same codes
    assert [r["verdict"] for r in fabric if r["op"] in ("submit", "resubmit", "reendorse")] == [
        "VALID", "MVCC_READ_CONFLICT", "DUPLICATE_TXID", "ENDORSEMENT_REFUSED:DUPLICATE_TXID"]
    # How each backend *reports* the resubmitted duplicate differs: the embedded ledger's submit raises
    # DUPLICATE_TXID; Fabric's gateway accepts the envelope and its CommitStatus, looked up by tx id, answers with
    # the first (VALID) transaction of that id, while the block marks the second one DUPLICATE_TXID.
    assert [r["reported"] for r in embedded if r["op"] == "resubmit"] == ["DUPLICATE_TXID"]
    assert sorted(fabric_state) == sorted(embedded_state)
    assert public_state_hash(fabric_state) == public_state_hash(embedded_state) == full_hash
