"""Wired M-Bus driver: SND_NKE, then REQ_UD2 to a primary address, one RSP_UD long frame back (2400 baud 8E1).

The frame is decoded by vpp_edge.protocols.mbus; each counter is picked by (tariff, storage, subunit), default
tariff 0 / storage 0 / subunit 0 (the current total). Meters that report only per-tariff registers need an explicit
selector, because summing tariffs is wrong for meters whose second "tariff" is a resettable partial counter.
"""

from __future__ import annotations

import asyncio
import logging
import termios

import serial

from vpp_edge.drivers.failures import FailureLog
from vpp_edge.errors import ParseError, TransportError
from vpp_edge.protocols.mbus import parse_long_frame, short_frame
from vpp_edge.sample import COUNTERS, Sample

log = logging.getLogger("vpp_edge.drivers.mbus")
ACK = 0xE5


class MBusDriver:
    def __init__(self, device: str, kind: str, port: str, primary_address: int, *,
                 selectors: dict[str, dict[str, int]] | None = None, baudrate: int = 2400, timeout: float = 2.0
                 ) -> None:
        if not 0 <= primary_address <= 250:
            raise ValueError("an M-Bus primary address is 0..250")
        selectors = selectors or {name: {} for name in COUNTERS.get(kind, {})}
        if set(selectors) != set(COUNTERS.get(kind, {})):
            raise ValueError(f"{device}: kind {kind!r} needs selectors for {sorted(COUNTERS.get(kind, {}))}")
        self.device = device
        self.kind = kind
        self.port = port
        self.address = primary_address
        self.selectors = selectors
        self.baudrate = baudrate
        self.timeout = timeout
        self.failures = FailureLog(log, device)
        self._fcb = False

    async def read(self, now: int) -> Sample:
        try:
            frame = parse_long_frame(await asyncio.to_thread(self._request))
            counters = {name: frame.energy_wh(**selector) for name, selector in self.selectors.items()}
        except (TransportError, ParseError) as exc:
            self.failures.failed(exc)
            raise
        self.failures.succeeded()
        serial_number = f"{frame.manufacturer}{frame.identification}" if frame.identification else None
        return Sample(device=self.device, kind=self.kind, taken_at=int(now), counters=counters, serial=serial_number)

    def _request(self) -> bytes:
        try:
            with serial.serial_for_url(self.port, baudrate=self.baudrate, bytesize=serial.EIGHTBITS,
                                       parity=serial.PARITY_EVEN, stopbits=serial.STOPBITS_ONE,
                                       timeout=self.timeout) as line:
                line.reset_input_buffer()
                line.write(short_frame(0x40, self.address))
                if line.read(1) != bytes([ACK]):
                    raise TransportError(f"{self.device}: no ACK to SND_NKE from address {self.address}")
                self._fcb = not self._fcb
                line.write(short_frame(0x7B if self._fcb else 0x5B, self.address))
                head = line.read(4)
                if len(head) < 4:
                    raise TransportError(f"{self.device}: no answer to REQ_UD2 from address {self.address}")
                if head[0] != 0x68:
                    raise ParseError(f"{self.device}: answer is not a long frame: {head.hex(' ')}")
                rest = line.read(head[1] + 2)
                return head + rest
        except (serial.SerialException, OSError, termios.error) as exc:
            raise TransportError(f"{self.device}: serial port {self.port}: {exc}") from exc

    async def close(self) -> None:
        """The port is opened per read."""
