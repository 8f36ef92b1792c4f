"""Settings read from the environment: the other organisations' peers for the Fabric backend."""

import pytest
from vpp_gateway.api.config import Config, ConfigError


def test_other_peers_are_parsed_with_optional_tls_parts():
    config = Config.from_env({"VPP_FABRIC_OTHER_PEERS": "127.0.0.1:9051|/tls/org2-ca.pem|peer0.org2, peer:7061"})
    assert config.fabric_other_peers == (("127.0.0.1:9051", "/tls/org2-ca.pem", "peer0.org2"), ("peer:7061", "", ""))
    assert Config.from_env({}).fabric_other_peers == ()


@pytest.mark.parametrize("raw", ["a|b|c|d", "|ca.pem|name"])
def test_a_malformed_peer_entry_is_a_clear_error(raw):
    with pytest.raises(ConfigError, match="VPP_FABRIC_OTHER_PEERS"):
        Config.from_env({"VPP_FABRIC_OTHER_PEERS": raw})
