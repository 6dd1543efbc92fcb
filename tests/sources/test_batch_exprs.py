"""What the batch paths rely on to find records DuckDB would spell its own way."""

from __future__ import annotations

import json
import math
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditlake.sources.batch_exprs import FLOAT_TOKENS, HEX_FLOAT_TOKENS, respelled

_FLOATS = st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not math.isnan(f))
_SCALARS = st.one_of(st.integers(-(2**63), 2**64 - 1), st.text(max_size=8), st.booleans(), st.none())


@st.composite
def _with_a_float(draw: st.DrawFn) -> str:
    """A JSON object with a float somewhere among other values, compact or spaced."""
    values: list[Any] = draw(st.lists(_SCALARS, max_size=4))
    values.insert(draw(st.integers(0, len(values))), draw(_FLOATS))
    nested = draw(st.sampled_from(["object", "array", "deep"]))
    if nested == "object":
        document: Any = {f"k{i}": v for i, v in enumerate(values)}
    elif nested == "array":
        document = {"a": values}
    else:
        document = {"a": [{"b": values}]}
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,\n", " :\t")]))
    return json.dumps(document, separators=separators)


def _flagged(texts: list[str], tokens: tuple[str, ...]) -> list[bool]:
    return pl.select(respelled(pl.lit(pl.Series(texts, dtype=pl.String)), tokens)).to_series().to_list()


@pytest.mark.parametrize("tokens", [FLOAT_TOKENS, HEX_FLOAT_TOKENS])
@given(texts=st.lists(_with_a_float(), min_size=1, max_size=5))
def test_every_float_in_a_record_is_found(tokens: tuple[str, ...], texts: list[str]) -> None:
    assert all(_flagged(texts, tokens))


def test_hex_digits_in_strings_are_not_taken_for_exponents() -> None:
    record = '{"Hashes":"MD5=24EDE6A46B4CB2424A23D5962217BEAD9E5,SHA256=2E44","ProcessId":4460,"List":[1,%s]}'
    assert _flagged([record % "3", record % "2e5"], FLOAT_TOKENS) == [True, True]
    assert _flagged([record % "3", record % "2e5"], HEX_FLOAT_TOKENS) == [False, True]
