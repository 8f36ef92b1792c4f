"""Serve simulated devices over Modbus TCP (or RTU framing over TCP) on loopback with pymodbus 3.16.

Each simulated device becomes a pymodbus SimDevice with separate holding and input tables covering its register
map; on every request an action callback brings the device's model to the clock's current time and copies its
words into the table pymodbus answers from. Writes are refused. ``fault`` makes a unit answer every request with a
Modbus exception (for tests of device error handling).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from vpp_edge.simulators.devices import RegisterImage

FUNCTION_OF_CODE = {3: "holding", 4: "input"}


class Unit:
    """Something a server unit id answers from: a simulated device (``refresh(now) -> RegisterImage``) or a fixed
    RegisterImage (tests feed words in directly)."""

    def __init__(self, unit_id: int, source, clock=None) -> None:
        self.unit_id = unit_id
        self.source = source
        self.clock = clock
        self.fault: ExcCodes | None = None
        self.requests = 0

    def image(self) -> RegisterImage:
        if isinstance(self.source, RegisterImage):
            return self.source
        return self.source.refresh(self.clock.now())

    async def on_access(self, function_code, start_address, address, count, registers, set_values):
        self.requests += 1
        if self.fault is not None:
            return self.fault
        if set_values is not None:
            return ExcCodes.ILLEGAL_FUNCTION
        function = FUNCTION_OF_CODE.get(function_code)
        if function is None:
            return ExcCodes.ILLEGAL_FUNCTION
        words = self.image().words[function]
        registers[: len(words)] = words
        return None

    def sim_device(self) -> SimDevice:
        image = self.image()
        tables = []
        for function in ("holding", "input"):
            if function in image.words:
                tables.append([SimData(image.base[function], values=list(image.words[function]),
                                       datatype=DataType.REGISTERS)])
            else:
                tables.append([SimData(0, datatype=DataType.INVALID)])
        bits = SimData(0, values=False, datatype=DataType.BITS)
        return SimDevice(id=self.unit_id, simdata=([bits], [bits], tables[0], tables[1]), action=self.on_access)


@dataclass
class SimulatorServer:
    host: str
    port: int
    units: list[Unit]
    framer: FramerType = FramerType.SOCKET
    server: ModbusTcpServer | None = field(default=None, init=False)

    async def start(self) -> SimulatorServer:
        self.server = ModbusTcpServer([u.sim_device() for u in self.units], address=(self.host, self.port),
                                      framer=self.framer)
        await self.server.serve_forever(background=True)
        return self

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
            self.server = None

    def unit(self, unit_id: int) -> Unit:
        return next(u for u in self.units if u.unit_id == unit_id)


def quiet_pymodbus() -> None:
    """pymodbus logs every frame at DEBUG and a traceback per refused request; the simulator is not the place."""
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
