"""MQTT at the edge: topic layout (DESIGN §8), the durable outbox and the publisher that drains it."""
