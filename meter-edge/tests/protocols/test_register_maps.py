"""Register maps are data, validated at load: a bad row is a ConfigError naming the map and the row."""

import copy
import json

import pytest
from vpp_edge.errors import ConfigError
from vpp_edge.maps import available_maps, load_map, parse_map
from vpp_edge.sample import COUNTERS

BASE = {"name": "test_map", "kinds": {"load": {"consumed_wh": "energy"}},
        "registers": [{"channel": "energy", "address": 100, "type": "u32", "unit": "kWh", "scale": -2},
                      {"channel": "power_w", "address": 102, "type": "s16", "unit": "W", "scale": "W_SF"},
                      {"channel": "W_SF", "address": 103, "type": "sunssf"}]}


def with_change(change) -> dict:
    doc = copy.deepcopy(BASE)
    change(doc)
    return doc


def test_shipped_maps_load_and_cover_their_kinds():
    assert available_maps() == ["eastron_sdm630", "sunspec_inverter_103", "sunspec_storage_802"]
    for name in available_maps():
        regmap = load_map(name)
        for kind, counters in regmap.kinds.items():
            assert set(counters) == set(COUNTERS[kind])
            for channel in counters.values():
                assert regmap.by_channel[channel].role == "counter"


def test_valid_map_parses_with_exponents():
    regmap = parse_map(BASE)
    energy = regmap.by_channel["energy"]
    assert (energy.length, energy.scale, energy.unit_exponent, energy.function) == (2, -2, 3, "holding")
    assert regmap.by_channel["power_w"].scale_ref == "W_SF"


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["registers"][1].update(address=101), "overlaps row 'energy'"),
    (lambda d: d["registers"][0].update(type="u24"), "row 0 (energy): unknown type 'u24'"),
    (lambda d: d["kinds"].update(load={"consumed_wh": "nowhere"}), "names channel 'nowhere', which no row defines"),
    (lambda d: d["kinds"].update(grid={"imported_wh": "energy"}), "kind 'grid' must name a row for each of"),
    (lambda d: d["kinds"].update(solar={"x": "energy"}), "unknown kind 'solar'"),
    (lambda d: d["registers"][1].update(scale="X_SF"), "row 1 (power_w): scale 'X_SF' names no sunssf row"),
    (lambda d: d["registers"][1].update(unit="kWh"), "row 1 (power_w): unit must be one of"),
    (lambda d: d["registers"][0].update(unit="W"), "row 0 (energy): unit must be one of"),
    (lambda d: d["registers"][0].update(scale=11), "scale must be a power of ten in -10..10"),
    (lambda d: d["registers"].append({"channel": "temperature", "address": 5, "type": "s16"}),
     "row 3 (temperature): channel is not a gauge"),
    (lambda d: d["registers"].append({"channel": "energy", "address": 5, "type": "u16"}), "duplicate channel"),
    (lambda d: d["registers"][0].update(address=65535), "runs past register 65535"),
    (lambda d: d["registers"][0].update(function="coil"), "function must be one of"),
    (lambda d: d["registers"][0].update(length=4), "u32 is 2 registers long"),
    (lambda d: d["registers"].append({"channel": "serial", "address": 0, "type": "string"}), "needs a length"),
    (lambda d: d["registers"][2].update(unit="W"), "row 2 (W_SF): a sunssf row takes no scale, unit or invert"),
    (lambda d: d.update(max_span=200), "max_span must be an integer in 1..125"),
    (lambda d: d.update(colour="blue"), "unknown keys ['colour']"),
])
def test_invalid_maps_are_config_errors_naming_map_and_row(change, message):
    with pytest.raises(ConfigError) as info:
        parse_map(with_change(change))
    assert "register map 'test_map'" in str(info.value)
    assert message in str(info.value)
    assert info.value.code == "CONFIG"


def test_same_address_in_other_function_table_is_no_overlap():
    doc = with_change(lambda d: d["registers"].append({"channel": "serial", "address": 100, "type": "u32",
                                                       "function": "input"}))
    assert parse_map(doc).by_channel["serial"].function == "input"


def test_load_map_from_a_file_and_unknown_name(tmp_path):
    path = tmp_path / "custom.json"
    path.write_text(json.dumps(BASE))
    assert load_map(path).name == "test_map"
    with pytest.raises(ConfigError, match="no register map 'sma_unknown'"):
        load_map("sma_unknown")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ConfigError, match="invalid JSON"):
        load_map(tmp_path / "broken.json")


def test_driver_kind_must_be_served_by_the_map():
    with pytest.raises(ConfigError, match="serves kinds"):
        load_map("sunspec_inverter_103").counters_for("battery")
