"""The paced publisher (its own process): pre-signed readings into the edge's disk outbox at the scheduled rate;
the edge's OutboxPublisher (paho, QoS 1, window 1,000) drains it to the private Mosquitto.

Every ~10 ms it puts every reading that has come due (one durable SQLite transaction) and wakes the publisher.
It reports once a second: readings put, acknowledged by the broker (PUBACK), waiting in the outbox, and how far
behind the schedule the put was (if that grows, the harness, not the system under test, limits the rate).
"""

from __future__ import annotations

import time
from pathlib import Path

TICK_S = 0.01


def publisher_main(plan_text: str, steps: tuple, folder: str, workdir: str, port: int, commands, reports) -> None:
    from vpp_edge.mqtt.outbox import NewMessage, Outbox
    from vpp_edge.mqtt.publisher import BrokerSettings, OutboxPublisher

    from .load import load
    from .schedule import Schedule

    plan, schedule = load(plan_text), Schedule(tuple(tuple(s) for s in steps))
    outbox = Outbox(Path(workdir) / "outbox.db")
    publisher = OutboxPublisher(outbox, "soak-edge", BrokerSettings(port=port, reconnect_min_s=0.1,
                                                                      reconnect_max_s=1), window=1000)
    publisher.start()
    publisher.connected.wait(10)
    topics = [plan.topic(m) for m in range(plan.meters)]
    reports.put(("ready", {}))
    _, t0 = commands.get()                    # ("go", monotonic start)
    total = min(schedule.total, plan.readings)
    chunk_k, chunk = -1, []
    put, max_lag, next_report = 0, 0.0, t0 + 1
    stopped = False
    while put < total:
        now = time.monotonic()
        if not commands.empty() and commands.get()[0] == "stop":  # the ramp found its knee
            stopped = True
            break
        due = min(schedule.count_by(now - t0), total)
        if due > put:
            messages = []
            for i in range(put, due):
                k, m = divmod(i, plan.meters)
                if k != chunk_k:
                    chunk_k, chunk = k, plan.chunk_path(Path(folder), k).read_bytes().splitlines()
                messages.append(NewMessage(topics[m], chunk[m], key=f"{plan.meter_id(m)}/{plan.start_of(k)}"))
            max_lag = max(max_lag, now - (t0 + schedule.time_of(put)))
            outbox.put_many(messages)
            publisher.notify()
            put = due
        if now >= next_report:
            reports.put(("published", {"put": put, "acknowledged": publisher.stats["acknowledged"],
                                       "in_flight": publisher.in_flight, "max_lag_s": round(max_lag, 3), "at": now}))
            next_report += 1
        time.sleep(TICK_S)
    deadline = time.monotonic() + 300
    while publisher.stats["acknowledged"] < put and time.monotonic() < deadline:   # every PUBACK settled
        time.sleep(0.05)
    waiting = len(outbox)
    publisher.stop()
    outbox.close()
    reports.put(("published_final", {"put": put, "acknowledged": publisher.stats["acknowledged"],
                                     "refused": publisher.stats["refused"], "outbox_left": waiting,
                                     "max_lag_s": round(max_lag, 3), "stopped_early": stopped}))
