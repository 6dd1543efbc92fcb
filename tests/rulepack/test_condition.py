"""Conditions come apart and go back together: quantifiers expanded, selections dropped."""

from __future__ import annotations

import pytest

from auditlake.rulepack.condition import (
    ConditionError,
    drop,
    names_in,
    occurrences,
    parse_condition,
    render,
)

NAMES = ["sel", "sel_a", "sel_b", "filter_x", "filter_y", "_hidden"]


@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        ("sel and not filter_x", "sel and not filter_x"),
        ("1 of sel_*", "sel_a or sel_b"),
        ("all of sel_*", "sel_a and sel_b"),
        ("any of filter_*", "filter_x or filter_y"),
        ("sel and not 1 of filter_*", "sel and not (filter_x or filter_y)"),
        ("1 of them", "sel or sel_a or sel_b or filter_x or filter_y"),
        ("all of _*", "_hidden"),
        (
            "(sel or sel_a) and not (filter_x and filter_y)",
            "(sel or sel_a) and not (filter_x and filter_y)",
        ),
    ],
)
def test_parse_and_render(text: str, expanded: str) -> None:
    assert render(parse_condition(text, NAMES)) == expanded


@pytest.mark.parametrize(
    ("text", "name", "left"),
    [
        ("sel and sel_a", "sel_a", "sel"),
        ("sel or sel_a", "sel", "sel_a"),
        ("sel and not filter_x", "filter_x", "sel"),
        ("sel and not (filter_x or filter_y)", "filter_x", "sel and not filter_y"),
        ("not (sel_a and sel_b) and sel", "sel_a", "not sel_b and sel"),
        ("(sel and sel_a) or (sel and sel_b)", "sel", "sel_a or sel_b"),
        ("sel and not not filter_x", "filter_x", "sel"),
    ],
)
def test_drop_removes_the_selection_and_the_not_around_it(text: str, name: str, left: str) -> None:
    assert render(drop(parse_condition(text, NAMES), name)) == left


def test_dropping_the_only_selection_leaves_nothing() -> None:
    assert drop(parse_condition("not sel", NAMES), "sel") is None
    assert drop(parse_condition("sel or sel", NAMES), "sel") is None


def test_occurrences_count_negations_and_parents() -> None:
    tree = parse_condition("sel and not (filter_x or sel_a) or not sel_a", NAMES)
    assert names_in(tree) == ["sel", "filter_x", "sel_a"]
    found = [(o.negations, o.wrapping, o.parent) for o in occurrences(tree, "sel_a")]
    assert found == [(1, 0, "or"), (1, 1, "or")]


def test_a_quantifier_that_names_nothing_is_an_error() -> None:
    with pytest.raises(ConditionError, match="names no selection"):
        parse_condition("1 of nothing_*", NAMES)
