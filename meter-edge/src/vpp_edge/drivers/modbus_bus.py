"""One Modbus bus = one pymodbus client + one asyncio.Lock, shared by every device on it.

Several devices may sit on one RS-485 line or behind one TCP gateway; a Modbus connection carries one request at a
time (pymodbus 3.16's server even answers one request per TCP read), so every request takes the bus lock. On a
serial line the bus also keeps the RTU silent interval between frames: 3.5 character times at the baud rate
(a fixed 1.75 ms above 19,200 baud, as the Modbus over serial line specification V1.02 §2.5.1.1 says).

A transport failure (connection refused or lost, timeout, serial error) raises TransportError; an exception
response of the device (``isError()``) raises DeviceError carrying the Modbus exception code. They are different
problems: the first is retried later, the second means the request or the map does not fit the device.
"""

from __future__ import annotations

import asyncio

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.framer import FramerType

from vpp_edge.errors import DeviceError, TransportError

EXCEPTION_NAMES = {1: "ILLEGAL_FUNCTION", 2: "ILLEGAL_DATA_ADDRESS", 3: "ILLEGAL_DATA_VALUE",
                   4: "SERVER_DEVICE_FAILURE", 5: "ACKNOWLEDGE", 6: "SERVER_DEVICE_BUSY", 8: "MEMORY_PARITY_ERROR",
                   10: "GATEWAY_PATH_UNAVAILABLE", 11: "GATEWAY_TARGET_FAILED_TO_RESPOND"}


def rtu_inter_frame_delay(baudrate: int, bytesize: int = 8, parity: str = "N", stopbits: int = 1) -> float:
    """Seconds of silence between RTU frames: 3.5 character times (start + data + parity + stop bits)."""
    if baudrate > 19_200:
        return 0.00175
    bits = 1 + bytesize + (0 if parity == "N" else 1) + stopbits
    return 3.5 * bits / baudrate


class ModbusDeviceError(DeviceError):
    """An exception response; `exception_code` is the Modbus exception code (2 = illegal data address, ...)."""

    def __init__(self, message: str, exception_code: int) -> None:
        super().__init__(message, code=f"MODBUS_{EXCEPTION_NAMES.get(exception_code, f'EXCEPTION_{exception_code}')}")
        self.exception_code = exception_code


class ModbusBus:
    def __init__(self, client, *, name: str, inter_frame_delay: float = 0.0) -> None:
        self.client = client
        self.name = name
        self.inter_frame_delay = inter_frame_delay
        self.lock = asyncio.Lock()
        self._quiet_until = 0.0

    @classmethod
    def tcp(cls, host: str, port: int = 502, *, timeout: float = 1.0, framer: FramerType = FramerType.SOCKET
            ) -> ModbusBus:
        # retries=0: a missed answer surfaces as one TransportError now; the poll loop decides when to try again.
        client = AsyncModbusTcpClient(host, port=port, timeout=timeout, retries=0, framer=framer,
                                      reconnect_delay=0.0)
        return cls(client, name=f"tcp://{host}:{port}")

    @classmethod
    def rtu(cls, port: str, *, baudrate: int = 9600, bytesize: int = 8, parity: str = "N", stopbits: int = 1,
            timeout: float = 1.0) -> ModbusBus:
        """`port` is a device path or any pyserial URL (``socket://127.0.0.1:5020`` tunnels RTU frames over TCP)."""
        client = AsyncModbusSerialClient(port, framer=FramerType.RTU, baudrate=baudrate, bytesize=bytesize,
                                         parity=parity, stopbits=stopbits, timeout=timeout, retries=0,
                                         reconnect_delay=0.0)
        return cls(client, name=f"rtu:{port}@{baudrate}",
                   inter_frame_delay=rtu_inter_frame_delay(baudrate, bytesize, parity, stopbits))

    async def read(self, function: str, address: int, count: int, unit_id: int) -> list[int]:
        """Read `count` holding or input registers of device `unit_id` from `address`."""
        async with self.lock:
            loop = asyncio.get_running_loop()
            wait = self._quiet_until - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                if not self.client.connected and not await self.client.connect():
                    raise TransportError(f"{self.name}: cannot connect")
                call = (self.client.read_holding_registers if function == "holding"
                        else self.client.read_input_registers)
                response = await call(address, count=count, device_id=unit_id)
            except (TimeoutError, ModbusException, OSError) as exc:
                raise TransportError(f"{self.name} unit {unit_id}: {type(exc).__name__}: {exc}") from exc
            finally:
                self._quiet_until = loop.time() + self.inter_frame_delay
        if response.isError():
            code = getattr(response, "exception_code", 0)
            raise ModbusDeviceError(f"{self.name} unit {unit_id}: exception {code} "
                                    f"({EXCEPTION_NAMES.get(code, 'unknown')}) reading {function} {address}+{count}",
                                    code)
        registers = response.registers
        if len(registers) != count:
            raise TransportError(f"{self.name} unit {unit_id}: asked {count} registers at {address}, "
                                 f"got {len(registers)}")
        return registers

    async def close(self) -> None:
        self.client.close()
