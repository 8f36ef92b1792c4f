"""Serial drivers over pseudo-terminals: the IEC 62056-21 optical head, the DSMR P1 port, a wired M-Bus master."""

import asyncio
import logging
import os
import select
import threading
import tty

import pytest
from vpp_edge.clock import AcceleratedClock
from vpp_edge.drivers.dsmr_p1 import P1Driver
from vpp_edge.drivers.iec62056_optical import OpticalHeadDriver
from vpp_edge.drivers.mbus_wired import MBusDriver
from vpp_edge.errors import ParseError, TransportError
from vpp_edge.protocols.mbus import short_frame
from vpp_edge.simulators.load_profile import HouseholdLoad
from vpp_edge.simulators.optical_head import MeterRegisters, OpticalMeterSimulator, reset_pty_line
from vpp_edge.simulators.p1_generator import P1PortSimulator, p1_telegram
from vpp_edge.simulators.solar import PvPlant

START = 1_750_464_000  # 2025-06-21 00:00 UTC


@pytest.fixture
def optical_meter():
    clock = AcceleratedClock(START + 8 * 3600, 3600)  # one simulated hour per real second, from 08:00
    sim = OpticalMeterSimulator(MeterRegisters(START, HouseholdLoad(seed=3), PvPlant(seed=3, clouds=False)),
                                clock).start()
    yield sim
    sim.stop()


async def test_optical_readout_switches_baud_and_counters_increase(optical_meter):
    driver = OpticalHeadDriver("meter-1", "grid", optical_meter.path, timeout=1.0, baud_switch_pause=0.01)
    first = await driver.read(100)
    await asyncio.sleep(0.3)
    second = await driver.read(200)
    assert optical_meter.acknowledgements == [bytes.fromhex("06 30 34 30 0d 0a")] * 2  # ACK 0 4 0: 4800 baud
    assert first.serial == "13647123"
    assert driver.last_identification.manufacturer == "LGZ"
    assert first.counters["imported_wh"] > 0 and first.counters["exported_wh"] > 0
    assert second.counters["imported_wh"] >= first.counters["imported_wh"]
    assert second.counters["exported_wh"] > first.counters["exported_wh"]   # a clear June morning


async def test_optical_readout_can_stay_at_300_baud(optical_meter):
    driver = OpticalHeadDriver("meter-1", "load", optical_meter.path, timeout=1.0, switch_baud=False)
    sample = await driver.read(0)
    assert optical_meter.acknowledgements == [bytes.fromhex("06 30 30 30 0d 0a")]
    assert set(sample.counters) == {"consumed_wh"}


async def test_optical_corrupt_truncated_and_silent_meters(optical_meter, caplog):
    caplog.set_level(logging.DEBUG, logger="vpp_edge.drivers.iec62056")
    driver = OpticalHeadDriver("meter-1", "grid", optical_meter.path, timeout=0.4, baud_switch_pause=0.01)
    optical_meter.corrupt_bcc = True
    with pytest.raises(ParseError, match="bad BCC"):
        await driver.read(0)
    optical_meter.corrupt_bcc, optical_meter.truncate = False, True
    with pytest.raises(ParseError, match="truncated"):
        await driver.read(0)
    optical_meter.truncate, optical_meter.silent = False, True
    with pytest.raises(TransportError, match="no identification"):
        await driver.read(0)
    optical_meter.silent = False
    await driver.read(0)
    levels = [r.levelno for r in caplog.records if r.name == "vpp_edge.drivers.iec62056"]
    assert levels == [logging.WARNING, logging.DEBUG, logging.DEBUG, logging.INFO]


async def test_p1_port_driver_reads_a_whole_telegram():
    clock = AcceleratedClock(START, 60)

    def telegram_at(now: float) -> str:
        wh = int(now - START) * 10  # grows with simulated time
        return p1_telegram(taken_at=now, equipment_id="E0043007", import_t1_wh=5_000_000 + wh, import_t2_wh=7,
                           export_t1_wh=wh // 2, export_t2_wh=0, power_w=-640)

    sim = P1PortSimulator(telegram_at, clock, interval=0.1).start()
    try:
        grid = P1Driver("p1", sim.path, timeout=2.0)
        first = await grid.read(1)
        second = await grid.read(2)
        load = await P1Driver("p1", sim.path, kind="load", timeout=2.0).read(3)
    finally:
        sim.stop()
    assert first.serial == "E0043007" and first.gauges == {"power_w": -640}
    assert first.counters["imported_wh"] >= 5_000_007
    assert second.counters["imported_wh"] > first.counters["imported_wh"]
    assert set(load.counters) == {"consumed_wh"}


async def test_p1_bad_crc_is_a_parse_error():
    clock = AcceleratedClock(START, 1)
    good = p1_telegram(taken_at=START, equipment_id="X", import_t1_wh=1, import_t2_wh=2, export_t1_wh=3,
                       export_t2_wh=4, power_w=0)
    sim = P1PortSimulator(lambda now: good.replace("000000.001", "000000.009"), clock, interval=0.1).start()
    try:
        with pytest.raises(ParseError, match="CRC mismatch"):
            await P1Driver("p1", sim.path, timeout=2.0).read(0)
    finally:
        sim.stop()


class FakeMBusSlave:
    """Answers SND_NKE with E5 and REQ_UD2 with a fixed long frame, on a pty."""

    def __init__(self, address: int, frame: bytes) -> None:
        self.address, self.frame = address, frame
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.slave = slave
        self.path = os.ttyname(slave)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        buffer = b""
        while not self.stop.is_set():
            if not select.select([self.master], [], [], 0.05)[0]:
                continue
            buffer += os.read(self.master, 64)
            reset_pty_line(self.slave)  # a pty drops parity: reset so the driver's next open succeeds
            while len(buffer) >= 5:
                request, buffer = buffer[:5], buffer[5:]
                if request == short_frame(0x40, self.address):
                    os.write(self.master, b"\xe5")
                elif request in (short_frame(0x5B, self.address), short_frame(0x7B, self.address)):
                    os.write(self.master, self.frame)

    def close(self):
        self.stop.set()
        self.thread.join()
        os.close(self.master)
        os.close(self.slave)


async def test_wired_mbus_driver_reads_the_finder_frame():
    # libmbus test/test-frames/FIN-Finder-7E.23.8.230.0020.hex: tariff 1 holds the total
    frame = bytes.fromhex(
        "68 38 38 68 08 19 72 07 62 00 23 2E 19 23 02 92 00 00 00 8C 10 04 68 28 17 00 8C 11 04 68 28 17 00 02 FD C9"
        " FF 01 E6 00 02 FD DB FF 01 06 00 02 AC FF 01 09 00 82 40 AC FF 01 FD FF 5B 16")
    slave = FakeMBusSlave(5, frame)
    try:
        driver = MBusDriver("finder", "load", slave.path, 5, selectors={"consumed_wh": {"tariff": 1}}, timeout=1.0)
        sample = await driver.read(0)
        with pytest.raises(TransportError, match="no ACK"):
            await MBusDriver("other", "load", slave.path, 6, timeout=0.3).read(0)
        with pytest.raises(ParseError, match="no energy record with tariff 0"):
            await MBusDriver("finder", "load", slave.path, 5, timeout=1.0).read(0)
    finally:
        slave.close()
    assert sample.counters == {"consumed_wh": 1_728_680}
    assert sample.serial == "FIN23006207"
