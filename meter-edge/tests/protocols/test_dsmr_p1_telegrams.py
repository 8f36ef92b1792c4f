"""DSMR P1 telegrams: the test telegrams of dsmr_parser itself (github.com/ndokter/dsmr_parser,
test/example_telegrams.py: TELEGRAM_V5 of an Iskra AM550-style /ISk5\\2MT382-1000 meter with CRC 6EEE, and
TELEGRAM_V4_2 of a Kaifa /KFM5KAIFA-METER with CRC 6796), copied byte for byte."""

import pytest
from vpp_edge.errors import ParseError
from vpp_edge.protocols.dsmr import crc16, parse_telegram
from vpp_edge.simulators.p1_generator import p1_telegram

TELEGRAM_V5 = (
    "/ISk5\\2MT382-1000\r\n\r\n1-3:0.2.8(50)\r\n0-0:1.0.0(170102192002W)\r\n"
    "0-0:96.1.1(4B384547303034303436333935353037)\r\n1-0:1.8.1(000004.426*kWh)\r\n1-0:1.8.2(000002.399*kWh)\r\n"
    "1-0:2.8.1(000002.444*kWh)\r\n1-0:2.8.2(000000.000*kWh)\r\n0-0:96.14.0(0002)\r\n1-0:1.7.0(00.244*kW)\r\n"
    "1-0:2.7.0(00.000*kW)\r\n0-0:96.7.21(00013)\r\n0-0:96.7.9(00000)\r\n1-0:99.97.0(0)(0-0:96.7.19)\r\n"
    "1-0:32.32.0(00000)\r\n1-0:52.32.0(00000)\r\n1-0:72.32.0(00000)\r\n1-0:32.36.0(00000)\r\n"
    "1-0:52.36.0(00000)\r\n1-0:72.36.0(00000)\r\n0-0:96.13.0()\r\n1-0:32.7.0(0230.0*V)\r\n1-0:52.7.0(0230.0*V)\r\n"
    "1-0:72.7.0(0229.0*V)\r\n1-0:31.7.0(0.48*A)\r\n1-0:51.7.0(0.44*A)\r\n1-0:71.7.0(0.86*A)\r\n"
    "1-0:21.7.0(00.070*kW)\r\n1-0:41.7.0(00.032*kW)\r\n1-0:61.7.0(00.142*kW)\r\n1-0:22.7.0(00.000*kW)\r\n"
    "1-0:42.7.0(00.000*kW)\r\n1-0:62.7.0(00.000*kW)\r\n0-1:24.1.0(003)\r\n"
    "0-1:96.1.0(3232323241424344313233343536373839)\r\n0-1:24.2.1(170102161005W)(00000.107*m3)\r\n"
    "0-2:24.1.0(003)\r\n0-2:96.1.0()\r\n!6EEE\r\n"
)
TELEGRAM_V4_2 = (
    "/KFM5KAIFA-METER\r\n\r\n1-3:0.2.8(42)\r\n0-0:1.0.0(161113205757W)\r\n"
    "0-0:96.1.1(3960221976967177082151037881335713)\r\n1-0:1.8.1(001581.123*kWh)\r\n1-0:1.8.2(001435.706*kWh)\r\n"
    "1-0:2.8.1(000000.000*kWh)\r\n1-0:2.8.2(000000.000*kWh)\r\n0-0:96.14.0(0002)\r\n1-0:1.7.0(02.027*kW)\r\n"
    "1-0:2.7.0(00.000*kW)\r\n0-0:96.7.21(00015)\r\n0-0:96.7.9(00007)\r\n"
    "1-0:99.97.0(3)(0-0:96.7.19)(000104180320W)(0000237126*s)(000101000001W)(2147583646*s)(000102000003W)"
    "(2317482647*s)\r\n1-0:32.32.0(00000)\r\n1-0:52.32.0(00000)\r\n1-0:72.32.0(00000)\r\n1-0:32.36.0(00000)\r\n"
    "1-0:52.36.0(00000)\r\n1-0:72.36.0(00000)\r\n0-0:96.13.1()\r\n0-0:96.13.0()\r\n1-0:31.7.0(000*A)\r\n"
    "1-0:51.7.0(006*A)\r\n1-0:71.7.0(002*A)\r\n1-0:21.7.0(00.170*kW)\r\n1-0:22.7.0(00.000*kW)\r\n"
    "1-0:41.7.0(01.247*kW)\r\n1-0:42.7.0(00.000*kW)\r\n1-0:61.7.0(00.209*kW)\r\n1-0:62.7.0(00.000*kW)\r\n"
    "0-1:24.1.0(003)\r\n0-1:96.1.0(4819243993373755377509728609491464)\r\n"
    "0-1:24.2.1(161129200000W)(00981.443*m3)\r\n!6796\r\n"
)
# dsmr_parser's TELEGRAM_V3 (no CRC line: DSMR 3 had none)
TELEGRAM_V3_HEAD = "/ISk5\\2MT382-1000\r\n\r\n0-0:96.1.1(4B384547303034303436333935353037)\r\n"


def test_v5_telegram_counters_in_integer_wh():
    reading = parse_telegram(TELEGRAM_V5)
    assert reading.imported_wh == 4_426 + 2_399
    assert reading.exported_wh == 2_444
    assert reading.power_w == -244   # 0.244 kW imported: the edge counts export positive
    assert reading.serial == "K8EG004046395507"
    assert reading.header == "/ISk5\\2MT382-1000"


def test_v4_telegram_crc_and_values():
    assert crc16(TELEGRAM_V4_2[: TELEGRAM_V4_2.index("!") + 1]) == 0x6796
    reading = parse_telegram(TELEGRAM_V4_2)
    assert (reading.imported_wh, reading.exported_wh, reading.power_w) == (3_016_829, 0, -2027)


def test_bad_crc_truncated_and_crc_less_telegrams_are_rejected():
    with pytest.raises(ParseError, match="CRC mismatch"):
        parse_telegram(TELEGRAM_V5.replace("000004.426", "000004.427"))
    with pytest.raises(ParseError, match="CRC mismatch"):
        parse_telegram(TELEGRAM_V5.replace("!6EEE", "!6EEF"))
    with pytest.raises(ParseError, match="truncated"):
        parse_telegram(TELEGRAM_V5[:400])
    with pytest.raises(ParseError, match="no CRC"):
        parse_telegram(TELEGRAM_V3_HEAD + "1-0:1.8.1(12345.678*kWh)\r\n!\r\n")
    with pytest.raises(ParseError, match="no '/'"):
        parse_telegram("1-0:1.8.1(000004.426*kWh)\r\n!6EEE\r\n")


def test_a_malformed_line_with_a_valid_crc_is_not_silently_dropped():
    body = TELEGRAM_V5[: TELEGRAM_V5.index("!") + 1].replace("1-0:1.8.2(000002.399*kWh)", "1-0:1.8.2(00000x.399*kWh)")
    with pytest.raises(ParseError):
        parse_telegram(f"{body}{crc16(body):04X}\r\n")


def test_generated_telegram_has_a_valid_crc_and_round_trips():
    text = p1_telegram(taken_at=1_700_000_000, equipment_id="E0012345678", import_t1_wh=1_234_567,
                       import_t2_wh=89, export_t1_wh=1_000, export_t2_wh=2, power_w=1_500)
    reading = parse_telegram(text)
    assert (reading.imported_wh, reading.exported_wh, reading.power_w) == (1_234_656, 1_002, 1_500)
    assert reading.serial == "E0012345678"
