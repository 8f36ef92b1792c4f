"""IEC 62056-21 mode C messages against a real meter readout.

Source of the readout: a Landis+Gyr E350 (identification /LGZ4ZMF100AC.M26) as captured in the public repository
saliWd/strommesser, file pico_w/main_measure.py (function uart_ir_e350: its simulation branch returns the bytes
read from the meter's optical port: identification, then STX ... '!' CR LF ETX and the BCC 0x01). The same
sequence (/?! CR LF, ACK 0 0 0 CR LF) is described for this meter on the volkszaehler.org wiki page
hardware/channels/meters/power/edl-ehz/landisgyr_e350.
"""

import pytest
from vpp_edge.errors import ParseError
from vpp_edge.protocols.iec62056_21 import (
    REQUEST,
    DataSet,
    block_check,
    energy_wh,
    frame_data_message,
    option_select,
    parse_data_message,
    parse_identification,
    power_w,
)

E350_IDENTIFICATION = b"/LGZ4ZMF100AC.M26\r\n"
E350_DATA_MESSAGE = (
    b"\x02F.F(00)\r\n0.0(          120858)\r\nC.1.0(13647123)\r\nC.1.1(        )\r\n"
    b"1.8.1(042951.721*kWh)\r\n1.8.2(018609.568*kWh)\r\n2.8.1(000000.302*kWh)\r\n2.8.2(000010.188*kWh)\r\n"
    b"1.8.0(061561.289*kWh)\r\n2.8.0(000010.490*kWh)\r\n15.8.0(061571.780*kWh)\r\nC.7.0(0008)\r\n"
    b"32.7(241*V)\r\n52.7(243*V)\r\n72.7(242*V)\r\n31.7(000.35*A)\r\n51.7(000.52*A)\r\n71.7(000.47*A)\r\n"
    b"82.8.1(0000)\r\n82.8.2(0000)\r\n0.2.0(M26)\r\nC.5.0(0401)\r\n!\r\n\x03\x01"
)


def test_request_and_option_select_bytes():
    assert REQUEST == bytes.fromhex("2f 3f 21 0d 0a")
    assert option_select("0") == bytes.fromhex("06 30 30 30 0d 0a")   # stay at 300 baud, data readout
    assert option_select("4") == bytes.fromhex("06 30 34 30 0d 0a")   # switch to 4800 baud
    with pytest.raises(ValueError):
        option_select("A")


def test_identification_of_the_e350():
    ident = parse_identification(E350_IDENTIFICATION)
    assert (ident.manufacturer, ident.baud_char, ident.identification) == ("LGZ", "4", "ZMF100AC.M26")
    assert ident.mode_c_baudrate == 4800
    dsmr = parse_identification(b"/ISk5\\2MT382-1000\r\n")
    assert (dsmr.manufacturer, dsmr.baud_char, dsmr.enhanced) == ("ISk", "5", "\\2")
    for bad in (b"LGZ4ZMF100AC\r\n", b"/LG\r\n", b"/LGZ4ZMF100AC.M26"):
        with pytest.raises(ParseError):
            parse_identification(bad)


def test_real_readout_bcc_and_obis_values_in_integer_wh():
    readout = parse_data_message(E350_DATA_MESSAGE)
    assert energy_wh(readout.find("1.8.0")) == 61_561_289
    assert energy_wh(readout.find("2.8.0")) == 10_490
    assert energy_wh(readout.find("1.8.1")) + energy_wh(readout.find("1.8.2")) == 61_561_289
    assert readout.find("C.1.0").value == "13647123"
    assert readout.find("0.0").value == "120858"
    assert readout.find("32.7") == DataSet("32.7", "241", "V")
    assert readout.find("1.8.3") is None
    assert len(readout.data_sets) == 22


def test_corrupt_readouts_are_rejected():
    flipped = bytearray(E350_DATA_MESSAGE)
    flipped[40] ^= 0x01  # one bit in the data: the BCC no longer matches
    with pytest.raises(ParseError, match="bad BCC"):
        parse_data_message(bytes(flipped))
    with pytest.raises(ParseError, match="bad BCC"):
        parse_data_message(E350_DATA_MESSAGE[:-1] + b"\x02")
    with pytest.raises(ParseError, match="truncated"):
        parse_data_message(E350_DATA_MESSAGE[:300])
    with pytest.raises(ParseError, match="no BCC"):
        parse_data_message(E350_DATA_MESSAGE[:-1])
    with pytest.raises(ParseError, match="must start with STX"):
        parse_data_message(E350_DATA_MESSAGE[1:])
    garbled = frame_data_message("1.8.0(000001.000*kWh\r\n")
    with pytest.raises(ParseError, match="data line 1"):
        parse_data_message(garbled)


def test_energy_from_decimal_strings_exactly():
    assert energy_wh(DataSet("1.8.0", "015882.6927", "kWh")) == 15_882_693   # .7 Wh → nearest
    assert energy_wh(DataSet("1.8.0", "0000000.0005", "kWh")) == 1           # half → away from zero
    assert energy_wh(DataSet("1.8.0", "12.5", "MWh")) == 12_500_000
    assert energy_wh(DataSet("1.8.0", "999999999.999", "kWh")) == 999_999_999_999  # no float rounding at 10^12
    assert power_w(DataSet("16.7.0", "000028", "W")) == 28
    for bad in (DataSet("1.8.0", "12", "V"), DataSet("1.8.0", "x", "kWh"), DataSet("1.8.0", "-1", "kWh")):
        with pytest.raises(ParseError):
            energy_wh(bad)


def test_framing_round_trip():
    frame = frame_data_message("1-0:1.8.0*255(000123.456*kWh)\r\n1-0:2.8.0*255(000000.001*kWh)\r\n")
    assert frame[-1] == block_check(frame[1:-1])
    readout = parse_data_message(frame)
    assert energy_wh(readout.find("1.8.0")) == 123_456 and energy_wh(readout.find("2.8.0")) == 1
