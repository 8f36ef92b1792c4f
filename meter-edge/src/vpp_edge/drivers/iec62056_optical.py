"""IEC 62056-21 mode C readout through an optical head on a serial port (pyserial), wrapped for asyncio.

One readout is a short blocking conversation (request, identification, option select, data message), so it runs in a
worker thread (``asyncio.to_thread``) and the event loop never blocks on the serial line.

Baud rate: with ``switch_baud`` (default) the reader acknowledges with the identification's baud rate character and
both sides switch to it after the acknowledgement (mode C); without it, or when the meter announces a character
outside 0..6, the reader sends ``<ACK>000<CR><LF>`` and the readout stays at 300 baud.
"""

from __future__ import annotations

import asyncio
import logging
import termios
import time

import serial

from vpp_edge.drivers.failures import FailureLog
from vpp_edge.errors import DeviceError, ParseError, TransportError
from vpp_edge.protocols.iec62056_21 import (
    ETX,
    MODE_C_BAUD,
    Identification,
    Readout,
    energy_wh,
    option_select,
    parse_data_message,
    parse_identification,
    request,
)
from vpp_edge.sample import COUNTERS, Sample

log = logging.getLogger("vpp_edge.drivers.iec62056")

# Which OBIS code (C.D.E) feeds each counter: 1.8.0 = total active energy imported (A+), 2.8.0 = exported (A-).
DEFAULT_OBIS = {
    "grid": {"imported_wh": "1.8.0", "exported_wh": "2.8.0"},
    "load": {"consumed_wh": "1.8.0"},
    "generation": {"generated_wh": "2.8.0"},
}
MAX_MESSAGE = 16_384


def meter_serial(readout: Readout, identification: Identification) -> str:
    """The meter's serial number (C.1.0, 96.1.0 or 0.0.0 data set) or else its identification string."""
    for code in ("C.1.0", "96.1.0", "0.0.0", "0.0"):
        data_set = readout.find(code)
        if data_set is not None and data_set.value:
            return data_set.value
    return f"{identification.manufacturer}{identification.identification}"


class OpticalHeadDriver:
    def __init__(self, device: str, kind: str, port: str, *, obis: dict[str, str] | None = None,
                 switch_baud: bool = True, address: str = "", timeout: float = 5.0,
                 baud_switch_pause: float = 0.3) -> None:
        obis = obis if obis is not None else DEFAULT_OBIS.get(kind, {})
        if set(obis) != set(COUNTERS.get(kind, {})):
            raise ValueError(f"{device}: kind {kind!r} needs an OBIS code for {sorted(COUNTERS.get(kind, {}))}")
        self.device = device
        self.kind = kind
        self.port = port
        self.obis = obis
        self.switch_baud = switch_baud
        self.address = address
        self.timeout = timeout
        self.baud_switch_pause = baud_switch_pause
        self.failures = FailureLog(log, device)
        self.last_identification: Identification | None = None

    async def read(self, now: int) -> Sample:
        try:
            identification, frame = await asyncio.to_thread(self._exchange)
            readout = parse_data_message(frame)
            counters = {}
            for counter, code in self.obis.items():
                data_set = readout.find(code)
                if data_set is None:
                    raise DeviceError(f"{self.device}: the readout has no {code} for {counter}", code="OBIS_MISSING")
                counters[counter] = energy_wh(data_set)
        except (TransportError, DeviceError, ParseError) as exc:
            self.failures.failed(exc)
            raise
        self.failures.succeeded()
        self.last_identification = identification
        return Sample(device=self.device, kind=self.kind, taken_at=int(now), counters=counters,
                      serial=meter_serial(readout, identification))

    def _exchange(self) -> tuple[Identification, bytes]:
        try:
            with serial.serial_for_url(self.port, baudrate=300, bytesize=serial.SEVENBITS, parity=serial.PARITY_EVEN,
                                       stopbits=serial.STOPBITS_ONE, timeout=self.timeout) as line:
                line.reset_input_buffer()
                line.write(request(self.address))
                answer = line.read_until(b"\n", 64)
                if not answer:
                    raise TransportError(f"{self.device}: no identification from the meter on {self.port}")
                identification = parse_identification(answer)
                baud_char = identification.baud_char if self.switch_baud and identification.baud_char in MODE_C_BAUD \
                    else "0"
                line.write(option_select(baud_char))
                line.flush()
                if baud_char != "0":
                    time.sleep(self.baud_switch_pause)  # the meter switches 200-1500 ms after the acknowledgement
                    line.baudrate = MODE_C_BAUD[baud_char]
                frame = line.read_until(ETX, MAX_MESSAGE)
                if not frame.endswith(ETX):
                    raise ParseError(f"{self.device}: data message truncated ({len(frame)} bytes, no ETX before "
                                     "the timeout)")
                frame += line.read(1)
                return identification, frame
        except (serial.SerialException, OSError, termios.error) as exc:
            raise TransportError(f"{self.device}: serial port {self.port}: {exc}") from exc

    async def close(self) -> None:
        """The port is opened per readout."""
