"""Mutants of a rule, and the mutation test over rules/: every rule's cases must be sharp.

Sharp: taking out any one detection item or selection makes at least one case fail
(rules/README.md "Sharp cases"). The pack-wide test runs once per rule file, so each offender is
its own failure, with the case that would kill every surviving mutant.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.rulepack.builders import (
    OKTA,
    PACK,
    STOP_LOGGING,
    cloudtrail,
    okta,
    rule_doc,
    stop_logging_cases,
)

from auditlake.rulepack.layout import RuleFile, discover
from auditlake.rulepack.mutation import mutants
from auditlake.rulepack.sharpness import assess


def described(documents: list[dict]) -> list[tuple[str, str, str]]:
    return [(m.operator, m.describe(), m.effect) for m in mutants(documents)]


def test_items_alternatives_and_selections() -> None:
    detection = {
        "sel": {
            "eventSource": "s3.amazonaws.com",
            "eventName": "PutBucketPolicy",
            "errorCode|exists": False,
        },
        "sel_any": [{"userAgent|contains": "curl"}, {"userAgent|contains": "python"}],
        "keywords": ["a", "b"],
        "filter": {"userIdentity.type": "AWSService", "sourceIPAddress": "s3.amazonaws.com"},
        "condition": "sel and sel_any and not filter",
    }
    found = described([rule_doc(detection)])
    assert found == [
        ("drop-item", "drop `eventSource` from `sel`", "broader"),
        ("drop-item", "drop `eventName` from `sel`", "broader"),
        ("drop-item", "drop `errorCode|exists` from `sel`", "broader"),
        ("drop-selection", "drop `sel` from the condition", "broader"),
        ("drop-alternative", "drop alternative 1 from `sel_any`", "narrower"),
        ("drop-alternative", "drop alternative 2 from `sel_any`", "narrower"),
        ("drop-selection", "drop `sel_any` from the condition", "broader"),
        ("drop-item", "drop `userIdentity.type` from `filter`", "narrower"),
        ("drop-item", "drop `sourceIPAddress` from `filter`", "narrower"),
        ("drop-selection", "drop `filter` from the condition", "broader"),
    ]  # `keywords` is unused: dangling selections are not mutated


def test_mutants_change_only_what_they_describe() -> None:
    original = rule_doc(STOP_LOGGING)
    by_text = {m.describe(): m for m in mutants([original])}
    dropped = by_text["drop `filter_failed` from the condition"].documents[0]["detection"]
    assert dropped["condition"] == "selection_source and selection_event"
    assert dropped["filter_failed"] == STOP_LOGGING["filter_failed"]  # still defined, just unused
    assert original["detection"] == STOP_LOGGING  # the input is not touched


def test_quantifiers_are_expanded_before_dropping() -> None:
    detection = {"sel_a": {"x": 1}, "sel_b": {"y": 2}, "sel_c": {"z": 3}, "condition": "1 of sel_*"}
    by_text = {m.describe(): m for m in mutants([rule_doc(detection)])}
    assert (
        by_text["drop `sel_b` from the condition"].documents[0]["detection"]["condition"]
        == "sel_a or sel_c"
    )
    assert {m.effect for m in by_text.values()} == {"narrower"}


def test_nothing_to_drop_from_a_one_item_rule() -> None:
    assert (
        mutants([rule_doc({"selection": {"eventName": ["A", "B"]}, "condition": "selection"})])
        == []
    )
    assert mutants([rule_doc({"keywords": ["evil"], "condition": "keywords"})]) == []


def test_condition_lists_drop_a_whole_condition() -> None:
    detection = {"a": {"x": 1}, "b": {"y": 2}, "condition": ["a", "b"]}
    by_text = {m.describe(): m for m in mutants([rule_doc(detection)])}
    assert by_text["drop `a` from the condition"].documents[0]["detection"]["condition"] == ["b"]
    assert by_text["drop `a` from the condition"].effect == "narrower"


def test_correlations_mutate_their_referenced_rules() -> None:
    feeder = rule_doc(
        {
            "selection": {"eventType": "user.session.start", "outcome.result": "FAILURE"},
            "condition": "selection",
        },
        logsource=OKTA,
        name="failed",
    )
    correlation = rule_doc(
        None,
        correlation={
            "type": "event_count",
            "rules": ["failed"],
            "timespan": "5m",
            "group-by": ["client.ipAddress"],
            "condition": {"gte": 3},
        },
    )
    found = mutants([feeder, correlation])
    assert [m.describe() for m in found] == [
        "drop `eventType` from `selection` of failed",
        "drop `outcome.result` from `selection` of failed",
    ]
    assert all(m.correlation_input and m.document == 0 for m in found)
    assert found[0].documents[1] == correlation


def test_hints_ask_for_the_missing_case() -> None:
    by_text = {m.describe(): m for m in mutants([rule_doc(STOP_LOGGING)])}
    assert by_text["drop `filter_failed` from the condition"].hint() == (
        "add a miss_ case whose events the filter `filter_failed` excludes (and that satisfy the rest "
        "of the condition)"
    )
    assert by_text["drop `selection_source` from the condition"].hint() == (
        "add a miss_ case whose events fail `selection_source` but satisfy the rest of the condition"
    )


def test_sharp_cases_kill_every_mutant(write_rule) -> None:
    rule = discover(write_rule("aws_stop", [rule_doc(STOP_LOGGING)], stop_logging_cases())).rules[0]
    report = assess(rule)
    assert report.error is None and report.sharp
    assert {o.status for o in report.outcomes} == {"killed"} and len(report.outcomes) == 3
    assert {o.killed_by for o in report.outcomes} <= {c.name for c in rule.cases}


def test_a_vacuous_case_set_is_reported_as_surviving_mutants(write_rule) -> None:
    cases = {
        "match_stop.jsonl": [cloudtrail("StopLogging")],
        "miss_unrelated.jsonl": [cloudtrail("GetObject")],
    }
    rule = discover(write_rule("aws_stop", [rule_doc(STOP_LOGGING)], cases)).rules[0]
    report = assess(rule)
    assert not report.sharp
    assert sorted(o.mutant.describe() for o in report.survivors) == [
        "drop `filter_failed` from the condition",
        "drop `selection_source` from the condition",
    ]
    assert [o.killed_by for o in report.outcomes if o.status == "killed"] == [
        "miss_unrelated.jsonl"
    ]


def test_a_correlation_with_a_vacuous_miss_case_keeps_its_mutants(write_rule) -> None:
    feeder = rule_doc(
        {
            "selection": {"eventType": "user.session.start", "outcome.result": "FAILURE"},
            "condition": "selection",
        },
        logsource=OKTA,
        name="okta_failed",
    )
    correlation = rule_doc(
        None,
        correlation={
            "type": "event_count",
            "rules": ["okta_failed"],
            "timespan": "10m",
            "group-by": ["client.ipAddress"],
            "condition": {"gte": 3},
        },
    )
    cases = {
        "match_three.jsonl": [okta(u, minute=i) for i, u in enumerate("abc")],
        "miss_two.jsonl": [okta(u, minute=i) for i, u in enumerate("ab")],
    }
    rule = discover(write_rule("okta_spray", [feeder, correlation], cases, folder="okta")).rules[0]
    report = assess(rule)
    assert [o.status for o in report.outcomes] == ["survived", "survived"]
    assert (
        "enough of them to reach the correlation's threshold" in report.survivors[0].mutant.hint()
    )


def test_a_rule_failing_its_own_cases_is_not_mutated(write_rule) -> None:
    cases = {
        "match_wrong.jsonl": [cloudtrail("GetObject")],
        "miss_a.jsonl": [cloudtrail("StartLogging")],
    }
    report = assess(discover(write_rule("aws_stop", [rule_doc(STOP_LOGGING)], cases)).rules[0])
    assert report.outcomes == () and "fails its own case match_wrong.jsonl" in (report.error or "")


def _pack_rules() -> list[RuleFile]:
    return list(discover(PACK).rules) if PACK.is_dir() else []


@pytest.mark.parametrize(
    "rule",
    _pack_rules() or [pytest.param(None, marks=pytest.mark.skip("rules/ has no rules yet"))],
    ids=lambda r: str(r.path.relative_to(PACK)) if isinstance(r, RuleFile) else "none",
)
def test_every_rule_in_the_pack_has_sharp_cases(rule: RuleFile) -> None:
    report = assess(rule)
    problems = [report.error] if report.error else []
    problems += [f"{o.mutant.describe()} survives: {o.mutant.hint()}" for o in report.survivors]
    problems += [f"{o.mutant.describe()} does not compile: {o.message}" for o in report.stillborn]
    assert not problems, f"{Path(rule.path).relative_to(PACK.parent)}:\n  " + "\n  ".join(problems)
