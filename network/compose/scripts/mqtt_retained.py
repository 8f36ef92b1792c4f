"""Container healthcheck for the edge services: a retained MQTT message on TOPIC contains WORD.

    python /vpp/scripts/mqtt_retained.py mosquitto 'vpp/bridge/state' ok        # the bridge says ok
    python /vpp/scripts/mqtt_retained.py mosquitto 'vpp/+/+/availability' online

Exit 0 when a retained message whose payload contains WORD arrives within 5 s, else 1.
"""

import sys
import threading

import paho.mqtt.client as mqtt


def main(host: str, topic: str, word: str) -> int:
    found = threading.Event()

    def on_connect(client, userdata, flags, reason_code, properties):
        client.subscribe(topic, qos=0)

    def on_message(client, userdata, message):
        if message.retain and word.encode() in message.payload:
            found.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
    client.on_connect = on_connect
    client.on_message = on_message
    try:
        client.connect(host, 1883, keepalive=10)
    except OSError as exc:
        print(f"mqtt_retained: cannot reach {host}:1883: {exc}", file=sys.stderr)
        return 1
    client.loop_start()
    ok = found.wait(5)
    client.loop_stop()
    client.disconnect()
    if not ok:
        print(f"mqtt_retained: no retained message with {word!r} on {topic}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
