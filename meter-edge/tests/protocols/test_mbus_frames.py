"""Wired M-Bus long frames from libmbus' test frames (github.com/rscada/libmbus, test/test-frames/*.hex), the
expected values taken from the matching *.norm.xml files of the same folder."""

import pytest
from vpp_edge.errors import ParseError
from vpp_edge.protocols.mbus import parse_long_frame, short_frame

# test/test-frames/FIN-Finder-7E.23.8.230.0020.hex
FINDER_7E = bytes.fromhex(
    "68 38 38 68 08 19 72 07 62 00 23 2E 19 23 02 92 00 00 00 8C 10 04 68 28 17 00 8C 11 04 68 28 17 00 02 FD C9 FF"
    " 01 E6 00 02 FD DB FF 01 06 00 02 AC FF 01 09 00 82 40 AC FF 01 FD FF 5B 16")
# test/test-frames/SBC_Saia-Burgess-ALE3.hex
SAIA_ALE3 = bytes.fromhex(
    "68 92 92 68 08 28 72 55 00 00 19 43 4C 16 02 BF 00 00 00 8C 10 04 93 02 00 00 8C 11 04 93 02 00 00 8C 20 04 06"
    " 00 00 00 8C 21 04 06 00 00 00 02 FD C9 FF 01 DF 00 02 FD DB FF 01 00 00 02 AC FF 01 00 00 82 40 AC FF 01 00 00"
    " 02 FD C9 FF 02 00 00 02 FD DB FF 02 00 00 02 AC FF 02 00 00 82 40 AC FF 02 00 00 02 FD C9 FF 03 00 00 02 FD DB"
    " FF 03 00 00 02 AC FF 03 00 00 82 40 AC FF 03 00 00 02 FF 68 00 00 02 AC FF 00 00 00 82 40 AC FF 00 00 00 01 FF"
    " 14 00 0A 16")
# test/test-frames/electricity-meter-1.hex
ELECTRICITY_METER_1 = bytes.fromhex(
    "68 92 92 68 08 01 72 3E 02 00 05 43 4C 12 02 13 00 00 00 8C 10 04 52 12 00 00 8C 11 04 52 12 00 00 8C 20 04 33"
    " 44 77 01 8C 21 04 33 44 77 01 02 FD C9 FF 01 ED 00 02 FD DB FF 01 20 00 02 AC FF 01 4F 00 82 40 AC FF 01 EE FF"
    " 02 FD C9 FF 02 E7 00 02 FD DB FF 02 23 00 02 AC FF 02 51 00 82 40 AC FF 02 F1 FF 02 FD C9 FF 03 E4 00 02 FD DB"
    " FF 03 45 00 02 AC FF 03 A0 00 82 40 AC FF 03 E0 FF 02 FF 68 00 00 02 AC FF 00 40 01 82 40 AC FF 00 BF FF 01 FF"
    " 13 04 D9 16")


def energy(frame):
    return [(r.storage, r.tariff, r.energy_wh()) for r in frame.energy_records()]


def test_finder_7e_header_and_energy():
    frame = parse_long_frame(FINDER_7E)
    assert (frame.identification, frame.manufacturer, frame.version, frame.medium, frame.access_number) == (
        "23006207", "FIN", 35, "electricity", 146)
    assert energy(frame) == [(0, 1, 1_728_680), (2, 1, 1_728_680)]        # norm.xml records 0 and 1
    assert frame.energy_wh(tariff=1) == 1_728_680
    voltage, current, power, power_l = frame.records[2:6]
    assert (voltage.quantity, voltage.mantissa, voltage.exponent) == ("voltage_v", 230, 0)
    assert (current.quantity, current.mantissa * 10**3 // 10**-current.exponent // 1) == ("current_a", 600)  # 0.6 A
    assert (power.quantity, power.mantissa * 10**power.exponent) == ("power_w", 90)
    assert (power_l.subunit, power_l.mantissa * 10**power_l.exponent) == (1, -30)     # norm.xml record 5


def test_saia_burgess_ale3_tariffs():
    frame = parse_long_frame(SAIA_ALE3)
    assert (frame.identification, frame.manufacturer) == ("19000055", "SBC")
    assert energy(frame) == [(0, 1, 2_930), (2, 1, 2_930), (0, 2, 60), (2, 2, 60)]


def test_electricity_meter_1_large_bcd_value():
    frame = parse_long_frame(ELECTRICITY_METER_1)
    assert frame.identification == "0500023E"   # hex digits, not BCD: kept as sent (norm.xml: 500023E)
    assert energy(frame) == [(0, 1, 12_520), (2, 1, 12_520), (0, 2, 17_744_330), (2, 2, 17_744_330)]


def test_missing_total_register_names_what_exists():
    with pytest.raises(ParseError, match=r"tariff/storage/subunit \[\(1, 0, 0\), \(1, 2, 0\)\]"):
        parse_long_frame(FINDER_7E).energy_wh()


def test_corrupt_frames_are_rejected():
    bad_checksum = FINDER_7E[:-2] + bytes([FINDER_7E[-2] ^ 0xFF]) + FINDER_7E[-1:]
    with pytest.raises(ParseError, match="checksum mismatch"):
        parse_long_frame(bad_checksum)
    flipped = bytearray(FINDER_7E)
    flipped[25] ^= 0x10  # a data byte of the energy value: the checksum catches it
    with pytest.raises(ParseError, match="checksum mismatch"):
        parse_long_frame(bytes(flipped))
    with pytest.raises(ParseError, match="truncated"):
        parse_long_frame(FINDER_7E[:30])
    with pytest.raises(ParseError, match="stop byte"):
        parse_long_frame(FINDER_7E[:-1] + b"\x17")
    with pytest.raises(ParseError, match="length fields differ"):
        parse_long_frame(FINDER_7E[:2] + b"\x39" + FINDER_7E[3:])
    with pytest.raises(ParseError, match="not an M-Bus long frame"):
        parse_long_frame(b"\x10\x5b\x01\x5c\x16\x00\x00\x00\x00")


def test_record_truncated_inside_a_valid_frame():
    # a frame whose last record promises 4 BCD bytes but carries 2, with a correct checksum and length
    body = bytes.fromhex("08 01 72 07 62 00 23 2E 19 23 02 92 00 00 00 0C 04 68 28")
    frame = bytes([0x68, len(body), len(body), 0x68]) + body + bytes([sum(body) & 0xFF, 0x16])
    with pytest.raises(ParseError, match="truncated: needs 4 data bytes"):
        parse_long_frame(frame)


def test_short_frames():
    assert short_frame(0x40, 0x01) == bytes.fromhex("10 40 01 41 16")   # SND_NKE
    assert short_frame(0x7B, 0xFE) == bytes.fromhex("10 7B FE 79 16")   # REQ_UD2 to the broadcast-reply address
