"""What every evaluation path of the engine matches, checked to agree: for tests of semantics."""

from __future__ import annotations

from functools import partial

import polars as pl

from auditlake.detection import prefilter
from auditlake.detection.compile import CompiledRule
from auditlake.detection.evaluate import (
    RULE_ID_COLUMN,
    LateColumns,
    atom_columns,
    evaluate,
    evaluate_candidates,
)


def matched_by_every_path(rules: list[CompiledRule], frame: pl.DataFrame, source: str) -> set[tuple[str, str]]:
    """(event_uid, rule title) matched in `frame` (a lake partition's rows of `source`), the
    same by every path: every rule on every row, each rule on its candidate rows, with `raw`
    read late, and the scan filter of each rule's first necessary set."""
    titles = {rule.id: rule.title for rule in rules}
    late = LateColumns(pl.Schema({"raw": frame.schema["raw"]}), partial(_rows_of, frame.select("raw")))
    found = []
    for result in (
        evaluate(rules, frame.lazy(), source=source).collect(),
        evaluate_candidates(rules, frame, source=source),
        evaluate_candidates(rules, frame.drop("raw"), source=source, late=late),
    ):
        found.append({(uid, titles[rule]) for uid, rule in zip(result["event_uid"], result[RULE_ID_COLUMN], strict=True)})
    assert all(f == found[0] for f in found), found
    for plan in prefilter.plan_rules(rules, atom_columns(frame.schema, source), source):
        likely = prefilter.candidate_filter([plan])
        if likely is not None:  # the scan filter of the rule's first set keeps its matches
            kept = evaluate([plan.rule], frame.filter(likely).lazy(), source=source).collect()
            assert {(uid, plan.rule.title) for uid in kept["event_uid"]} == {
                m for m in found[0] if m[1] == plan.rule.title}
    return found[0]


def _rows_of(columns: pl.DataFrame, rows: pl.Series | None) -> pl.DataFrame:
    numbered = columns.with_row_index(prefilter.ROW)
    return numbered if rows is None else numbered[rows]
