"""The JSON used for Redis: fast, and exact for integers of any size."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.jsoncodec import dumpb, dumps, loads

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(_json)
def test_round_trip_equals_the_standard_library(value: Any) -> None:
    assert loads(dumps(value)) == json.loads(json.dumps(value)) == value
    assert json.loads(dumpb(value)) == value


@pytest.mark.parametrize("number", [2**63 - 1, 2**63, 2**64, 2**69, -(2**70), 10**40])
def test_big_integers_stay_integers(number: int) -> None:
    text = dumps({"paths": number})
    assert text == f'{{"paths":{number}}}'
    back = loads(text)["paths"]
    assert back == number and isinstance(back, int)


def test_bad_text_raises_the_standard_librarys_error() -> None:
    with pytest.raises(json.JSONDecodeError, match="Expecting"):
        loads('{"a": }')
