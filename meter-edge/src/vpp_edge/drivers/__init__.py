"""Meter drivers: each polls one device over its transport and returns a vpp_edge.sample.Sample.

``create_driver(device, kind, settings)`` is the edge configuration's default driver factory; ``settings`` is the
meter's ``driver:`` mapping, by ``type``:

    {type: modbus_tcp, host: 127.0.0.1, port: 502, unit_id: 1, map: sunspec_inverter_103, timeout: 1.0}
    {type: modbus_rtu, port: /dev/ttyUSB0, baudrate: 9600, parity: N, bytesize: 8, stopbits: 1, unit_id: 3,
     map: eastron_sdm630}
    {type: iec62056_21, port: /dev/ttyUSB1, obis: {imported_wh: 1.8.0, exported_wh: 2.8.0}, switch_baud: true}
    {type: dsmr_p1, port: /dev/ttyUSB2}
    {type: mbus, port: /dev/ttyUSB3, address: 5, selectors: {consumed_wh: {tariff: 1}}}
    {type: pulse, path: /sys/bus/counter/devices/counter0/count0/count, counter: generated_wh,
     constant: "10 Wh/imp", medium: electricity, initial_wh: 0}

Modbus devices with the same TCP endpoint or serial port share one ModbusBus (one client, one lock); the bus is
closed when its last driver closes.
"""

from __future__ import annotations

from collections.abc import Mapping

from vpp_edge.errors import ConfigError

_OPTIONAL = {
    "modbus_tcp": {"host", "port", "unit_id", "map", "timeout"},
    "modbus_rtu": {"port", "baudrate", "parity", "bytesize", "stopbits", "unit_id", "map", "timeout"},
    "iec62056_21": {"port", "obis", "switch_baud", "address", "timeout"},
    "dsmr_p1": {"port", "baudrate", "timeout"},
    "mbus": {"port", "address", "selectors", "baudrate", "timeout"},
    "pulse": {"path", "counter", "constant", "medium", "initial_wh"},
}
_REQUIRED = {"modbus_tcp": {"host", "unit_id", "map"}, "modbus_rtu": {"port", "unit_id", "map"},
             "iec62056_21": {"port"}, "dsmr_p1": {"port"}, "mbus": {"port", "address"},
             "pulse": {"path", "counter", "constant"}}


class BusRegistry:
    """Shares one ModbusBus per endpoint between the drivers the factory makes."""

    def __init__(self) -> None:
        self.buses: dict[tuple, object] = {}
        self.users: dict[tuple, int] = {}

    def acquire(self, key: tuple, make):
        if key not in self.buses:
            self.buses[key] = make()
            self.users[key] = 0
        self.users[key] += 1
        return self.buses[key]

    async def release(self, key: tuple) -> None:
        self.users[key] -= 1
        if self.users[key] == 0:
            bus = self.buses.pop(key)
            del self.users[key]
            await bus.close()


DEFAULT_BUSES = BusRegistry()


def create_driver(device: str, kind: str, settings: Mapping, *, buses: BusRegistry = DEFAULT_BUSES):
    from vpp_edge.drivers.dsmr_p1 import P1Driver
    from vpp_edge.drivers.iec62056_optical import OpticalHeadDriver
    from vpp_edge.drivers.mbus_wired import MBusDriver
    from vpp_edge.drivers.modbus import ModbusDriver
    from vpp_edge.drivers.modbus_bus import ModbusBus
    from vpp_edge.drivers.pulse import FilePulseSource, PulseDriver

    if not isinstance(settings, Mapping):
        raise ConfigError(f"meter {device}: driver settings must be a mapping")
    kind_of_driver = settings.get("type")
    if kind_of_driver not in _REQUIRED:
        raise ConfigError(f"meter {device}: driver type must be one of {sorted(_REQUIRED)}, got {kind_of_driver!r}")
    keys = set(settings) - {"type"}
    if missing := _REQUIRED[kind_of_driver] - keys:
        raise ConfigError(f"meter {device}: {kind_of_driver} driver needs {sorted(missing)}")
    if unknown := keys - _OPTIONAL[kind_of_driver]:
        raise ConfigError(f"meter {device}: unknown {kind_of_driver} driver settings {sorted(unknown)}")
    s = dict(settings)
    try:
        if kind_of_driver in ("modbus_tcp", "modbus_rtu"):
            if kind_of_driver == "modbus_tcp":
                key = ("tcp", s["host"], int(s.get("port", 502)))
                bus = buses.acquire(key, lambda: ModbusBus.tcp(s["host"], int(s.get("port", 502)),
                                                               timeout=float(s.get("timeout", 1.0))))
            else:
                key = ("rtu", s["port"])
                bus = buses.acquire(key, lambda: ModbusBus.rtu(
                    s["port"], baudrate=int(s.get("baudrate", 9600)), bytesize=int(s.get("bytesize", 8)),
                    parity=str(s.get("parity", "N")), stopbits=int(s.get("stopbits", 1)),
                    timeout=float(s.get("timeout", 1.0))))
            try:
                driver = ModbusDriver(device, kind, bus, int(s["unit_id"]), s["map"])
            except Exception:
                buses.users[key] -= 1  # nothing uses it after all: a bus never connected needs no closing
                if buses.users[key] == 0:
                    del buses.users[key], buses.buses[key]
                raise
            driver.close = lambda: buses.release(key)
            return driver
        if kind_of_driver == "iec62056_21":
            return OpticalHeadDriver(device, kind, s["port"], obis=s.get("obis"),
                                     switch_baud=bool(s.get("switch_baud", True)), address=str(s.get("address", "")),
                                     timeout=float(s.get("timeout", 5.0)))
        if kind_of_driver == "dsmr_p1":
            return P1Driver(device, s["port"], kind=kind, baudrate=int(s.get("baudrate", 115_200)),
                            timeout=float(s.get("timeout", 12.0)))
        if kind_of_driver == "mbus":
            return MBusDriver(device, kind, s["port"], int(s["address"]), selectors=s.get("selectors"),
                              baudrate=int(s.get("baudrate", 2400)), timeout=float(s.get("timeout", 2.0)))
        return PulseDriver(device, kind, s["counter"], FilePulseSource(s["path"]), str(s["constant"]),
                           medium=s.get("medium", "electricity"), initial_wh=int(s.get("initial_wh", 0)))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"meter {device}: {kind_of_driver} driver: {exc}") from exc
