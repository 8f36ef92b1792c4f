"""Drivers against an in-process pymodbus server on loopback: register words in, typed integers out."""

import asyncio
import logging
import math
import re
import struct

import pytest
from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from vpp_edge.drivers.modbus import ModbusDriver
from vpp_edge.drivers.modbus_bus import ModbusBus, ModbusDeviceError, rtu_inter_frame_delay
from vpp_edge.errors import DeviceError, TransportError
from vpp_edge.maps import load_map, parse_map
from vpp_edge.simulators.devices import RegisterImage
from vpp_edge.simulators.modbus_server import Unit


def inverter_image(**overrides) -> RegisterImage:
    image = RegisterImage(load_map("sunspec_inverter_103"))
    values = {"sunspec_marker": "SunS", "common_model_id": 1, "serial": "INV-0001", "inverter_model_id": 103,
              "current_ma": 1234, "A_SF": -2, "voltage_dv": 2301, "V_SF": -1, "power_w": 4321, "W_SF": 0,
              "frequency_mhz": 4998, "Hz_SF": -2, "WH": 123456, "WH_SF": 1}
    values.update(overrides)
    image.update(values)
    return image


def words_at(image: RegisterImage, function: str, address: int, count: int) -> list[int]:
    base = image.base[function]
    return image.words[function][address - base: address - base + count]


async def test_sunspec_inverter_words_to_integers(modbus_server):
    image = inverter_image()
    # the words as a device holds them: WH 123456 = 0x0001E240 high word first, WH_SF 1, W_SF 0
    assert words_at(image, "holding", 40094, 3) == [0x0001, 0xE240, 0x0001]
    assert words_at(image, "holding", 40000, 2) == [0x5375, 0x6E53]  # "SunS"
    server = await modbus_server([Unit(7, image)])
    bus = ModbusBus.tcp("127.0.0.1", server.port)
    driver = ModbusDriver("pv-1", "generation", bus, 7, "sunspec_inverter_103")
    sample = await driver.read(1_700_000_000)
    await bus.close()
    assert sample.counters == {"generated_wh": 1_234_560}          # 123456 × 10^1 Wh
    assert sample.gauges == {"power_w": 4321, "current_ma": 12_340,  # 12.34 A
                             "voltage_dv": 2301, "frequency_mhz": 49_980}
    assert sample.serial == "INV-0001"
    assert sample.taken_at == 1_700_000_000


async def test_negative_power_and_negative_scale_factor_round_half_away_from_zero(modbus_server):
    # W = -1235 with W_SF -1 → -123.5 W → -124 W; A = 5 with A_SF -3 → 0.005 A → 5 mA; WH_SF -1 → 123456 → 12346 Wh
    image = inverter_image(power_w=-1235, W_SF=-1, current_ma=5, A_SF=-3, WH=123456, WH_SF=-1)
    server = await modbus_server([Unit(1, image)])
    bus = ModbusBus.tcp("127.0.0.1", server.port)
    sample = await ModbusDriver("pv", "generation", bus, 1, "sunspec_inverter_103").read(0)
    await bus.close()
    assert sample.gauges["power_w"] == -124
    assert sample.gauges["current_ma"] == 5
    assert sample.counters["generated_wh"] == 12346


async def test_not_implemented_gauge_is_missing_and_counter_is_an_error(modbus_server):
    # 0x8000 in an s16 (W) and 0xFFFF in a u16 (Hz) mean "not implemented": no gauge, never a number
    image = inverter_image(power_w=-0x8000, frequency_mhz=0xFFFF)
    server = await modbus_server([Unit(1, image), Unit(2, inverter_image(WH=0xFFFFFFFF)),
                                  Unit(3, inverter_image(WH_SF=-0x8000))])
    bus = ModbusBus.tcp("127.0.0.1", server.port)
    sample = await ModbusDriver("pv", "generation", bus, 1, "sunspec_inverter_103").read(0)
    assert "power_w" not in sample.gauges and "frequency_mhz" not in sample.gauges
    assert sample.gauges["voltage_dv"] == 2301
    for unit in (2, 3):  # the counter itself, or its scale factor, not implemented
        with pytest.raises(DeviceError) as info:
            await ModbusDriver("pv", "generation", bus, unit, "sunspec_inverter_103").read(0)
        assert info.value.code == "VALUE_UNAVAILABLE"
    await bus.close()


async def test_map_mismatch_is_a_device_error(modbus_server):
    server = await modbus_server([Unit(1, inverter_image(inverter_model_id=101))])
    bus = ModbusBus.tcp("127.0.0.1", server.port)
    with pytest.raises(DeviceError) as info:
        await ModbusDriver("pv", "generation", bus, 1, "sunspec_inverter_103").read(0)
    await bus.close()
    assert info.value.code == "MAP_MISMATCH" and "103" in str(info.value)


async def test_sunspec_storage_u64_counters_soc_soh(modbus_server):
    image = RegisterImage(load_map("sunspec_storage_802"))
    image.update({"sunspec_marker": "SunS", "common_model_id": 1, "serial": "BAT-9", "ac_model_id": 701,
                  "battery_model_id": 802, "power_w": -2500, "W_SF": 0, "current_ma": -1087, "A_SF": -2,
                  "voltage_dv": 2300, "V_SF": -1, "frequency_mhz": 50_012, "Hz_SF": -3,
                  "TotWhInj": 5_000_000_000_123, "TotWhAbs": 6_000_000_000_456, "TotWh_SF": 0,
                  "soc_permille": 6543, "SoC_SF": -2, "soh_permille": 97, "SoH_SF": 0})
    assert words_at(image, "holding", 40089, 4) == list(struct.unpack(">4H", struct.pack(">Q", 5_000_000_000_123)))
    server = await modbus_server([Unit(1, image)])
    bus = ModbusBus.tcp("127.0.0.1", server.port)
    driver = ModbusDriver("bat", "battery", bus, 1, "sunspec_storage_802")
    assert len(driver.spans) == 2  # 40000-40096 and 40183-40283: max 125 registers per request
    sample = await driver.read(0)
    await bus.close()
    assert sample.counters == {"charged_wh": 6_000_000_000_456, "discharged_wh": 5_000_000_000_123}
    assert sample.gauges["soc_permille"] == 654   # 65.43 % → 654.3 ‰ → 654
    assert sample.gauges["soh_permille"] == 970
    assert sample.gauges["power_w"] == -2500
    assert sample.gauges["frequency_mhz"] == 50_012
    assert sample.gauges["current_ma"] == -10_870


def sdm630_image(import_kwh: float, export_kwh: float, power_w: float, serial: int = 12345678) -> RegisterImage:
    image = RegisterImage(load_map("eastron_sdm630"))
    image.update({"voltage_dv": 229.87, "current_ma": 1.2345, "power_w": power_w, "frequency_mhz": 50.02,
                  "import_kwh": import_kwh, "export_kwh": export_kwh, "serial": serial})
    return image


async def test_eastron_float32_input_registers_rounded_once_to_wh(modbus_server):
    image = sdm630_image(import_kwh=12345.678, export_kwh=0.0015, power_w=1500.5)
    # float32 12345.678 kWh, high word first, in the input table (function 04)
    assert words_at(image, "input", 72, 2) == list(struct.unpack(">2H", struct.pack(">f", 12345.678)))
    server = await modbus_server([Unit(1, image)])
    bus = ModbusBus.tcp("127.0.0.1", server.port)
    grid = await ModbusDriver("meter", "grid", bus, 1, "eastron_sdm630").read(0)
    load = await ModbusDriver("meter", "load", bus, 1, "eastron_sdm630").read(0)
    await bus.close()
    exact = struct.unpack(">f", struct.pack(">f", 12345.678))[0] * 1000  # the meter's own float32 resolution
    assert grid.counters == {"imported_wh": round(exact), "exported_wh": 2}   # 1.5 Wh → 2 (half away from zero)
    assert load.counters == {"consumed_wh": round(exact)}
    assert grid.gauges["power_w"] == -1501   # the meter counts import positive; the edge, export
    assert grid.gauges["voltage_dv"] == 2299 and grid.gauges["current_ma"] == 1235
    assert grid.gauges["frequency_mhz"] == 50_020
    assert grid.serial == "12345678"
    assert all(isinstance(v, int) for v in (*grid.counters.values(), *grid.gauges.values()))


async def test_float_nan_counter_is_an_error_and_nan_gauge_is_missing(modbus_server):
    server = await modbus_server([Unit(1, sdm630_image(math.nan, 1.0, 10.0)),
                                  Unit(2, sdm630_image(5.0, 1.0, math.inf))])
    bus = ModbusBus.tcp("127.0.0.1", server.port)
    with pytest.raises(DeviceError) as info:
        await ModbusDriver("m", "load", bus, 1, "eastron_sdm630").read(0)
    assert info.value.code == "VALUE_UNAVAILABLE"
    sample = await ModbusDriver("m", "load", bus, 2, "eastron_sdm630").read(0)
    await bus.close()
    assert "power_w" not in sample.gauges and sample.counters == {"consumed_wh": 5000}


async def test_little_endian_word_order(modbus_server):
    doc = {"name": "le_meter", "function": "holding", "word_order": "little",
           "kinds": {"load": {"consumed_wh": "energy"}},
           "registers": [{"channel": "energy", "address": 10, "type": "u32", "unit": "Wh"},
                         {"channel": "power_w", "address": 12, "type": "s32", "unit": "W", "scale": -1}]}
    regmap = parse_map(doc)
    image = RegisterImage(regmap)
    image.update({"energy": 0x00012345, "power_w": -12345})
    assert image.words["holding"][:2] == [0x2345, 0x0001]   # low word first
    server = await modbus_server([Unit(1, image)])
    bus = ModbusBus.tcp("127.0.0.1", server.port)
    sample = await ModbusDriver("m", "load", bus, 1, regmap).read(0)
    await bus.close()
    assert sample.counters == {"consumed_wh": 0x12345} and sample.gauges == {"power_w": -1235}


async def test_device_error_and_transport_failure_are_distinguished_and_logged_once(modbus_server, caplog):
    caplog.set_level(logging.DEBUG, logger="vpp_edge.drivers.modbus")
    unit = Unit(1, inverter_image())
    server = await modbus_server([unit])
    bus = ModbusBus.tcp("127.0.0.1", server.port, timeout=0.5)
    driver = ModbusDriver("pv-7", "generation", bus, 1, "sunspec_inverter_103")
    await driver.read(0)

    unit.fault = ExcCodes.DEVICE_BUSY
    for _ in range(3):
        with pytest.raises(ModbusDeviceError) as info:
            await driver.read(0)
    assert info.value.exception_code == 6 and info.value.code == "MODBUS_SERVER_DEVICE_BUSY"
    assert not isinstance(info.value, TransportError)
    unit.fault = None
    await driver.read(0)

    records = [r for r in caplog.records if r.name == "vpp_edge.drivers.modbus"]
    assert [r.levelno for r in records] == [logging.WARNING, logging.DEBUG, logging.DEBUG, logging.INFO]
    assert "recovered after 3" in records[-1].getMessage()

    caplog.clear()
    await server.stop()  # the device is gone: a transport failure, not a device error
    for _ in range(3):
        with pytest.raises(TransportError):
            await driver.read(0)
    records = [r for r in caplog.records if r.name == "vpp_edge.drivers.modbus"]
    assert [r.levelno for r in records] == [logging.WARNING, logging.DEBUG, logging.DEBUG]
    assert "TRANSPORT" in records[0].getMessage()
    await bus.close()


async def test_nothing_listening_is_a_transport_error(unused_port):
    bus = ModbusBus.tcp("127.0.0.1", unused_port(), timeout=0.3)
    with pytest.raises(TransportError):
        await ModbusDriver("pv", "generation", bus, 1, "sunspec_inverter_103").read(0)
    await bus.close()


async def test_unknown_address_answers_illegal_data_address(modbus_server):
    doc = {"name": "wrong", "kinds": {"load": {"consumed_wh": "e"}},
           "registers": [{"channel": "e", "address": 30000, "type": "u32", "unit": "Wh"}]}
    server = await modbus_server([Unit(1, inverter_image())])
    bus = ModbusBus.tcp("127.0.0.1", server.port)
    with pytest.raises(ModbusDeviceError) as info:
        await ModbusDriver("m", "load", bus, 1, parse_map(doc)).read(0)
    await bus.close()
    assert info.value.exception_code == 2 and info.value.code == "MODBUS_ILLEGAL_DATA_ADDRESS"


async def test_devices_share_one_bus_one_request_at_a_time(modbus_server):
    units = [Unit(u, inverter_image(WH=1000 * u)) for u in range(1, 6)]
    server = await modbus_server(units)
    bus = ModbusBus.tcp("127.0.0.1", server.port)
    drivers = [ModbusDriver(f"pv-{u.unit_id}", "generation", bus, u.unit_id, "sunspec_inverter_103") for u in units]
    in_flight = 0
    peak = 0
    read = bus.client.read_holding_registers

    async def counting(*args, **kwargs):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            return await read(*args, **kwargs)
        finally:
            in_flight -= 1

    bus.client.read_holding_registers = counting
    samples = await asyncio.gather(*(d.read(0) for d in drivers for _ in range(4)))
    await bus.close()
    assert peak == 1
    assert sorted({s.counters["generated_wh"] for s in samples}) == [10_000 * u for u in range(1, 6)]


async def test_rtu_framing_over_a_socket_with_inter_frame_delay(modbus_server):
    server = await modbus_server([Unit(3, inverter_image())], framer=FramerType.RTU)
    bus = ModbusBus.rtu(f"socket://127.0.0.1:{server.port}", baudrate=9600)
    assert bus.inter_frame_delay == pytest.approx(3.5 * 10 / 9600)   # 8N1: 10 bits per character
    driver = ModbusDriver("pv-rtu", "generation", bus, 3, "sunspec_inverter_103")
    loop = asyncio.get_running_loop()
    began = loop.time()
    first = await driver.read(0)
    second = await driver.read(0)
    elapsed = loop.time() - began
    await bus.close()
    assert first.counters == second.counters == {"generated_wh": 1_234_560}
    assert elapsed >= bus.inter_frame_delay  # the second frame waited for the silent interval


def test_inter_frame_delay_by_baud_rate():
    assert rtu_inter_frame_delay(9600, 8, "E", 1) == pytest.approx(3.5 * 11 / 9600)
    assert rtu_inter_frame_delay(2400, 8, "N", 2) == pytest.approx(3.5 * 11 / 2400)
    assert rtu_inter_frame_delay(115_200) == 0.00175


async def test_factory_shares_one_bus_per_endpoint_and_validates_settings(modbus_server):
    from vpp_edge.drivers import BusRegistry, create_driver
    from vpp_edge.errors import ConfigError

    server = await modbus_server([Unit(1, inverter_image()), Unit(2, sdm630_image(1.0, 0.0, 5.0))])
    buses = BusRegistry()
    pv = create_driver("pv", "generation", {"type": "modbus_tcp", "host": "127.0.0.1", "port": server.port,
                                            "unit_id": 1, "map": "sunspec_inverter_103"}, buses=buses)
    meter = create_driver("load", "load", {"type": "modbus_tcp", "host": "127.0.0.1", "port": server.port,
                                           "unit_id": 2, "map": "eastron_sdm630"}, buses=buses)
    assert pv.bus is meter.bus
    assert (await pv.read(0)).counters == {"generated_wh": 1_234_560}
    assert (await meter.read(0)).counters == {"consumed_wh": 1000}
    await pv.close()
    assert buses.users == {("tcp", "127.0.0.1", server.port): 1}
    await meter.close()
    assert buses.buses == {}
    for bad, message in [({"type": "zigbee"}, "driver type must be one of"),
                         ({"type": "modbus_tcp", "host": "h", "map": "m"}, "needs ['unit_id']"),
                         ({"type": "pulse", "path": "p", "counter": "c", "constant": "1 Wh/imp", "colour": 1},
                          "unknown pulse driver settings ['colour']"),
                         ({"type": "modbus_tcp", "host": "h", "unit_id": 1, "map": "nope"}, "no register map")]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            create_driver("m", "load", bad, buses=buses)
    assert buses.buses == {} and buses.users == {}  # the failed map left no bus behind
