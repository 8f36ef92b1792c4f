"""A meter behind an optical head, on a pseudo-terminal, answering IEC 62056-21 mode C.

``start()`` opens a pty pair and serves the master side from a thread; drivers open ``path`` (the slave) with
pyserial as if it were /dev/ttyUSB0. A pty has no baud rate, so the switch after the option select only changes
the termios setting: the protocol (identification, acknowledgement, data message with BCC) is what is exercised.
The import and export registers integrate a household load and a PV plant on the injected clock (integer mWh on a
60-second grid), so they only increase.
"""

from __future__ import annotations

import os
import select
import termios
import threading
import tty
from dataclasses import dataclass, field

from vpp_edge.protocols.iec62056_21 import ACK, frame_data_message
from vpp_edge.simulators.devices import STEP, Integrator
from vpp_edge.simulators.load_profile import HouseholdLoad
from vpp_edge.simulators.solar import PvPlant


def reset_pty_line(fd: int) -> None:
    """A pty cannot keep parity: Linux clears PARENB, and a reader's next tcsetattr whose only change is PARENB then
    fails with EINVAL. Putting the line back to raw 8N1 at 38,400 baud after each message gives the next open a real
    change to make."""
    tty.setraw(fd)
    attrs = termios.tcgetattr(fd)
    attrs[2] = (attrs[2] & ~termios.CBAUD) | termios.B38400
    attrs[4] = attrs[5] = termios.B38400
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


@dataclass
class MeterRegisters:
    """Import follows the load, export a share of the PV plant (the surplus of a small roof)."""

    start: float
    load: HouseholdLoad
    pv: PvPlant
    import_mwh: int = 0
    export_mwh: int = 0
    grid: Integrator = field(init=False)

    def __post_init__(self) -> None:
        self.grid = Integrator(self.start)

    def at(self, now: float) -> tuple[int, int]:
        for t in self.grid.steps_until(now):
            self.import_mwh += self.load.power_w(t) * STEP * 1000 // 3600
            self.export_mwh += self.pv.power_w(t) * STEP * 1000 // 3600 // 2
        return self.import_mwh // 1000, self.export_mwh // 1000


def readout_block(serial_number: str, import_wh: int, export_wh: int) -> str:
    """A data block shaped like a Landis+Gyr E350 readout (F.F, C.1.0, 1.8.0, 2.8.0 ...)."""
    return ("F.F(00)\r\n"
            f"C.1.0({serial_number})\r\n"
            f"1.8.0({import_wh // 1000:06d}.{import_wh % 1000:03d}*kWh)\r\n"
            f"2.8.0({export_wh // 1000:06d}.{export_wh % 1000:03d}*kWh)\r\n"
            "C.7.0(0008)\r\n")


class OpticalMeterSimulator:
    def __init__(self, registers: MeterRegisters, clock, *, identification: str = "/LGZ4ZMF100AC.M26",
                 serial_number: str = "13647123") -> None:
        self.registers = registers
        self.clock = clock
        self.identification = identification
        self.serial_number = serial_number
        self.corrupt_bcc = False     # test switches
        self.truncate = False
        self.silent = False
        self.acknowledgements: list[bytes] = []
        self.path = ""
        self._master = self._slave = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> OpticalMeterSimulator:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self._thread = threading.Thread(target=self._serve, name="optical-head", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1

    def _serve(self) -> None:
        buffer = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                buffer += os.read(self._master, 1024)
            except OSError:
                return
            reset_pty_line(self._slave)
            while b"\r\n" in buffer:
                message, buffer = buffer.split(b"\r\n", 1)
                self._answer(message + b"\r\n")

    def _answer(self, message: bytes) -> None:
        if self.silent:
            return
        if message.startswith(b"/?") and message.endswith(b"!\r\n"):
            os.write(self._master, self.identification.encode("ascii") + b"\r\n")
        elif message.startswith(ACK):
            self.acknowledgements.append(message)
            import_wh, export_wh = self.registers.at(self.clock.now())
            frame = frame_data_message(readout_block(self.serial_number, import_wh, export_wh))
            if self.corrupt_bcc:
                frame = frame[:-1] + bytes([frame[-1] ^ 0x01])
            if self.truncate:
                frame = frame[: len(frame) // 2]
            os.write(self._master, frame)
