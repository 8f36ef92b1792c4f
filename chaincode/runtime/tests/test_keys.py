import pytest
from fabric_ccaas.errors import KeyValidationError
from fabric_ccaas.keys import create_composite_key, split_composite_key, validate_simple_keys


def test_composite_key_layout_matches_fabric():
    assert create_composite_key("lot", ["alice", "0001"]) == "\x00lot\x00alice\x000001\x00"
    assert create_composite_key("lot", []) == "\x00lot\x00"


def test_split_is_the_inverse_of_create():
    key = create_composite_key("reading", ["meter-1", "2026-11-23T10:15Z", ""])
    assert split_composite_key(key) == ("reading", ["meter-1", "2026-11-23T10:15Z", ""])


@pytest.mark.parametrize("bad", ["a\x00b", "x\U0010ffff"])
def test_parts_with_delimiter_runes_are_rejected(bad):
    with pytest.raises(KeyValidationError, match="not allowed"):
        create_composite_key("t", [bad])
    with pytest.raises(KeyValidationError):
        create_composite_key(bad, [])


def test_lone_surrogates_are_not_utf8():
    with pytest.raises(KeyValidationError, match="utf8"):
        create_composite_key("t", ["\ud800"])


def test_split_rejects_simple_and_malformed_keys():
    with pytest.raises(KeyValidationError):
        split_composite_key("plain")
    with pytest.raises(KeyValidationError):
        split_composite_key("\x00type-without-terminator")


def test_range_keys_must_not_be_composite():
    validate_simple_keys("a", "", "b")
    with pytest.raises(KeyValidationError, match="null character"):
        validate_simple_keys("\x00lot\x00")
