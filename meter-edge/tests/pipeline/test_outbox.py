"""The disk outbox alone, and the publisher draining it into a real Mosquitto with a bounded window."""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from vpp_edge.mqtt.outbox import NewMessage, Outbox
from vpp_edge.mqtt.publisher import OutboxPublisher

from pipeline.harness import broker_settings


def test_put_is_durable_ordered_and_idempotent_by_key(tmp_path):
    box = Outbox(tmp_path / "o.db")
    assert box.put("t/1", b"a", key="m/1") is True
    assert box.put("t/1", b"a-again", key="m/1") is False  # still waiting: the handover is not repeated
    assert box.put_many([NewMessage("t/2", b"b"), NewMessage("t/3", b"c", retain=True)]) == 2
    box.close()
    box = Outbox(tmp_path / "o.db")  # reopened: as after a restart
    waiting = box.after(0, 10)
    assert [(m.topic, m.payload, m.retain) for m in waiting] == [("t/1", b"a", False), ("t/2", b"b", False),
                                                                 ("t/3", b"c", True)]
    box.remove([waiting[0].id, waiting[2].id])
    assert [m.payload for m in box.after(0, 10)] == [b"b"] and len(box) == 1
    assert box.after(waiting[1].id, 10) == []
    assert box._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


class Subscriber:
    def __init__(self, port: int, topic: str, persistent: bool = False) -> None:
        self.received: list[bytes] = []
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sub-{id(self)}",
                                  clean_session=not persistent)
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_message = lambda c, u, m: self.received.append(bytes(m.payload))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.ready.wait(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def wait(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.mark.mqtt
def test_publisher_drains_through_a_bounded_window_and_only_acknowledged_messages_leave(tmp_path, mosquitto):
    box = Outbox(tmp_path / "o.db")
    n = 3000
    box.put_many(NewMessage("vpp/s/m/interval", str(i).encode(), key=str(i)) for i in range(n))
    subscriber = Subscriber(mosquitto.port, "vpp/s/m/interval")
    publisher = OutboxPublisher(box, "edge-test", broker_settings(mosquitto.port), window=100)
    peak = 0
    original_fill = publisher._fill

    def fill_and_measure():
        nonlocal peak
        original_fill()
        peak = max(peak, publisher.in_flight)

    publisher._fill = fill_and_measure
    publisher.start()
    try:
        assert wait(lambda: len(box) == 0, 30), f"{len(box)} left"
        assert wait(lambda: len(subscriber.received) >= n, 10)
    finally:
        publisher.stop()
        subscriber.close()
    assert sorted(int(p) for p in subscriber.received) == list(range(n))  # QoS 1: all, here without duplicates
    assert 0 < peak <= 100 and publisher.stats["acknowledged"] == n


@pytest.mark.mqtt
def test_nothing_leaves_the_outbox_while_the_broker_is_away(tmp_path, mosquitto):
    subscriber = Subscriber(mosquitto.port, "vpp/s/m/interval", persistent=True)
    mosquitto.stop()  # graceful: the subscriber's session survives in the persistence file
    box = Outbox(tmp_path / "o.db")
    box.put_many(NewMessage("vpp/s/m/interval", str(i).encode()) for i in range(50))
    publisher = OutboxPublisher(box, "edge-test", broker_settings(mosquitto.port), window=10)
    publisher.start()
    try:
        time.sleep(0.5)
        assert len(box) == 50 and publisher.in_flight == 10  # handed to paho, but not acknowledged
        publisher.publish_sample("vpp/s/m/sample", b"{}")
        assert wait(lambda: publisher.stats["samples_dropped"] == 1, 2)  # stale samples are not queued up
        mosquitto.start()
        assert wait(lambda: len(box) == 0, 20)
        assert wait(lambda: {int(p) for p in subscriber.received} == set(range(50)), 10)
    finally:
        publisher.stop()
        subscriber.close()
    assert publisher.stats["acknowledged"] == 50
