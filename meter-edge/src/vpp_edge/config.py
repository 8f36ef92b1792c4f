"""Edge and bridge configuration files (YAML), validated at load: a bad field raises ConfigError naming it.

Edge (one reader per site)::

    site: site-1
    sample_period_s: 60              # poll every meter this often (simulated seconds with an accelerated clock)
    max_gap_intervals: 2             # samples further apart than this many intervals leave a recorded gap
    driver_factory: vpp_edge.drivers:create_driver   # "module:callable" (device, kind, settings) -> Driver
    outbox_path: /var/lib/vpp-edge/outbox.db
    state_path: /var/lib/vpp-edge/state.db
    window: 1000                     # MQTT messages in flight at most
    broker: {host: 127.0.0.1, port: 1883, client_id: edge-site-1, keepalive: 30}
    clock: {kind: wall}              # or {kind: accelerated, start: <sim epoch s>, anchor: <wall epoch s>, factor: 60}
    meters:
      - id: m-site-1-pv
        kind: generation             # generation | battery | load | grid
        interval: 900                # 300 or 900, as registered on the ledger
        key: keys/m-site-1-pv.key.pem
        key_version: 1               # the key version on the ledger (RotateMeterKey increments it)
        modulus: 4294967296          # optional: counter rollover (an int for every counter, or {counter: int})
        max_power_w: 10000           # optional: bounds what a rollover may plausibly be
        driver: {...}                # opaque: handed to the driver factory

An accelerated clock is anchored (simulated ``start`` at wall time ``anchor``), so a restarted reader continues the
same simulated time instead of starting it again. Relative paths are relative to the file.

Bridge::

    broker: {host: 127.0.0.1, port: 1883, client_id: vpp-bridge}
    batch_size: 200
    batch_wait_s: 1.0
    dead_letter_path: /var/lib/vpp-bridge/dead.db
    gateway: {base_url: http://127.0.0.1:8000, api_key_env: VPP_API_KEY}   # the key itself never in the file
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .clock import AcceleratedClock, WallClock
from .errors import ConfigError
from .intervals import INTERVAL_LENGTHS, MeterSpec
from .mqtt.publisher import BrokerSettings
from .mqtt.topics import check_level
from .sample import COUNTERS

DEFAULT_DRIVER_FACTORY = "vpp_edge.drivers:create_driver"


@dataclass(frozen=True, slots=True)
class MeterConfig:
    id: str
    kind: str
    interval: int
    key_path: Path
    key_version: int
    driver: dict[str, Any]
    modulus: dict[str, int] = field(default_factory=dict)
    max_power_w: int | None = None

    def spec(self, max_gap_intervals: int) -> MeterSpec:
        return MeterSpec(self.id, self.kind, self.interval, max_gap_intervals, self.modulus, self.max_power_w)


@dataclass(frozen=True, slots=True)
class ClockConfig:
    kind: str = "wall"
    start: float = 0.0
    anchor: float = 0.0
    factor: float = 1.0

    def build(self) -> WallClock | AcceleratedClock:
        if self.kind == "wall":
            return WallClock()
        # continue the anchored simulated time: sim = start + (wall - anchor) * factor
        return AcceleratedClock(self.start + (time.time() - self.anchor) * self.factor, self.factor)


@dataclass(frozen=True, slots=True)
class EdgeConfig:
    site: str
    meters: tuple[MeterConfig, ...]
    broker: BrokerSettings
    client_id: str
    outbox_path: Path
    state_path: Path
    sample_period_s: int = 60
    max_gap_intervals: int = 2
    window: int = 1000
    driver_factory: str = DEFAULT_DRIVER_FACTORY
    clock: ClockConfig = field(default_factory=ClockConfig)

    def load_driver_factory(self) -> Callable[..., Any]:
        return import_callable(self.driver_factory, "driver_factory")


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    broker: BrokerSettings
    client_id: str
    dead_letter_path: Path
    base_url: str
    api_key: str = field(repr=False)
    batch_size: int = 200
    batch_wait_s: float = 1.0


# -- field checks ----------------------------------------------------------------------------------------------------

def _get(doc: Mapping, name: str, where: str, *, required: bool = True, default: Any = None) -> Any:
    if name not in doc or doc[name] is None:
        if required:
            raise ConfigError(f"{where}{name}: required", code="CONFIG_MISSING")
        return default
    return doc[name]


def _int(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where}: must be an integer between {low} and {high}, got {value!r}", code="CONFIG_VALUE")
    return value


def _number(value: Any, where: str, low: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
        raise ConfigError(f"{where}: must be a number ≥ {low}, got {value!r}", code="CONFIG_VALUE")
    return float(value)


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: must be a non-empty string", code="CONFIG_VALUE")
    return value


def _map(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: must be a mapping", code="CONFIG_VALUE")
    return value


def _path(value: Any, where: str, base: Path) -> Path:
    path = Path(_str(value, where)).expanduser()
    return path if path.is_absolute() else base / path


def _unknown(doc: Mapping, allowed: set[str], where: str) -> None:
    extra = set(doc) - allowed
    if extra:
        raise ConfigError(f"{where}{sorted(extra)[0]}: unknown field", code="CONFIG_UNKNOWN")


def import_callable(spec: str, where: str) -> Callable[..., Any]:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"{where}: must be 'module:callable', got {spec!r}", code="CONFIG_VALUE")
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{where}: cannot import {spec!r}: {exc}", code="CONFIG_IMPORT") from exc
    if not callable(target):
        raise ConfigError(f"{where}: {spec!r} is not callable", code="CONFIG_VALUE")
    return target


def _read_yaml(path: str | Path) -> tuple[dict, Path]:
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}", code="CONFIG_FILE") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}", code="CONFIG_SYNTAX") from exc
    return _map(doc, str(path)), path.resolve().parent


def _broker(doc: Any, where: str, default_client_id: str) -> tuple[BrokerSettings, str]:
    doc = _map(doc, where.rstrip("."))
    _unknown(doc, {"host", "port", "client_id", "keepalive", "username", "password_env", "reconnect_min_s",
                   "reconnect_max_s"}, where)
    password_env = _get(doc, "password_env", where, required=False)
    password = os.environ.get(_str(password_env, f"{where}password_env")) if password_env else None
    settings = BrokerSettings(
        host=_str(_get(doc, "host", where, required=False, default="127.0.0.1"), f"{where}host"),
        port=_int(_get(doc, "port", where), f"{where}port", 1, 65535),
        keepalive=_int(_get(doc, "keepalive", where, required=False, default=30), f"{where}keepalive", 5, 3600),
        username=_get(doc, "username", where, required=False),
        password=password,
        reconnect_min_s=_number(_get(doc, "reconnect_min_s", where, required=False, default=1), f"{where}"
                                "reconnect_min_s", 0.05),
        reconnect_max_s=_number(_get(doc, "reconnect_max_s", where, required=False, default=30), f"{where}"
                                "reconnect_max_s", 0.05),
    )
    client_id = _str(_get(doc, "client_id", where, required=False, default=default_client_id), f"{where}client_id")
    return settings, client_id


def _modulus(value: Any, where: str, kind: str) -> dict[str, int]:
    if value is None:
        return {}
    counters = sorted(COUNTERS[kind])
    if isinstance(value, int) and not isinstance(value, bool):
        return {c: _int(value, where, 2, 2**63) for c in counters}
    doc = _map(value, where)
    _unknown(doc, set(counters), f"{where}.")
    return {c: _int(v, f"{where}.{c}", 2, 2**63) for c, v in doc.items()}


def _meter(doc: Any, where: str, base: Path) -> MeterConfig:
    doc = _map(doc, where)
    p = f"{where}."
    _unknown(doc, {"id", "kind", "interval", "key", "key_version", "modulus", "max_power_w", "driver"}, p)
    kind = _get(doc, "kind", p)
    if kind not in COUNTERS:
        raise ConfigError(f"{p}kind: must be one of {', '.join(sorted(COUNTERS))}, got {kind!r}", code="CONFIG_VALUE")
    interval = _get(doc, "interval", p)
    if interval not in INTERVAL_LENGTHS:
        raise ConfigError(f"{p}interval: must be 300 or 900, got {interval!r}", code="CONFIG_VALUE")
    max_power = _get(doc, "max_power_w", p, required=False)
    return MeterConfig(
        id=check_level(_str(_get(doc, "id", p), f"{p}id"), f"{p}id"),
        kind=kind,
        interval=interval,
        key_path=_path(_get(doc, "key", p), f"{p}key", base),
        key_version=_int(_get(doc, "key_version", p, required=False, default=1), f"{p}key_version", 1, 1_000_000),
        driver=dict(_map(_get(doc, "driver", p, required=False, default={}), f"{p}driver")),
        modulus=_modulus(doc.get("modulus"), f"{p}modulus", kind),
        max_power_w=None if max_power is None else _int(max_power, f"{p}max_power_w", 1, 10**12),
    )


def _clock(doc: Any) -> ClockConfig:
    if doc is None:
        return ClockConfig()
    doc = _map(doc, "clock")
    _unknown(doc, {"kind", "start", "anchor", "factor"}, "clock.")
    kind = _get(doc, "kind", "clock.")
    if kind == "wall":
        return ClockConfig()
    if kind != "accelerated":
        raise ConfigError(f"clock.kind: must be wall or accelerated, got {kind!r}", code="CONFIG_VALUE")
    factor = _number(_get(doc, "factor", "clock."), "clock.factor", 0.001)
    return ClockConfig("accelerated", _number(_get(doc, "start", "clock."), "clock.start", 0),
                       _number(_get(doc, "anchor", "clock."), "clock.anchor", 0), factor)


def load_edge_config(path: str | Path) -> EdgeConfig:
    doc, base = _read_yaml(path)
    _unknown(doc, {"site", "meters", "broker", "outbox_path", "state_path", "sample_period_s", "max_gap_intervals",
                   "window", "driver_factory", "clock"}, "")
    site = check_level(_str(_get(doc, "site", ""), "site"), "site")
    meters_doc = _get(doc, "meters", "")
    if not isinstance(meters_doc, list) or not meters_doc:
        raise ConfigError("meters: must be a non-empty list", code="CONFIG_VALUE")
    meters = tuple(_meter(m, f"meters[{i}]", base) for i, m in enumerate(meters_doc))
    seen: set[str] = set()
    for i, meter in enumerate(meters):
        if meter.id in seen:
            raise ConfigError(f"meters[{i}].id: {meter.id} appears twice", code="CONFIG_DUPLICATE")
        seen.add(meter.id)
    broker, client_id = _broker(_get(doc, "broker", ""), "broker.", f"vpp-edge-{site}")
    return EdgeConfig(
        site=site, meters=meters, broker=broker, client_id=client_id,
        outbox_path=_path(_get(doc, "outbox_path", ""), "outbox_path", base),
        state_path=_path(_get(doc, "state_path", ""), "state_path", base),
        sample_period_s=_int(_get(doc, "sample_period_s", "", required=False, default=60), "sample_period_s", 1,
                             3600),
        max_gap_intervals=_int(_get(doc, "max_gap_intervals", "", required=False, default=2), "max_gap_intervals",
                               1, 96),
        window=_int(_get(doc, "window", "", required=False, default=1000), "window", 1, 60_000),
        driver_factory=_str(_get(doc, "driver_factory", "", required=False, default=DEFAULT_DRIVER_FACTORY),
                            "driver_factory"),
        clock=_clock(doc.get("clock")),
    )


def load_bridge_config(path: str | Path) -> BridgeConfig:
    doc, base = _read_yaml(path)
    _unknown(doc, {"broker", "batch_size", "batch_wait_s", "dead_letter_path", "gateway"}, "")
    broker, client_id = _broker(_get(doc, "broker", ""), "broker.", "vpp-bridge")
    gateway = _map(_get(doc, "gateway", ""), "gateway")
    _unknown(gateway, {"base_url", "api_key_env"}, "gateway.")
    base_url = _str(_get(gateway, "base_url", "gateway."), "gateway.base_url")
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError("gateway.base_url: must start with http:// or https://", code="CONFIG_VALUE")
    key_env = _str(_get(gateway, "api_key_env", "gateway.", required=False, default="VPP_API_KEY"),
                   "gateway.api_key_env")
    api_key = os.environ.get(key_env, "")
    if not api_key:
        raise ConfigError(f"gateway.api_key_env: environment variable {key_env} is not set", code="CONFIG_MISSING")
    return BridgeConfig(
        broker=broker, client_id=client_id,
        dead_letter_path=_path(_get(doc, "dead_letter_path", ""), "dead_letter_path", base),
        base_url=base_url.rstrip("/"), api_key=api_key,
        batch_size=_int(_get(doc, "batch_size", "", required=False, default=200), "batch_size", 1, 1000),
        batch_wait_s=_number(_get(doc, "batch_wait_s", "", required=False, default=1.0), "batch_wait_s", 0.001),
    )
