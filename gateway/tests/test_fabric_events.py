from __future__ import annotations

import asyncio

import grpc
import pytest
from fake_fabric_gateway import CHANNEL, Fail
from vpp_gateway.fabric import (
    ChaincodeEvent,
    ChaincodeEventsError,
    FileCheckpointer,
    InMemoryCheckpointer,
    listen_chaincode_events,
)


def ledger(fake):
    fake.add_block(5, [("tx1", "vpp", "Minted", b"1"), ("tx2", "vpp", "Burned", b"2"), ("tx3", "vpp", "Sold", b"3")])
    fake.add_block(6, [("txA", "other", "Noise", b"x")])
    fake.add_block(7, [("tx4", "vpp", "Minted", b"4")])


async def stream_opened(fake):
    """Wait until the fake peer has received the chaincode events request."""
    await asyncio.wait_for(fake.events_request_received.wait(), 5)


async def take(stream, count):
    events = []
    async with stream:
        async for event in stream:
            events.append(event)
            if len(events) == count:
                break
    return events


@pytest.mark.asyncio
async def test_events_from_a_start_block_are_filtered_by_chaincode(gateway, fake):
    ledger(fake)
    network = gateway.get_network(CHANNEL)

    events = await asyncio.wait_for(take(network.chaincode_events("vpp", start_block=5), 4), 5)

    assert events == [
        ChaincodeEvent(5, "tx1", "vpp", "Minted", b"1"),
        ChaincodeEvent(5, "tx2", "vpp", "Burned", b"2"),
        ChaincodeEvent(5, "tx3", "vpp", "Sold", b"3"),
        ChaincodeEvent(7, "tx4", "vpp", "Minted", b"4"),
    ]
    (request,) = fake.events_requests
    assert request.channel_id == CHANNEL and request.chaincode_id == "vpp"
    assert request.start_position.WhichOneof("Type") == "specified"
    assert request.start_position.specified.number == 5
    assert request.after_transaction_id == ""


@pytest.mark.asyncio
async def test_events_default_to_the_next_commit(gateway, fake):
    ledger(fake)
    stream = gateway.get_network(CHANNEL).chaincode_events("vpp")
    reader = asyncio.create_task(take(stream, 1))
    await stream_opened(fake)
    fake.add_block(8, [("tx9", "vpp", "Minted", b"9")])

    events = await asyncio.wait_for(reader, 5)

    assert events == [ChaincodeEvent(8, "tx9", "vpp", "Minted", b"9")]
    assert fake.events_requests[0].start_position.WhichOneof("Type") == "next_commit"


@pytest.mark.asyncio
async def test_resume_from_checkpoint_after_the_last_processed_event(gateway, fake):
    ledger(fake)
    network = gateway.get_network(CHANNEL)
    checkpointer = InMemoryCheckpointer()

    first = await asyncio.wait_for(take(network.chaincode_events("vpp", start_block=5), 2), 5)
    for event in first:
        checkpointer.checkpoint_event(event)
    assert (checkpointer.block_number, checkpointer.transaction_id) == (5, "tx2")

    resumed = await asyncio.wait_for(
        take(network.chaincode_events("vpp", start_block=0, checkpoint=checkpointer), 2), 5
    )

    assert [e.transaction_id for e in resumed] == ["tx3", "tx4"]
    request = fake.events_requests[-1]
    assert request.start_position.specified.number == 5
    assert request.after_transaction_id == "tx2"


@pytest.mark.asyncio
async def test_after_transaction_id_without_checkpointer(gateway, fake):
    ledger(fake)

    events = await asyncio.wait_for(take(gateway.get_network(CHANNEL).chaincode_events("vpp", 5, "tx3"), 1), 5)

    assert [e.transaction_id for e in events] == ["tx4"]
    assert fake.events_requests[-1].after_transaction_id == "tx3"


def test_checkpointers(tmp_path):
    memory = InMemoryCheckpointer()
    assert (memory.block_number, memory.transaction_id) == (None, None)
    memory.checkpoint_block(41)
    assert (memory.block_number, memory.transaction_id) == (42, None)

    path = tmp_path / "state" / "events.json"
    durable = FileCheckpointer(path, fsync=True)
    durable.checkpoint_event(ChaincodeEvent(12, "tx-12", "vpp", "Minted", b""))
    reloaded = FileCheckpointer(path)
    assert (reloaded.block_number, reloaded.transaction_id) == (12, "tx-12")
    reloaded.checkpoint_block(12)
    assert (FileCheckpointer(path).block_number, FileCheckpointer(path).transaction_id) == (13, None)
    assert list(path.parent.iterdir()) == [path]  # no temp files left behind


@pytest.mark.asyncio
async def test_stream_errors_are_typed(gateway, fake):
    fake.on("ChaincodeEvents", Fail(grpc.StatusCode.PERMISSION_DENIED, "access denied"))

    with pytest.raises(ChaincodeEventsError) as caught:
        await take(gateway.get_network(CHANNEL).chaincode_events("vpp"), 1)

    assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.asyncio
async def test_listener_reconnects_and_resumes_without_duplicates(gateway, fake, tmp_path):
    ledger(fake)
    fake.events_fail_after.append(1)  # first stream: one response (block 5), then UNAVAILABLE
    checkpointer = FileCheckpointer(tmp_path / "cp.json")
    seen: list[str] = []
    done = asyncio.Event()

    async def handler(event):
        seen.append(event.transaction_id)
        if len(seen) == 4:
            done.set()

    listener = asyncio.create_task(
        listen_chaincode_events(
            gateway.get_network(CHANNEL), "vpp", handler, checkpointer=checkpointer, start_block=5, initial_backoff=0.01
        )
    )
    try:
        await asyncio.wait_for(done.wait(), 5)
    finally:
        listener.cancel()
        with pytest.raises(asyncio.CancelledError):
            await listener

    assert seen == ["tx1", "tx2", "tx3", "tx4"]
    assert len(fake.events_requests) == 2
    assert fake.events_requests[1].start_position.specified.number == 5
    assert fake.events_requests[1].after_transaction_id == "tx3"
    assert (FileCheckpointer(tmp_path / "cp.json").transaction_id) == "tx4"


@pytest.mark.asyncio
async def test_listener_stops_on_a_permanent_error(gateway, fake):
    fake.on("ChaincodeEvents", Fail(grpc.StatusCode.PERMISSION_DENIED, "access denied"))

    async def handler(event):
        raise AssertionError("no event expected")

    with pytest.raises(ChaincodeEventsError):
        await asyncio.wait_for(listen_chaincode_events(gateway.get_network(CHANNEL), "vpp", handler), 5)


@pytest.mark.asyncio
async def test_close_from_another_task_ends_the_iteration(gateway, fake):
    stream = gateway.get_network(CHANNEL).chaincode_events("vpp")
    received = []

    async def reader():
        async for event in stream:
            received.append(event)

    task = asyncio.create_task(reader())
    await stream_opened(fake)
    stream.close()

    await asyncio.wait_for(task, 2)
    assert received == [] and len(fake.events_requests) == 1
