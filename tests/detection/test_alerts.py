"""Detection alerts built for many rules at once carry each rule's own description."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from auditlake.detection.alerts import (
    ALERT_SCHEMA,
    RuleInfo,
    RunInfo,
    detection_alerts,
    event_alert_id,
    event_alert_ids,
    evidence_frame,
)

RUN = RunInfo(datetime(2026, 3, 9, tzinfo=UTC), "replay", "run-1")
RULES = {
    "r1": RuleInfo("r1", "First rule", "detection", "high", ("attack.t1003",), "ann"),
    "r2": RuleInfo("r2", "Second rule", "detection", None, (), None),
    "r3": RuleInfo("r3", "Not matched", "detection", "low", ("x",), "bob"),
}


def _evidence() -> pl.DataFrame:
    events = pl.DataFrame({
        "event_uid": ["e1", "e1", "e2", "e3"],
        "time": [datetime(2026, 3, 2, h, tzinfo=UTC) for h in (1, 1, 2, 3)],
        "source": ["windows.eventlog"] * 4,
        "ingested_at": [datetime(2026, 3, 2, 4, tzinfo=UTC)] * 4,
        "actor_name": ["alice", "alice", None, "carol"],
        "actor_id": ["S-1", "S-1", "S-2", None],
        "rule_id": ["r1", "r2", "r1", "r2"],
    })
    return evidence_frame(events).with_columns(events["rule_id"])


def test_each_alert_carries_its_own_rules_description_and_a_stable_id() -> None:
    alerts = detection_alerts(RULES, _evidence(), RUN)
    assert alerts.schema == ALERT_SCHEMA
    rows = alerts.select("alert_id", "rule_id", "rule_title", "level", "tags", "rule_author", "event_uids", "actor").rows()
    assert rows == [
        (event_alert_id("r1", "e1"), "r1", "First rule", "high", ["attack.t1003"], "ann", ["e1"], "alice"),
        (event_alert_id("r2", "e1"), "r2", "Second rule", None, [], None, ["e1"], "alice"),
        (event_alert_id("r1", "e2"), "r1", "First rule", "high", ["attack.t1003"], "ann", ["e2"], "S-2"),
        (event_alert_id("r2", "e3"), "r2", "Second rule", None, [], None, ["e3"], "carol"),
    ]
    assert set(alerts["run_id"]) == {"run-1"} and set(alerts["origin"]) == {"replay"}
    assert alerts["created_at"].to_list() == [RUN.created_at] * 4


def test_no_evidence_gives_no_alerts() -> None:
    assert detection_alerts(RULES, _evidence().head(0), RUN).is_empty()


UIDS = st.one_of(
    st.text(max_size=140),
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=140),
    st.sampled_from(["", "a b", "h#1", "x" * 128, "x" * 129, "6a5ce198-33ec-4202-ae5c-40c53077bd3c", "é"]),
)


@given(st.lists(st.tuples(st.sampled_from(["r1", "r2", "ruleé"]), UIDS), max_size=30))
def test_ids_built_in_polars_are_the_ids_of_each_pair(pairs: list[tuple[str, str]]) -> None:
    rule_ids = pl.Series([r for r, _ in pairs], dtype=pl.String)
    uids = pl.Series([u for _, u in pairs], dtype=pl.String)
    assert event_alert_ids(rule_ids, uids).to_list() == [event_alert_id(r, u) for r, u in pairs]


def test_ids_tell_apart_every_rule_and_event_even_when_an_event_id_is_not_plain() -> None:
    uids = ["e1", "e 1", "e\n1", "x" * 200, "x" * 201, "a:b", "#", ""]
    ids = {event_alert_id(rule, uid) for rule in ("r1", "r2") for uid in uids}
    assert len(ids) == 2 * len(uids)
    assert event_alert_id("r1", "e1").endswith(":e1") and "#" in event_alert_id("r1", "e 1")
    assert len(event_alert_id("r1", "x" * 10_000)) < 60
