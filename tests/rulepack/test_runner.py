"""Cases are ingested alone, judged against the last document, and failures are explained."""

from __future__ import annotations

from pathlib import Path

from tests.rulepack.builders import (
    OKTA,
    STOP_LOGGING,
    cloudtrail,
    okta,
    rule_doc,
    stop_logging_cases,
)

from auditlake.rulepack.layout import discover
from auditlake.rulepack.runner import RuleResult, run_rule

FAILED_SIGNIN = {
    "selection": {"eventType": "user.session.start", "outcome.result": "FAILURE"},
    "condition": "selection",
}
SPRAY = {
    "type": "value_count",
    "rules": ["okta_failed_signin"],
    "group-by": ["client.ipAddress"],
    "timespan": "10m",
    "condition": {"field": "actor.alternateId", "gte": 3},
}


def run(path: Path) -> RuleResult:
    return run_rule(discover(path).rules[0])


def spray_documents() -> list[dict]:
    return [
        rule_doc(FAILED_SIGNIN, logsource=OKTA, name="okta_failed_signin"),
        rule_doc(None, correlation=SPRAY, title="Okta password spray"),
    ]


def test_detection_cases_pass(write_rule) -> None:
    result = run(write_rule("aws_stop", [rule_doc(STOP_LOGGING)], stop_logging_cases()))
    assert result.passed, result
    assert result.target is not None and result.target.kind == "detection"
    assert {c.case.name: c.hits for c in result.cases}["match_stop.jsonl"] == 1


def test_a_failing_case_shows_expected_got_and_selection_verdicts(write_rule) -> None:
    cases = {
        "match_stop.jsonl": [cloudtrail("StopLogging")],
        "miss_wrongly_labelled.jsonl": [cloudtrail("DeleteTrail")],
    }
    result = run(write_rule("aws_stop", [rule_doc(STOP_LOGGING)], cases))
    assert not result.passed
    (failure,) = result.failures
    assert failure.case.name == "miss_wrongly_labelled.jsonl"
    assert (failure.expected_text(), failure.got_text()) == (
        "does not fire",
        "fires (1 event(s) matched)",
    )
    assert failure.explanation is not None
    (event,) = failure.explanation.events
    assert event.matched
    assert dict(event.selections) == {
        "selection_source": True,
        "selection_event": True,
        "filter_failed": False,
    }
    assert "DeleteTrail" in event.describe() and "filter_failed=no" in event.describe()


def test_a_match_case_that_does_not_fire_names_the_selection_that_failed(write_rule) -> None:
    cases = {
        "match_denied.jsonl": [cloudtrail("StopLogging", errorCode="AccessDenied")],
        "miss_other.jsonl": [cloudtrail("StartLogging")],
    }
    (failure,) = run(write_rule("aws_stop", [rule_doc(STOP_LOGGING)], cases)).failures
    assert failure.fired is False
    (event,) = failure.explanation.events
    assert event.selections["filter_failed"] is True and not event.matched


def test_the_explanation_names_the_detection_item_that_failed(write_rule) -> None:
    detection = {
        "selection": {"eventName": "StopLogging", "userIdentity.userName": "mallory"},
        "condition": "selection",
    }
    cases = {"match_alice.jsonl": [cloudtrail("StopLogging")]}
    (failure,) = run(write_rule("aws_stop", [rule_doc(detection)], cases)).failures
    (event,) = failure.explanation.events
    assert event.items == {"selection": {"eventName": True, "userIdentity.userName": False}}
    assert "selection=no [eventName=yes, userIdentity.userName=no] -> no match" in event.describe()


def test_correlation_cases(write_rule) -> None:
    cases = {
        "match_spray.jsonl": [okta(u, minute=i) for i, u in enumerate(["a@x", "b@x", "c@x"])],
        "miss_one_user.jsonl": [okta("a@x", minute=i) for i in range(3)],
    }
    result = run(write_rule("okta_spray", spray_documents(), cases, folder="okta"))
    assert result.passed, result
    assert result.target is not None and result.target.kind == "correlation"
    assert [c.hits for c in result.cases] == [1, 0]


def test_a_failing_correlation_case_explains_the_window_and_its_inputs(write_rule) -> None:
    cases = {"match_too_few.jsonl": [okta(u, minute=i) for i, u in enumerate(["a@x", "b@x"])]}
    (failure,) = run(write_rule("okta_spray", spray_documents(), cases, folder="okta")).failures
    notes = "\n".join(failure.explanation.notes)
    assert (
        "correlation 'Okta password spray': value_count of okta_failed_signin by client.ipAddress"
        in notes
    )
    assert "gte 3; 0 hit(s)" in notes and "highest window value reached was 2" in notes
    assert [e.rule for e in failure.explanation.events] == ["okta_failed_signin"] * 2
    assert all(e.matched for e in failure.explanation.events)
    assert failure.explanation.events[0].items == {
        "selection": {"eventType": True, "outcome.result": True}
    }


def test_a_case_that_does_not_ingest_cleanly_is_an_error(write_rule, tmp_path: Path) -> None:
    event = cloudtrail("StopLogging")
    path = write_rule("aws_stop", [rule_doc(STOP_LOGGING)], {"miss_twice.jsonl": [event, event]})
    (tmp_path / "rules" / "aws" / "aws_stop" / "miss_garbage.jsonl").write_text("not json at all\n")
    (tmp_path / "rules" / "aws" / "aws_stop" / "match_empty.jsonl").write_text("")
    errors = {c.case.name: c.error for c in run(path).cases}
    assert "repeat an earlier event" in errors["miss_twice.jsonl"]
    assert errors["miss_garbage.jsonl"]
    assert errors["match_empty.jsonl"]


def test_a_rule_that_does_not_compile_is_an_error_with_the_reason(write_rule) -> None:
    bad = {"sel": {"eventName|re": "(?<=x)y"}, "condition": "sel"}
    result = run(write_rule("aws_bad", [rule_doc(bad)], {"match_a.jsonl": [cloudtrail()]}))
    (case,) = result.cases
    assert case.error is not None and "does not compile" in case.error


def test_no_cases_and_unreadable_files_are_rule_errors(write_rule) -> None:
    assert "no cases" in (run(write_rule("aws_lonely", [rule_doc(STOP_LOGGING)])).error or "")
    assert "not valid YAML" in (run(write_rule("aws_broken", "title: [unclosed\n")).error or "")
