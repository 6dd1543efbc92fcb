"""Rules held back from batch to batch (`DeferredRules`) match the rows they match batch by batch."""

from __future__ import annotations

from unittest.mock import patch

import polars as pl

from auditlake.detection import narrow_rules
from auditlake.detection.code import binop, pl_
from auditlake.detection.lower import RUNTIME_ENV
from auditlake.detection.lowered_once import PREFIX
from auditlake.detection.narrow_rules import BoundRule, DeferredRules, narrow_hits
from auditlake.detection.prefilter import ROW


def _batch(names: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"name": names, "uid": [f"{n}-{i}" for i, n in enumerate(names)]}).with_row_index(ROW)


def _pairs(rows_by_rule: dict[int, list[int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"rule": list(rows_by_rule), ROW: list(rows_by_rule.values())},
        schema={"rule": pl.UInt32, ROW: pl.List(pl.UInt32)},
    )


def _bound(*wanted: str) -> object:
    """Rule `n` matches rows whose name is `wanted[n]`."""
    def bound(index: int) -> BoundRule:
        return BoundRule(pl.col("name") == wanted[index], ["name"])
    return bound


def _add(deferred: DeferredRules, frame: pl.DataFrame, rows: dict[int, list[int]], owner: object, bound: object,
         keep: list[str] | None = None) -> pl.DataFrame | None:
    return deferred.add(frame, _pairs(rows), owner=owner, bound=bound, rule_ids=["first", "second"],  # type: ignore[arg-type]
                        id_column="rule_id", keep=keep or ["uid"])


def test_held_rows_of_several_batches_are_run_once_with_their_own_kept_columns() -> None:
    deferred = DeferredRules()
    bound = _bound("a", "b")
    one, two = _batch(["a", "x", "b", "a"]), _batch(["b", "a", "y"])
    assert _add(deferred, one, {0: [0, 1, 3], 1: [2]}, "plans", bound) is None
    assert _add(deferred, two, {0: [1, 2], 1: [0, 2]}, "plans", bound) is None
    assert deferred.held_rows == 4 + 3  # each batch's rows once, whatever the rules sharing them
    held = deferred.flush()
    assert held is not None and held.columns == ["uid", "rule_id"]
    assert sorted(held.rows()) == [("a-0", "first"), ("a-1", "first"), ("a-3", "first"),
                                   ("b-0", "second"), ("b-2", "second")]
    assert deferred.held_rows == 0 and deferred.flush() is None


def test_held_rows_are_run_under_their_own_rules_when_the_rules_or_kept_columns_change() -> None:
    deferred = DeferredRules()
    batch = _batch(["a", "b"])
    assert _add(deferred, batch, {0: [0, 1]}, "plans", _bound("a")) is None
    # Other plans (a schema that changed): the rows held so far are run under the old ones.
    earlier = _add(deferred, batch, {0: [0, 1]}, "other plans", _bound("b"))
    assert earlier is not None and earlier.rows() == [("a-0", "first")]
    # Other kept columns: the same.
    earlier = _add(deferred, batch, {0: [0, 1]}, "other plans", _bound("b"), keep=["name"])
    assert earlier is not None and earlier.rows() == [("b-1", "first")]
    last = deferred.flush()
    assert last is not None and last.rows() == [("b", "first")]


def test_rows_beyond_the_memory_bound_are_run_at_once() -> None:
    deferred = DeferredRules(max_bytes=1)
    now = _add(deferred, _batch(["a", "b"]), {0: [0], 1: [1]}, "plans", _bound("a", "b"))
    assert now is not None and sorted(now.rows()) == [("a-0", "first"), ("b-1", "second")]
    assert deferred.held_rows == 0 and deferred.flush() is None


def test_narrow_hits_name_each_rules_matching_rows_by_rank() -> None:
    frame = _batch(["a", "b", "a"])
    found = narrow_hits(_bound("a", "b"), frame, _pairs({0: [0, 1, 2], 1: [2]}))  # type: ignore[arg-type]
    assert sorted(found.rows()) == [(0, 0), (2, 0)]
    assert narrow_hits(_bound("a"), frame, _pairs({})).is_empty()  # type: ignore[arg-type]


def test_held_rows_count_the_buffers_they_keep_alive() -> None:
    """Two rows taken from a batch may point into its whole text buffer (10 MB here): held
    rows are measured by what they keep alive, so these are run at once, not kept."""
    names = ["a" * 100] * 100_000
    deferred = DeferredRules(max_bytes=2**20)
    now = _add(deferred, _batch(names), {0: [0, 1]}, "plans", _bound("a" * 100), keep=["name"])
    assert now is not None and now.height == 2
    assert deferred.held_rows == 0


def test_a_column_named_like_a_lowercased_copy_is_left_alone() -> None:
    clash = PREFIX + "name"
    frame = pl.DataFrame({"name": ["A", "b"], clash: ["x", "A"]}).with_row_index(ROW)
    text = pl_.col("name").str.to_lowercase()
    code = binop("==", text, "a") | binop("==", text, "q") | binop("==", pl_.col(clash), "A")
    rule = BoundRule(code.to_expr(RUNTIME_ENV), ["name", clash], lambda: code)
    with patch.object(narrow_rules, "LOWER_ONCE_ROWS", 0):
        found = narrow_hits(lambda _: rule, frame, _pairs({0: [0, 1]}))
    assert found[ROW].to_list() == [0, 1]
    assert rule.shared()[1] == ("name",)  # a copy was wanted, and not made over the column
