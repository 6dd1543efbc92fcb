"""Correlation plans from Sigma YAML: every type, aliases, extended conditions, chaining, errors."""

from __future__ import annotations

import dataclasses
import textwrap
from datetime import timedelta

import pytest
import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule

from auditlake.detection.correlation_plan import (
    And,
    Comparison,
    Condition,
    CorrelationError,
    CorrelationType,
    FieldAlias,
    Not,
    Operator,
    Or,
    RuleRef,
    UnsupportedCorrelationError,
)
from auditlake.detection.correlation_reader import (
    plan_correlation,
    plan_from_yaml,
    pysigma_compatible,
)


def correlation(body: str, *, name: str = "corr") -> str:
    """A correlation rule document with `body` as its `correlation:` mapping."""
    return f"title: {name} title\nname: {name}\ncorrelation:\n" + textwrap.indent(
        textwrap.dedent(body), "  "
    )


DETECTION = """
title: {name}
name: {name}
id: {uid}
logsource: {{product: okta}}
detection:
  sel: {{action: login}}
  condition: sel
"""


def test_event_count() -> None:
    plan = plan_from_yaml(
        correlation(
            """
            type: event_count
            rules: [failed_login]
            group-by: [actor, src_ip]
            timespan: 5m
            condition: {gte: 10}
            """
        )
    )
    assert plan.type is CorrelationType.EVENT_COUNT
    assert plan.key == plan.name == "corr"
    assert plan.title == "corr title"
    assert plan.rules == ("failed_login",)
    assert plan.group_by == ("actor", "src_ip")
    assert plan.timespan == timedelta(minutes=5)
    assert plan.condition == Condition((Comparison(Operator.GTE, 10),))
    assert plan.extended is None
    assert plan.aliases == ()
    assert plan.generate is False
    assert plan.required_columns("failed_login") == ("time", "event_uid", "actor", "src_ip")


@pytest.mark.parametrize(
    ("field", "expected"), [("user", ("user",)), ("[user, host]", ("user", "host"))]
)
def test_value_count(field: str, expected: tuple[str, ...]) -> None:
    plan = plan_from_yaml(
        correlation(
            f"""
            type: value_count
            rules: r
            group-by: src_ip
            timespan: 1h
            condition: {{lt: 3, field: {field}}}
            """
        )
    )
    assert plan.type is CorrelationType.VALUE_COUNT
    assert plan.rules == ("r",)
    assert plan.fields == expected
    assert plan.condition is not None
    assert plan.condition.comparisons == (Comparison(Operator.LT, 3),)
    assert plan.required_columns("r") == ("time", "event_uid", "src_ip", *expected)


@pytest.mark.parametrize(
    ("ctype", "extra", "percentile"),
    [
        ("value_sum", "", None),
        ("value_avg", "", None),
        ("value_median", "", None),
        ("value_percentile", ", percentile: 95", 95),
    ],
)
def test_numeric_types(ctype: str, extra: str, percentile: int | None) -> None:
    plan = plan_from_yaml(
        correlation(
            f"""
            type: {ctype}
            rules: [download]
            group-by: [user]
            timespan: 1d
            condition: {{gt: 1000, field: bytes{extra}}}
            """
        )
    )
    assert plan.type == ctype
    assert plan.condition == Condition((Comparison(Operator.GT, 1000),), ("bytes",), percentile)
    assert plan.timespan == timedelta(days=1)


@pytest.mark.parametrize("op", list(Operator))
def test_every_operator(op: Operator) -> None:
    plan = plan_from_yaml(
        correlation(
            f"""
            type: event_count
            rules: [r]
            timespan: 10s
            condition: {{{op.value}: 4}}
            """
        )
    )
    assert plan.condition == Condition((Comparison(op, 4),))
    assert plan.group_by == ()


def test_temporal_default_is_all_rules() -> None:
    plan = plan_from_yaml(
        correlation(
            """
            type: temporal
            rules: [a, b, c]
            group-by: host
            timespan: 2m
            """
        )
    )
    assert plan.type is CorrelationType.TEMPORAL
    assert plan.condition == Condition((Comparison(Operator.GTE, 3),))
    assert plan.extended is None


def test_temporal_with_a_count_condition() -> None:
    plan = plan_from_yaml(
        correlation(
            """
            type: temporal
            rules: [a, b, c]
            timespan: 2m
            condition: {gte: 2}
            """
        )
    )
    assert plan.condition == Condition((Comparison(Operator.GTE, 2),))


def test_temporal_extended_condition_is_a_tree() -> None:
    plan = plan_from_yaml(
        correlation(
            """
            type: temporal
            rules: [a, b, c]
            group-by: host
            timespan: 2m
            condition: a and not (b or c)
            """
        )
    )
    assert plan.condition is None
    assert plan.extended == And((RuleRef("a"), Not(Or((RuleRef("b"), RuleRef("c"))))))
    assert plan.rules == ("a", "b", "c")


def test_temporal_extended_condition_without_rules_list() -> None:
    plan = plan_from_yaml(
        correlation(
            """
            type: temporal
            timespan: 2m
            condition: c or b and a
            """
        )
    )
    assert plan.rules == ("c", "b", "a")
    assert plan.extended == Or((RuleRef("c"), And((RuleRef("b"), RuleRef("a")))))


def test_temporal_ordered() -> None:
    plan = plan_from_yaml(
        correlation(
            """
            type: temporal_ordered
            rules: [recon, escalate, recon]
            group-by: [user]
            timespan: 1h
            """
        )
    )
    assert plan.type is CorrelationType.TEMPORAL_ORDERED
    assert plan.rules == ("recon", "escalate", "recon")
    assert plan.distinct_rules == ("recon", "escalate")
    assert plan.condition == Condition((Comparison(Operator.GTE, 3),))


def test_temporal_ordered_conjunction_is_the_plain_form() -> None:
    plan = plan_from_yaml(
        correlation(
            """
            type: temporal_ordered
            rules: [b, a]
            timespan: 1h
            condition: a and b
            """
        )
    )
    assert plan.rules == ("b", "a")
    assert plan.extended is None
    assert plan.condition == Condition((Comparison(Operator.GTE, 2),))


@pytest.mark.parametrize(
    ("unit", "seconds"),
    [
        ("s", 1),
        ("m", 60),
        ("h", 3600),
        ("d", 86400),
        ("w", 604800),
        ("M", 2_629_746),
        ("y", 31_556_952),
    ],
)
def test_timespan_units(unit: str, seconds: int) -> None:
    plan = plan_from_yaml(
        correlation(f"type: event_count\nrules: [r]\ntimespan: 3{unit}\ncondition: {{gt: 1}}\n")
    )
    assert plan.timespan == timedelta(seconds=3 * seconds)


def test_aliases_map_columns_per_rule() -> None:
    plan = plan_from_yaml(
        correlation(
            """
            type: value_count
            rules: [a, b]
            group-by: [ip]
            timespan: 10m
            aliases:
              ip: {a: src, b: client_ip}
              who: {a: user}
            condition: {gte: 2, field: who}
            """
        )
    )
    assert plan.aliases == (
        FieldAlias("ip", (("a", "src"), ("b", "client_ip"))),
        FieldAlias("who", (("a", "user"),)),
    )
    assert plan.column("ip", "a") == "src"
    assert plan.column("ip", "b") == "client_ip"
    assert plan.column("who", "b") == "who"  # b is not in the alias: same-named column
    assert plan.column("host", "a") == "host"
    assert plan.required_columns("a") == ("time", "event_uid", "src", "user")
    assert plan.required_columns("b") == ("time", "event_uid", "client_ip", "who")
    with pytest.raises(CorrelationError, match="not referenced"):
        plan.required_columns("c")


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("false", False)])
def test_generate(value: str, expected: bool) -> None:
    plan = plan_from_yaml(
        correlation(
            f"type: event_count\nrules: [r]\ntimespan: 1m\ngenerate: {value}\ncondition: {{gt: 1}}\n"
        )
    )
    assert plan.generate is expected


def test_chaining_and_alias_through_resolved_references() -> None:
    a_id = "11111111-1111-1111-1111-111111111111"
    documents = [
        yaml.safe_load(DETECTION.format(name="login_a", uid=a_id)),
        yaml.safe_load(
            DETECTION.format(name="login_b", uid="22222222-2222-2222-2222-222222222222")
        ),
        yaml.safe_load(
            correlation(
                f"""
                type: temporal
                rules: [{a_id}, login_b]
                group-by: [ip]
                timespan: 5m
                aliases:
                  ip: {{login_a: src, login_b: client_ip}}
                """,
                name="both_logins",
            )
        ),
        yaml.safe_load(
            correlation(
                """
                type: event_count
                rules: [both_logins]
                group-by: [ip]
                timespan: 1h
                generate: true
                condition: {gte: 3.5}
                """,
                name="repeated",
            )
        ),
    ]
    collection = SigmaCollection.from_dicts([pysigma_compatible(doc) for doc in documents])
    both, repeated = (rule for rule in collection if isinstance(rule, SigmaCorrelationRule))
    inner = plan_correlation(both, documents[2])
    outer = plan_correlation(repeated, documents[3])
    # The alias names login_a while `rules` uses its id: matched through the resolved rule.
    assert inner.aliases == (FieldAlias("ip", ((a_id, "src"), ("login_b", "client_ip"))),)
    assert inner.required_columns(a_id) == ("time", "event_uid", "src")
    assert inner.correlation_refs == ()
    assert outer.correlation_refs == ("both_logins",)
    assert outer.condition == Condition((Comparison(Operator.GTE, 3.5),))
    assert outer.generate is True
    assert outer.required_columns("both_logins") == ("time", "event_uid", "ip")


FLOAT_RULE = correlation(
    """
    type: value_avg
    rules: [transfer]
    group-by: [user]
    timespan: 1h
    condition: {gt: 500.7, field: bytes}
    """
)


def test_float_threshold_from_raw_yaml() -> None:
    document = yaml.safe_load(FLOAT_RULE)
    rule = SigmaCorrelationRule.from_dict(document)
    truncated = plan_correlation(rule)
    exact = plan_correlation(rule, document)
    assert truncated.condition is not None and exact.condition is not None
    assert truncated.condition.comparisons == (Comparison(Operator.GT, 500),)
    assert exact.condition.comparisons == (Comparison(Operator.GT, 500.7),)
    assert plan_correlation(rule, document["correlation"]) == exact  # the section alone works too


def test_range_from_raw_yaml() -> None:
    text = correlation(
        """
        type: value_percentile
        rules: [transfer]
        timespan: 1h
        condition: {gte: 10, lte: "20.5", field: bytes, percentile: 99.5}
        """
    )
    document = yaml.safe_load(text)
    narrowed = pysigma_compatible(document)
    assert narrowed["correlation"]["condition"] == {"gte": 10, "field": "bytes", "percentile": 99.5}
    assert document["correlation"]["condition"]["lte"] == "20.5"  # the original is untouched
    with pytest.raises(Exception, match="exactly one condition item"):
        SigmaCorrelationRule.from_dict(document)
    plan = plan_correlation(SigmaCorrelationRule.from_dict(narrowed), document)
    assert plan == plan_from_yaml(text)
    assert plan.condition == Condition(
        (Comparison(Operator.GTE, 10), Comparison(Operator.LTE, 20.5)), ("bytes",), 99.5
    )


def test_plan_is_frozen_and_hashable() -> None:
    plan = plan_from_yaml(FLOAT_RULE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.name = "other"  # type: ignore[misc]
    assert hash(plan) == hash(plan_from_yaml(FLOAT_RULE))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "type: event_count\nrules: [r]\ntimespan: 1m\ncondition: {gt: 1, field: user}\n",
            "event_count takes no condition `field`",
        ),
        (
            "type: value_sum\nrules: [r]\ntimespan: 1m\ncondition: {gt: 1, field: [a, b]}\n",
            "exactly one numeric field",
        ),
        (
            "type: value_percentile\nrules: [r]\ntimespan: 1m\ncondition: {gt: 1, field: a}\n",
            "needs a condition `percentile`",
        ),
        (
            "type: value_percentile\nrules: [r]\ntimespan: 1m\n"
            "condition: {gt: 1, field: a, percentile: 101}\n",
            "outside 0..100",
        ),
        (
            "type: value_avg\nrules: [r]\ntimespan: 1m\ncondition: {gt: 1, field: a, percentile: 5}\n",
            "only for value_percentile",
        ),
        (
            "type: temporal_ordered\nrules: [a, b]\ntimespan: 1m\ncondition: {gte: 1}\n",
            "needs every rule in order",
        ),
        (
            "type: temporal_ordered\nrules: [a, b]\ntimespan: 1m\ncondition: a or b\n",
            "only as `a and b and ...`",
        ),
        ("type: temporal\nrules: [a, a]\ntimespan: 1m\n", "rule references repeat"),
        ("type: temporal\ntimespan: 1m\n", "no referenced rules"),
        (
            "type: event_count\nrules: [r]\ngroup-by: [time]\ntimespan: 1m\ncondition: {gt: 1}\n",
            "collides with a correlation output column",
        ),
        (
            "type: event_count\nrules: [r]\ngroup-by: [ip]\ntimespan: 1m\n"
            "aliases: {ip: {other: src}}\ncondition: {gt: 1}\n",
            "maps rule 'other', which is not referenced",
        ),
        (
            "type: event_count\nrules: [r]\ntimespan: 1m\ncondition: {gt: many}\n",
            "is no valid Sigma correlation condition count",
        ),
        (
            "type: event_count\nrules: [r]\ntimespan: 1m\ncondition: {gt: 1, lt: many}\n",
            "threshold `lt` 'many' is not a number",
        ),
        (
            "type: event_count\nrules: [r]\ntimespan: 1m\ncondition: {gt: 1, lt: true}\n",
            "is not a number",
        ),
        (
            "type: event_count\nrules: [r]\ntimespan: 1m\ncondition: {gt: 1, lt: .nan}\n",
            "not a finite number",
        ),
        ("type: event_count\nrules: [r]\ntimespan: 1h30m\ncondition: {gt: 1}\n", "invalid"),
    ],
)
def test_clear_errors_name_the_rule(body: str, message: str) -> None:
    with pytest.raises(UnsupportedCorrelationError, match=message) as caught:
        plan_from_yaml(correlation(body, name="bad_rule"))
    assert "correlation bad_rule" in str(caught.value)


def test_raw_yaml_of_another_rule_is_refused() -> None:
    rule = SigmaCorrelationRule.from_yaml(FLOAT_RULE)
    other = yaml.safe_load(FLOAT_RULE.replace("name: corr", "name: other"))
    with pytest.raises(UnsupportedCorrelationError, match="does not match"):
        plan_correlation(rule, other)


def test_error_is_an_auditlake_error_with_a_hint() -> None:
    from auditlake.errors import AuditlakeError

    with pytest.raises(AuditlakeError) as caught:
        plan_from_yaml(
            correlation(
                "type: value_sum\nrules: [r]\ntimespan: 1m\ncondition: {gt: 1, field: [a, b]}\n"
            )
        )
    assert caught.value.hint == "set `field` to one column name"
