"""The bridge against a real Mosquitto with a fake Submitter (one layer), and RestSubmitter against a tiny HTTP
server that answers per the gateway's contract."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from vpp_edge.bridge import (
    BatchResult,
    Bridge,
    ReadingResult,
    RestSubmitter,
    SubmitRefusedError,
    SubmitUnavailableError,
)

from pipeline.harness import broker_settings, wait_for


def reading(meter: str, start: int, **extra) -> dict:
    return {"payload": {"meter": meter, "key": 1, "kind": "generation", "start": start, "interval": 300, "wh": 1,
                        **extra}, "signature": "c2ln"}


class FakeSubmitter:
    """Rejects readings whose meter is "bad", refuses whole batches that contain meter "poison"."""

    def __init__(self, block: asyncio.Event | None = None) -> None:
        self.batches: list[list[dict]] = []
        self.block = block

    async def submit(self, readings):
        if self.block is not None:
            await self.block.wait()
        if any(r["payload"]["meter"] == "poison" for r in readings):
            raise SubmitRefusedError("INVALID_ARGUMENT", "a reading the gateway cannot parse")
        self.batches.append(readings)
        return BatchResult("tx", 1, tuple(
            ReadingResult(i, "rejected", "BAD_SIGNATURE", "no") if r["payload"]["meter"] == "bad"
            else ReadingResult(i, "accepted") for i, r in enumerate(readings)))


def publish(port: int, messages: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-publisher")
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(topic, body, qos=1) for topic, body in messages]
    for info in infos:
        info.wait_for_publish(5)
    client.loop_stop()
    client.disconnect()


async def start(submitter, port: int, tmp_path, **kw) -> Bridge:
    bridge = Bridge(submitter, broker_settings(port), tmp_path / "dead.db", client_id="bridge-unit",
                    batch_wait_s=0.1, backoff_initial_s=0.01, backoff_max_s=0.05, state_every_s=0.2, **kw)
    await bridge.start()
    await wait_for(bridge.subscribed.is_set, 10, "subscription")
    return bridge


@pytest.mark.mqtt
async def test_batches_rejections_dead_letters_and_poison_isolation(tmp_path, mosquitto):
    submitter = FakeSubmitter()
    bridge = await start(submitter, mosquitto.port, tmp_path, batch_size=10)
    good = [(f"vpp/s/m{i}/interval", json.dumps(reading(f"m{i}", 900)).encode()) for i in range(22)]
    publish(mosquitto.port, [*good, ("vpp/s/bad/interval", json.dumps(reading("bad", 900)).encode()),
                             ("vpp/s/x/interval", b"not json"),
                             ("vpp/s/poison/interval", json.dumps(reading("poison", 900)).encode())])
    try:
        await wait_for(lambda: bridge.stats["acknowledged"] == 25, 10, "every message acknowledged")
        assert bridge.stats["accepted"] == 22 and bridge.stats["rejected"] == 3
        assert all(len(b) <= 10 for b in submitter.batches) and len(submitter.batches) >= 3
        codes = sorted(e["code"] for e in bridge.dead.entries())
        assert codes == ["BAD_MESSAGE", "BAD_SIGNATURE", "INVALID_ARGUMENT"]
        assert {e["meter"] for e in bridge.dead.entries()} == {None, "bad", "poison"}
    finally:
        await bridge.stop()
    # acknowledged means gone: a restarted bridge (same session) gets nothing again
    again = FakeSubmitter()
    bridge = await start(again, mosquitto.port, tmp_path, batch_size=10)
    await asyncio.sleep(0.5)
    await bridge.stop()
    assert again.batches == []


@pytest.mark.mqtt
async def test_a_bridge_that_dies_before_the_commit_gets_the_readings_again(tmp_path, mosquitto):
    stuck = FakeSubmitter(block=asyncio.Event())  # the ledger never answers
    bridge = await start(stuck, mosquitto.port, tmp_path)
    publish(mosquitto.port, [(f"vpp/s/m{i}/interval", json.dumps(reading(f"m{i}", 300)).encode()) for i in range(5)])
    await wait_for(lambda: bridge.backlog == 5, 10, "five readings waiting for the ledger")
    await bridge.stop()  # nothing was acknowledged
    healthy = FakeSubmitter()
    bridge = await start(healthy, mosquitto.port, tmp_path)
    try:
        await wait_for(lambda: bridge.stats["accepted"] == 5, 10, "the same five readings")
    finally:
        await bridge.stop()
    assert sorted(r["payload"]["meter"] for b in healthy.batches for r in b) == [f"m{i}" for i in range(5)]


@pytest.mark.mqtt
async def test_unavailable_ledger_is_retried_with_backoff_until_it_answers(tmp_path, mosquitto):
    class Flaky(FakeSubmitter):
        failures = 3

        async def submit(self, readings):
            if self.failures:
                self.failures -= 1
                raise SubmitUnavailableError("down")
            return await super().submit(readings)

    flaky = Flaky()
    bridge = await start(flaky, mosquitto.port, tmp_path)
    publish(mosquitto.port, [("vpp/s/m1/interval", json.dumps(reading("m1", 300)).encode())])
    try:
        await wait_for(lambda: bridge.stats["accepted"] == 1, 10, "the reading after three failures")
    finally:
        await bridge.stop()
    assert bridge.stats["retries"] == 3


# -- RestSubmitter ------------------------------------------------------------------------------------------------

class Gateway(BaseHTTPRequestHandler):
    mode = "ok"
    seen: ClassVar[list[dict]] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Gateway.seen.append({"path": self.path, "key": self.headers.get("X-API-Key"), "body": body})
        if Gateway.mode == "ok":
            results = [{"index": i, "status": "duplicate" if i else "accepted"} for i in range(len(body["readings"]))]
            status, answer = 200, {"tx_id": "abc", "block": 7, "results": results}
        elif Gateway.mode == "busy":
            status, answer = 503, {"error": {"code": "UNAVAILABLE", "message": "ledger down"}}
        elif Gateway.mode == "bad":
            status, answer = 400, {"error": {"code": "INVALID_ARGUMENT", "message": "readings[0].payload"}}
        else:
            status, answer = 401, {"error": {"code": "UNAUTHORIZED", "message": "bad key"}}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Gateway.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_rest_submitter_speaks_the_gateway_contract(gateway):
    submitter = RestSubmitter(gateway, "key-123")
    assert "key-123" not in repr(submitter)
    Gateway.mode = "ok"
    result = await submitter.submit([reading("m1", 300), reading("m2", 300)])
    assert result.tx_id == "abc" and result.block == 7
    assert [(r.index, r.status) for r in result.results] == [(0, "accepted"), (1, "duplicate")]
    assert Gateway.seen[0]["path"] == "/api/v1/readings/batches" and Gateway.seen[0]["key"] == "key-123"
    assert Gateway.seen[0]["body"] == {"readings": [reading("m1", 300), reading("m2", 300)]}
    Gateway.mode = "busy"
    with pytest.raises(SubmitUnavailableError):
        await submitter.submit([reading("m1", 300)])
    Gateway.mode = "bad"
    with pytest.raises(SubmitRefusedError) as refused:
        await submitter.submit([reading("m1", 300)])
    assert refused.value.code == "INVALID_ARGUMENT" and not refused.value.retryable
    Gateway.mode = "auth"
    with pytest.raises(SubmitRefusedError) as refused:
        await submitter.submit([reading("m1", 300)])
    assert refused.value.code == "UNAUTHORIZED" and refused.value.retryable
    submitter.close()


async def test_rest_submitter_treats_an_unreachable_gateway_as_unavailable():
    from vpp_edge.mqtt.mosquitto import free_port

    submitter = RestSubmitter(f"http://127.0.0.1:{free_port()}", "k", timeout_s=2)
    with pytest.raises(SubmitUnavailableError):
        await submitter.submit([reading("m1", 300)])
