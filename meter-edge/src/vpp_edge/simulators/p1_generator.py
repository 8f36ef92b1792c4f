"""DSMR 5 P1 telegrams with a valid CRC, and a pseudo-terminal that pushes one per interval like a smart meter.

The telegram layout follows the P1 companion standard 5.0.2 (header, 1-3:0.2.8 version 50, timestamp, equipment id,
tariff registers 1.8.1/1.8.2/2.8.1/2.8.2 in kWh with three decimals, 1.7.0/2.7.0 in kW, '!' and CRC16 in four
upper-case hex digits).
"""

from __future__ import annotations

import binascii
import os
import threading
import tty
from datetime import UTC, datetime

from vpp_edge.protocols.dsmr import crc16


def _kwh(wh: int) -> str:
    return f"{wh // 1000:06d}.{wh % 1000:03d}"


def _kw(w: int) -> str:
    return f"{w // 1000:02d}.{w % 1000:03d}"


def p1_telegram(*, taken_at: float, equipment_id: str, import_t1_wh: int, import_t2_wh: int, export_t1_wh: int,
                export_t2_wh: int, power_w: int, header: str = "/ISK5\\2M550T-1012") -> str:
    """`power_w` + export / - import (the edge's convention) is split into 1.7.0 and 2.7.0."""
    stamp = datetime.fromtimestamp(taken_at, UTC).strftime("%y%m%d%H%M%S") + "W"
    body = (f"{header}\r\n\r\n"
            "1-3:0.2.8(50)\r\n"
            f"0-0:1.0.0({stamp})\r\n"
            f"0-0:96.1.1({binascii.hexlify(equipment_id.encode()).decode().upper()})\r\n"
            f"1-0:1.8.1({_kwh(import_t1_wh)}*kWh)\r\n"
            f"1-0:1.8.2({_kwh(import_t2_wh)}*kWh)\r\n"
            f"1-0:2.8.1({_kwh(export_t1_wh)}*kWh)\r\n"
            f"1-0:2.8.2({_kwh(export_t2_wh)}*kWh)\r\n"
            "0-0:96.14.0(0002)\r\n"
            f"1-0:1.7.0({_kw(max(0, -power_w))}*kW)\r\n"
            f"1-0:2.7.0({_kw(max(0, power_w))}*kW)\r\n"
            "!")
    return f"{body}{crc16(body):04X}\r\n"


class P1PortSimulator:
    """Writes `telegram_at(now)` to the master side of a pty every `interval` real seconds."""

    def __init__(self, telegram_at, clock, interval: float = 1.0) -> None:
        self.telegram_at = telegram_at
        self.clock = clock
        self.interval = interval
        self.path = ""
        self._master = self._slave = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> P1PortSimulator:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self._thread = threading.Thread(target=self._run, name="p1-port", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                os.write(self._master, self.telegram_at(self.clock.now()).encode("ascii"))
            except OSError:
                return
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1
