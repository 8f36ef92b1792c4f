"""A Modbus device read through its register map: spans of registers in, one Sample out."""

from __future__ import annotations

import logging

from vpp_edge.drivers.failures import FailureLog
from vpp_edge.drivers.modbus_bus import ModbusBus
from vpp_edge.errors import DeviceError, TransportError
from vpp_edge.maps import RegisterMap, load_map
from vpp_edge.protocols.registers import decode_registers, plan_reads
from vpp_edge.sample import Sample

log = logging.getLogger("vpp_edge.drivers.modbus")


class ModbusDriver:
    """Implements the Driver protocol for one unit id on a (shared) ModbusBus."""

    def __init__(self, device: str, kind: str, bus: ModbusBus, unit_id: int, register_map: RegisterMap | str) -> None:
        self.device = device
        self.kind = kind
        self.bus = bus
        self.unit_id = unit_id
        self.map = register_map if isinstance(register_map, RegisterMap) else load_map(register_map)
        self._counter_by_channel = {channel: counter for counter, channel in self.map.counters_for(kind).items()}
        self.spans, self._placement = plan_reads(self.map)
        self.failures = FailureLog(log, device)

    async def read(self, now: int) -> Sample:
        try:
            words = [await self.bus.read(span.function, span.address, span.count, self.unit_id)
                     for span in self.spans]
            decoded = decode_registers(self.map, set(self._counter_by_channel), self._placement, words, self.device)
        except (TransportError, DeviceError) as exc:
            self.failures.failed(exc)
            raise
        self.failures.succeeded()
        counters = {self._counter_by_channel[channel]: value for channel, value in decoded.counters.items()}
        return Sample(device=self.device, kind=self.kind, taken_at=int(now), counters=counters,
                      gauges=decoded.gauges, serial=decoded.serial)

    async def close(self) -> None:
        """The bus is shared: whoever built it closes it."""
