"""Write the seed corpora of the fuzz targets from the project's own test telegrams, frames and readings.

``python -m tests.fuzz.make_corpus`` (from the repository root) rewrites ``tests/fuzz/corpus/<target>/seed-*``;
files named ``regression-*`` (inputs that once crashed a parser) are kept. Each seed starts with the target's mode
byte (see each target's docstring).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CORPUS = HERE / "corpus"


def iec62056() -> dict[str, bytes]:
    sys.path.insert(0, str(ROOT / "meter-edge" / "tests" / "protocols"))
    from test_iec62056_21_readout import E350_DATA_MESSAGE, E350_IDENTIFICATION

    body = E350_DATA_MESSAGE[1: E350_DATA_MESSAGE.index(b"!\r\n\x03")]
    seeds = {"e350-raw": b"\x00" + E350_DATA_MESSAGE, "e350-framed": b"\x03" + body,
             "e350-identification": b"\x00" + E350_IDENTIFICATION}
    return seeds


def dsmr_p1() -> dict[str, bytes]:
    sys.path.insert(0, str(ROOT / "meter-edge" / "tests" / "protocols"))
    from test_dsmr_p1_telegrams import TELEGRAM_V4_2, TELEGRAM_V5

    return {"v5-raw": b"\x00" + TELEGRAM_V5.encode(), "v5-crc": b"\x01" + TELEGRAM_V5.encode(),
            "v4-raw": b"\x00" + TELEGRAM_V4_2.encode()}


def mbus() -> dict[str, bytes]:
    sys.path.insert(0, str(ROOT / "meter-edge" / "tests" / "protocols"))
    from test_mbus_frames import ELECTRICITY_METER_1, FINDER_7E, SAIA_ALE3

    seeds = {}
    for name, frame in (("finder-7e", FINDER_7E), ("saia-ale3", SAIA_ALE3), ("electricity-1", ELECTRICITY_METER_1)):
        seeds[f"{name}-raw"] = b"\x00" + frame
        seeds[f"{name}-body"] = b"\x01" + frame[4:-2]
    return seeds


def modbus_registers() -> dict[str, bytes]:
    from vpp_edge.maps import available_maps, load_map
    from vpp_edge.protocols.registers import encode_raw, plan_reads

    seeds = {}
    for number, name in enumerate(available_maps()):
        regmap = load_map(name)
        spans, placement = plan_reads(regmap)
        words = [[0] * span.count for span in spans]
        for row, index, at in placement:
            value = row.expect if row.role == "expect" else ("SN123" if row.type == "string" else
                                                              (-1 if row.type == "sunssf" else 1234))
            words[index][at: at + row.length] = encode_raw(row, value)
        flat = b"".join(w.to_bytes(2, "big") for span_words in words for w in span_words)
        for kind_index, _kind in enumerate(sorted(regmap.kinds)):
            seeds[f"{name}-{kind_index}"] = bytes([number, kind_index, 0]) + flat
    return seeds


def reading_payload() -> dict[str, bytes]:
    from tests.fuzz.targets.reading_payload import sign

    start = 1_789_990_200  # a 900-s boundary before the target's NOW
    envelope = {"meter": "fuzz-m", "key": 1, "start": start, "interval": 900}
    payloads = {
        "generation": {**envelope, "kind": "generation", "wh": 1200},
        "load": {**envelope, "kind": "load", "wh": 300},
        "battery": {**envelope, "kind": "battery", "charge_wh": 500, "discharge_wh": 0, "soc_permille": 640,
                    "soh_permille": 990},
        "grid": {**envelope, "kind": "grid", "import_wh": 10, "export_wh": 700},
    }
    seeds = {}
    for name, payload in payloads.items():
        seeds[f"{name}-signed"] = b"\x02" + json.dumps([sign(payload)]).encode()
        seeds[f"{name}-resign"] = b"\x03" + json.dumps(sign(payload)).encode()
    seeds["batch"] = b"\x02" + json.dumps([sign(p) for p in payloads.values()]).encode()
    return seeds


TARGETS = {"iec62056": iec62056, "dsmr_p1": dsmr_p1, "mbus": mbus, "modbus_registers": modbus_registers,
           "reading_payload": reading_payload}


def main() -> None:
    for target, make in TARGETS.items():
        folder = CORPUS / target
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("seed-*"):
            old.unlink()
        for name, data in make().items():
            (folder / f"seed-{name}").write_bytes(data)
        print(f"{target}: {len(list(folder.iterdir()))} files")


if __name__ == "__main__":
    main()
