"""orjson and the standard library write the same canonical bytes for everything the contract stores or signs."""

import dataclasses
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from vpp_contract.canonical import canonical, canonical_stdlib

scalars = st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.text()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner,
                                                                                                max_size=5),
                      max_leaves=30)


@settings(max_examples=400, deadline=None)
@given(values)
def test_same_bytes_as_the_standard_library(value):
    assert canonical(value) == canonical_stdlib(value)


def test_awkward_text_and_types_still_match():
    for value in ["\x00\x1f\u2028\ud7ff\U0010ffff", {"é": 1, "e": 2, "\U0001f600": 3, "\uffff": 4},
                  2**70, {1: "int key"}, True, [None, False]]:
        assert canonical(value) == canonical_stdlib(value)


def test_what_json_refuses_stays_refused():
    @dataclasses.dataclass
    class Point:
        x: int

    for bad in (Point(1), {"a": {1, 2}}, b"bytes"):
        try:
            canonical_stdlib(bad)
        except TypeError:
            pass
        else:  # pragma: no cover - the premise of the test
            raise AssertionError("the standard library accepted it")
        try:
            canonical(bad)
        except TypeError:
            continue
        raise AssertionError(f"canonical accepted {bad!r}")


def test_the_stored_form_is_compact_sorted_utf8():
    assert canonical({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()
    assert json.loads(canonical({"b": [1, 2]})) == {"b": [1, 2]}
