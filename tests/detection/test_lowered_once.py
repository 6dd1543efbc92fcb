"""A rule's repeated lowercasing done once matches the rows the rule matches."""

from __future__ import annotations

import polars as pl

from auditlake.detection import ir
from auditlake.detection.code import pl_
from auditlake.detection.lower import RUNTIME_ENV, lower
from auditlake.detection.lowered_once import PREFIX, lowered_once, lowered_once_all, lowerings

EVENTS = pl.DataFrame({
    "CommandLine": ["C:\\Users\\Bob\\Desktop\\x.EXE /ALL", "net VIEW", None, "c:\\users\\a", "\u212aelvin \u0130 /all"],
    "Image": ["C:\\Windows\\svchost.exe", "C:\\net.exe", "x", None, "\\WHOAMI.exe"],
})


def _leaf(field: str, op: str, *values: str) -> ir.Leaf:
    return ir.Leaf(field=field, op=op, values=values, cased=False)


def test_columns_lowercased_twice_are_read_from_their_copy_and_match_the_same_rows() -> None:
    condition = ir.Or(items=(
        ir.And(items=(_leaf("Image", "endswith", "\\svchost.exe"), _leaf("CommandLine", "contains", "c:\\users\\"),
                      _leaf("CommandLine", "contains", "\\desktop\\"))),
        ir.And(items=(_leaf("Image", "endswith", "\\whoami.exe"), _leaf("CommandLine", "contains", " /all"))),
        _leaf("Image", "endswith", "\\net.exe"),
    ))
    code = lower(condition, dict(EVENTS.schema))
    shared, columns = lowered_once(code)
    assert columns == ("CommandLine", "Image")
    source = shared.to_source()
    assert "to_lowercase" not in source and f'"{PREFIX}Image"'.replace("\x00", "\\x00") in source
    expected = EVENTS.filter(code.to_expr(RUNTIME_ENV))
    assert expected.height == 3
    assert EVENTS.with_columns(lowerings(columns)).filter(shared.to_expr(RUNTIME_ENV)).drop(
        [PREFIX + c for c in columns]).equals(expected)


def test_a_column_lowercased_once_is_left_as_it_is() -> None:
    code = pl_.col("Image").str.to_lowercase().str.ends_with("a") | pl_.col("CommandLine").str.contains("B")
    shared, columns = lowered_once(code)
    assert columns == () and shared is code


def test_expressions_side_by_side_share_a_column_each_lowercases_once() -> None:
    first = pl_.col("Image").str.to_lowercase().str.ends_with("\\svchost.exe")
    second = pl_.col("Image").str.to_lowercase().str.contains("whoami") | pl_.col("CommandLine").str.contains("x")
    (one, two), columns = lowered_once_all([first, second])
    assert columns == ("Image",)
    with_copies = EVENTS.with_columns(lowerings(columns))
    for shared, original in ((one, first), (two, second)):
        assert "to_lowercase" not in shared.to_source()
        assert with_copies.select(shared.to_expr(RUNTIME_ENV)).to_series().equals(
            EVENTS.select(original.to_expr(RUNTIME_ENV)).to_series()
        )
