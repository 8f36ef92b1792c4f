"""DSMR P1 port driver: read the next complete telegram from the serial port (115200 8N1), check and parse it.

The meter pushes a telegram every second (DSMR 5) or ten (DSMR 4); ``read`` discards bytes until a '/' header and
collects up to the CRC line, in a worker thread so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import logging
import re
import termios

import serial

from vpp_edge.drivers.failures import FailureLog
from vpp_edge.errors import ParseError, TransportError
from vpp_edge.protocols.dsmr import parse_telegram
from vpp_edge.sample import Sample

log = logging.getLogger("vpp_edge.drivers.dsmr_p1")
_END = re.compile(rb"![0-9A-Fa-f]{4}\r\n")
MAX_TELEGRAM = 8192


class P1Driver:
    def __init__(self, device: str, port: str, *, kind: str = "grid", baudrate: int = 115_200,
                 timeout: float = 12.0) -> None:
        if kind not in ("grid", "load"):
            raise ValueError("a P1 port measures a grid connection (or a load behind it)")
        self.device = device
        self.kind = kind
        self.port = port
        self.baudrate = baudrate
        self.timeout = timeout
        self.failures = FailureLog(log, device)

    async def read(self, now: int) -> Sample:
        try:
            reading = parse_telegram(await asyncio.to_thread(self._next_telegram))
        except (TransportError, ParseError) as exc:
            self.failures.failed(exc)
            raise
        self.failures.succeeded()
        counters = ({"imported_wh": reading.imported_wh, "exported_wh": reading.exported_wh} if self.kind == "grid"
                    else {"consumed_wh": reading.imported_wh})
        gauges = {} if reading.power_w is None else {"power_w": reading.power_w}
        return Sample(device=self.device, kind=self.kind, taken_at=int(now), counters=counters, gauges=gauges,
                      serial=reading.serial)

    def _next_telegram(self) -> str:
        try:
            with serial.serial_for_url(self.port, baudrate=self.baudrate, timeout=self.timeout) as line:
                line.reset_input_buffer()  # a telegram already half sent would be truncated: wait for the next
                data = b""
                while True:
                    chunk = line.read_until(b"\n", MAX_TELEGRAM)
                    if not chunk:
                        raise TransportError(f"{self.device}: no telegram on {self.port} within {self.timeout} s")
                    data = chunk if chunk.startswith(b"/") else (data + chunk if data else b"")
                    if data and _END.search(data):
                        return data.decode("ascii", errors="replace")
                    if len(data) > MAX_TELEGRAM:
                        raise ParseError(f"{self.device}: telegram longer than {MAX_TELEGRAM} bytes")
        except (serial.SerialException, OSError, termios.error) as exc:
            raise TransportError(f"{self.device}: serial port {self.port}: {exc}") from exc

    async def close(self) -> None:
        """The port is opened per read."""
