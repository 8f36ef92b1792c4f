"""Publishing at QoS 1 from the durable outbox, with a bounded in-flight window (paho-mqtt 2.x, callback API v2).

One worker thread owns every ``publish`` call: it hands the oldest waiting outbox messages to paho until
``window`` are unacknowledged, records each message id (mid), and removes a message from the outbox only when
paho reports the broker's PUBACK for its mid (``on_publish``). The window matters: paho silently loses QoS 1
messages beyond 65,535 waiting for acknowledgement (PITFALLS). On reconnect paho itself re-sends what was in flight
(DUP set); after a restart the worker starts again from the oldest message still in the outbox. Messages may thus
arrive more than once, never zero times.

Samples (decision support, superseded a minute later) are published only while connected and the window has room;
otherwise they are counted as dropped, so a long outage cannot fill memory or the outbox with stale samples.

:class:`Presence` is one small connection per meter whose last will sets the meter's retained availability to
"offline" when the edge dies; it publishes "online" (retained) when connected.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .outbox import Outbox
from .topics import OFFLINE, ONLINE

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    keepalive: int = 30
    username: str | None = None
    password: str | None = None
    reconnect_min_s: float = 1
    reconnect_max_s: float = 30


def make_client(client_id: str, broker: BrokerSettings, *, protocol=mqtt.MQTTv311, clean: bool = True,
                manual_ack: bool = False) -> mqtt.Client:
    kwargs = {"clean_session": clean} if protocol != mqtt.MQTTv5 else {}
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol,
                         manual_ack=manual_ack, **kwargs)
    if broker.username is not None:
        client.username_pw_set(broker.username, broker.password)
    client.reconnect_delay_set(broker.reconnect_min_s, broker.reconnect_max_s)
    return client


class OutboxPublisher:
    """Drains an :class:`Outbox` to the broker. ``start()``, ``notify()`` after puts, ``stop()``."""

    def __init__(self, outbox: Outbox, client_id: str, broker: BrokerSettings, *, window: int = 1000,
                 sample_queue: int = 1000) -> None:
        if not 1 <= window <= 60_000:
            raise ValueError("window must be between 1 and 60,000 (paho loses messages beyond 65,535)")
        self.outbox = outbox
        self.broker = broker
        self.window = window
        self.client = make_client(client_id, broker)
        self.client.max_inflight_messages_set(window)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self._inflight: dict[int, int] = {}       # mid -> outbox id
        self._sample_mids: set[int] = set()
        self._acked: deque[tuple[int, bool]] = deque()   # (mid, ok) from paho's thread
        self._samples: deque[tuple[str, bytes]] = deque(maxlen=sample_queue)
        self._cursor = 0                          # highest outbox id handed to paho
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self.connected = threading.Event()
        self.stats = {"published": 0, "acknowledged": 0, "refused": 0, "samples_published": 0,
                      "samples_dropped": 0, "connects": 0}

    # -- paho's network thread: record and wake the worker, nothing else (no lock order to get wrong) --------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("MQTT connect to %s:%s refused: %s", self.broker.host, self.broker.port, reason_code)
            return
        self.stats["connects"] += 1
        self.connected.set()
        self._wake.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected.is_set():
            log.warning("MQTT disconnected from %s:%s: %s", self.broker.host, self.broker.port, reason_code)
        self.connected.clear()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self._acked.append((mid, not reason_code.is_failure))
        self._wake.set()

    # -- the worker ------------------------------------------------------------------------------------------------
    def start(self) -> None:
        self.client.connect_async(self.broker.host, self.broker.port, self.broker.keepalive)
        self.client.loop_start()
        self._worker = threading.Thread(target=self._run, name="outbox-publisher", daemon=True)
        self._worker.start()

    def notify(self) -> None:
        """New messages are in the outbox."""
        self._wake.set()

    def publish_sample(self, topic: str, payload: bytes) -> None:
        self._samples.append((topic, payload))
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.25)
            self._wake.clear()
            try:
                self._settle_acks()
                self._fill()
            except Exception:  # a disk error must not kill the thread silently: log, retry on the next wake
                log.exception("outbox publisher step failed")
                time.sleep(0.5)
        self._settle_acks()

    def _settle_acks(self) -> None:
        done: list[int] = []
        while self._acked:
            mid, ok = self._acked.popleft()
            if mid in self._sample_mids:
                self._sample_mids.discard(mid)
                continue
            outbox_id = self._inflight.pop(mid, None)
            if outbox_id is None:
                continue
            if ok:
                done.append(outbox_id)
            else:  # the broker refused it (MQTT 5 reason code): keep it; it goes again after a restart
                self.stats["refused"] += 1
                log.warning("broker refused outbox message %s", outbox_id)
        if done:
            self.outbox.remove(done)
            self.stats["acknowledged"] += len(done)

    def _fill(self) -> None:
        room = self.window - len(self._inflight) - len(self._sample_mids)
        if room > 0:
            for message in self.outbox.after(self._cursor, room):
                info = self.client.publish(message.topic, message.payload, qos=1, retain=message.retain)
                # paho keeps a QoS 1 message it could not send yet and sends it once connected
                if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                    log.warning("paho refused outbox message %s: %s", message.id, mqtt.error_string(info.rc))
                    break
                self._inflight[info.mid] = message.id
                self._cursor = message.id
                self.stats["published"] += 1
        while self._samples:
            topic, payload = self._samples.popleft()
            if self.connected.is_set() and len(self._inflight) + len(self._sample_mids) < self.window:
                info = self.client.publish(topic, payload, qos=1)
                if info.rc == mqtt.MQTT_ERR_SUCCESS:
                    self._sample_mids.add(info.mid)
                    self.stats["samples_published"] += 1
                    continue
            self.stats["samples_dropped"] += 1

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker and disconnect (whatever is unacknowledged stays in the outbox)."""
        self._stop.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join(timeout)
        self.client.disconnect()
        self.client.loop_stop()


class Presence:
    """A meter's retained availability: "online" while connected, "offline" as the last will or on ``set``."""

    def __init__(self, topic: str, client_id: str, broker: BrokerSettings) -> None:
        self.topic = topic
        self.broker = broker
        self.state = ONLINE
        self.client = make_client(client_id, broker)
        self.client.will_set(topic, OFFLINE, qos=1, retain=True)
        self.client.on_connect = self._on_connect

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if not reason_code.is_failure:
            client.publish(self.topic, self.state, qos=1, retain=True)

    def start(self) -> None:
        self.client.connect_async(self.broker.host, self.broker.port, self.broker.keepalive)
        self.client.loop_start()

    def set(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.client.publish(self.topic, state, qos=1, retain=True)

    def stop(self) -> None:
        """A clean stop: "offline", then disconnect (the will is not sent on a clean disconnect)."""
        info = self.client.publish(self.topic, OFFLINE, qos=1, retain=True)
        try:
            info.wait_for_publish(2.0)
        except (RuntimeError, ValueError):
            pass
        self.client.disconnect()
        self.client.loop_stop()
