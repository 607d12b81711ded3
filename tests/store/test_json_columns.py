"""JSON columns are read by orjson, and what only the standard library reads (NaN, Infinity) still reads."""

from __future__ import annotations

import math

from matching.store.engine import _json_deserializer


def test_codes_read_as_written() -> None:
    assert _json_deserializer('["english", "urdu"]') == ["english", "urdu"]
    assert _json_deserializer(b'{"a": [1, 2.5, null]}') == {"a": [1, 2.5, None]}


def test_what_the_standard_library_writes_and_orjson_refuses_still_reads() -> None:
    read = _json_deserializer('{"p": NaN, "q": Infinity}')
    assert math.isnan(read["p"])
    assert read["q"] == math.inf
