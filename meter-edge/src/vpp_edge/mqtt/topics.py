"""The topic layout of DESIGN §8. Site and meter ids are single topic levels: no '/', '+', '#' or NUL."""

from __future__ import annotations

from ..errors import ConfigError

ROOT = "vpp"
BRIDGE_STATE = f"{ROOT}/bridge/state"          # retained: ok / degraded (with reason) / offline, backlog
INTERVAL_WILDCARD = f"{ROOT}/+/+/interval"     # what the bridge subscribes to
ONLINE, OFFLINE = "online", "offline"


def check_level(value: str, what: str) -> str:
    if not isinstance(value, str) or not value or any(ch in value for ch in "/+#\x00") or len(value) > 128:
        raise ConfigError(f"{what} {value!r} must be a non-empty topic level without '/', '+', '#'",
                          code="CONFIG_TOPIC_LEVEL")
    return value


def sample(site: str, meter: str) -> str:
    """1-minute samples for decision support (JSON)."""
    return f"{ROOT}/{check_level(site, 'site')}/{check_level(meter, 'meter')}/sample"


def interval(site: str, meter: str) -> str:
    """Signed interval readings (the contract's JSON)."""
    return f"{ROOT}/{check_level(site, 'site')}/{check_level(meter, 'meter')}/interval"


def availability(site: str, meter: str) -> str:
    """Retained "online" / "offline"; "offline" is the last will."""
    return f"{ROOT}/{check_level(site, 'site')}/{check_level(meter, 'meter')}/availability"


def parse(topic: str) -> tuple[str, str, str] | None:
    """``vpp/<site>/<meter>/<leaf>`` -> (site, meter, leaf); None for any other topic."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != ROOT or parts[1] == "bridge":
        return None
    return parts[1], parts[2], parts[3]
