"""Configuration files are validated at load; an error names the field."""

from __future__ import annotations

import pytest
import yaml
from vpp_edge.config import load_bridge_config, load_edge_config
from vpp_edge.errors import ConfigError

GOOD = {
    "site": "site-1",
    "outbox_path": "var/outbox.db",
    "state_path": "var/state.db",
    "broker": {"host": "127.0.0.1", "port": 18830},
    "clock": {"kind": "accelerated", "start": 1_790_000_000, "anchor": 1_700_000_000, "factor": 60},
    "meters": [
        {"id": "m-pv", "kind": "generation", "interval": 900, "key": "keys/m-pv.key.pem",
         "modulus": 4294967296, "max_power_w": 8000, "driver": {"type": "sunspec", "host": "10.0.0.5"}},
        {"id": "m-grid", "kind": "grid", "interval": 300, "key": "/abs/m-grid.key.pem", "key_version": 2,
         "modulus": {"imported_wh": 100000000}},
    ],
}


def write(tmp_path, doc) -> str:
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_a_good_file_loads_with_paths_relative_to_it(tmp_path):
    config = load_edge_config(write(tmp_path, GOOD))
    assert config.site == "site-1" and config.client_id == "vpp-edge-site-1" and config.window == 1000
    assert config.outbox_path == tmp_path / "var/outbox.db"
    pv, grid = config.meters
    assert pv.key_path == tmp_path / "keys/m-pv.key.pem" and str(grid.key_path) == "/abs/m-grid.key.pem"
    assert pv.modulus == {"generated_wh": 2**32} and grid.modulus == {"imported_wh": 100_000_000}
    assert pv.driver == {"type": "sunspec", "host": "10.0.0.5"} and grid.key_version == 2
    assert pv.spec(config.max_gap_intervals).max_gap_s == 1800
    clock = config.clock.build()
    assert clock.factor == 60 and clock.now() > 1_790_000_000 + (1_790_000_000 - 1_700_000_000)  # anchored


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d.pop("site"), "site: required"),
    (lambda d: d["meters"][1].update(interval=600), "meters[1].interval"),
    (lambda d: d["meters"][0].update(kind="wind"), "meters[0].kind"),
    (lambda d: d["meters"][0].update(colour="red"), "meters[0].colour: unknown"),
    (lambda d: d["meters"][1].update(id="m-pv"), "meters[1].id"),
    (lambda d: d["meters"][0].update(id="a/b"), "meters[0].id"),
    (lambda d: d["meters"][0].update(modulus={"consumed_wh": 10}), "meters[0].modulus.consumed_wh"),
    (lambda d: d["broker"].update(port=70000), "broker.port"),
    (lambda d: d.update(window=100_000), "window"),
    (lambda d: d.update(clock={"kind": "sundial"}), "clock.kind"),
    (lambda d: d.update(meters=[]), "meters"),
])
def test_a_bad_field_is_named(tmp_path, change, field):
    doc = yaml.safe_load(yaml.safe_dump(GOOD))
    change(doc)
    with pytest.raises(ConfigError) as raised:
        load_edge_config(write(tmp_path, doc))
    assert field in str(raised.value) and str(raised.value).startswith("CONFIG")


def test_unreadable_or_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError) as raised:
        load_edge_config(tmp_path / "absent.yaml")
    assert raised.value.code == "CONFIG_FILE"
    (tmp_path / "bad.yaml").write_text("site: [unclosed")
    with pytest.raises(ConfigError) as raised:
        load_edge_config(tmp_path / "bad.yaml")
    assert raised.value.code == "CONFIG_SYNTAX"


def test_bridge_config_takes_the_api_key_from_the_environment_and_never_shows_it(tmp_path, monkeypatch):
    path = tmp_path / "bridge.yaml"
    path.write_text(yaml.safe_dump({"broker": {"port": 18830}, "dead_letter_path": "dead.db",
                                    "gateway": {"base_url": "http://127.0.0.1:8000/", "api_key_env": "TEST_KEY"}}))
    with pytest.raises(ConfigError) as raised:
        load_bridge_config(path)
    assert "TEST_KEY" in str(raised.value)
    monkeypatch.setenv("TEST_KEY", "s3cret-key-value")
    config = load_bridge_config(path)
    assert config.api_key == "s3cret-key-value" and config.base_url == "http://127.0.0.1:8000"
    assert "s3cret" not in repr(config) and config.batch_size == 200 and config.client_id == "vpp-bridge"
