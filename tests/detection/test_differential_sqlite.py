"""Differential test: our Polars lowering against pySigma's SQLite backend on random rules.

Random Sigma rules (every value type SQLite can express, lists, `all`, wildcards mid-string,
escapes, null and empty values, negations, several selections) run over random events in both
engines; the matched event ids must be identical. SQLite is made to agree with Sigma where it
can (`collate_nocase`, a Python `REGEXP`), and the generators avoid the documented, allowed
differences: SQLite folds case for ASCII only (non-ASCII letters appear in lower case only),
its CIDR is a textual prefix (addresses are always valid dotted quads) and it has no keywords.
Its `REGEXP` is Python's `re`, which also takes `$` before a trailing newline; the Polars side
(Rust's regex) takes it at the end of the text only, so the function reads `$` as `\\Z`.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

import polars as pl
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection

from auditlake.detection.compile import compile_collection
from auditlake.detection.lower import bind

TEXT_FIELDS = ("t1", "t2", "t3")
ABSENT_FIELD = "t4"
"""In SQLite a column of NULLs; in the Polars frame no column at all."""
NUMBER_FIELD = "n1"
IP_FIELD = "ip"

# Events and rule values are built from one small vocabulary so that rules often match: letters
# in both cases, Sigma's special characters, SQL LIKE's, regex metacharacters, whitespace with
# newlines, backslashes, and non-ASCII characters that have no upper case here.
VOCABULARY = ["ab", "AB", "a.b", "A(B", "c+", "x[y]", "p|q", "\\", "é中", "€", "*", "?", "%", "_", "\n", " ", "a"]
word = st.sampled_from(VOCABULARY)
text = st.lists(word, max_size=3).map("".join)
plain_text = st.lists(st.sampled_from([w for w in VOCABULARY if w not in ("*", "?")]), min_size=1, max_size=2).map("".join)
# A rule value: vocabulary words with Sigma wildcards between them, sometimes an escaped one.
random_value = st.lists(
    st.one_of(word, st.sampled_from(["*", "?", "\\*", "\\\\", "\\?"])), max_size=3
).map("".join)


def _ascii(text: str, change: Any) -> str:
    """Change the case of ASCII letters only (SQLite folds no other; see the module docstring)."""
    return "".join(change(c) if c.isascii() else c for c in text)


@st.composite
def _value_like(draw: st.DrawFn, pool: list[str]) -> str:
    """Mostly a piece of a value some event holds, in another case, with a wildcard or two."""
    if not pool or draw(st.integers(0, 3)) == 0:
        return draw(random_value)
    value = draw(st.sampled_from(pool))
    start = draw(st.integers(0, len(value)))
    value = value[start : draw(st.integers(start, len(value)))] if draw(st.booleans()) else value
    value = draw(st.sampled_from([value, _ascii(value, str.upper), _ascii(value, str.lower), _ascii(value, str.swapcase)]))
    if value and draw(st.booleans()):
        at = draw(st.integers(0, len(value) - 1))
        value = value[:at] + draw(st.sampled_from(["*", "?", "*?"])) + value[at + 1 :]
    return value


def _events() -> st.SearchStrategy[list[dict[str, Any]]]:
    event = st.fixed_dictionaries(
        {
            **{f: st.one_of(st.none(), text, st.sampled_from(["abc", "ABC", "a\\b", "", "a*b"])) for f in TEXT_FIELDS},
            NUMBER_FIELD: st.one_of(st.none(), st.integers(-3, 12)),
            IP_FIELD: st.one_of(
                st.none(),
                st.tuples(*[st.sampled_from([0, 1, 10, 110, 192, 168, 255])] * 4).map(
                    lambda o: ".".join(map(str, o))
                ),
            ),
        }
    )
    return st.lists(event, min_size=1, max_size=12)


# String matching is where backends differ most, so it is drawn most often.
KINDS = ["string"] * 4 + ["list"] * 3 + ["all", "null", "empty", "number", "compare", "regex", "cidr", "exists", "fieldref"]
STRING_MODIFIERS = ["", "|contains", "|startswith", "|endswith", "|cased", "|contains|cased"]


Item = st.SearchStrategy[tuple[str, Any]]


def _string_item(field: str, value: st.SearchStrategy[str]) -> Item:
    return st.tuples(st.sampled_from(STRING_MODIFIERS).map(lambda m: field + m), value)


def _list_item(field: str, value: st.SearchStrategy[str]) -> Item:
    keys = st.sampled_from(STRING_MODIFIERS).map(lambda m: field + m)
    return st.tuples(keys, st.lists(value, min_size=1, max_size=4))


def _all_item(field: str, value: st.SearchStrategy[str]) -> Item:
    values = st.lists(st.one_of(plain_text, value), min_size=2, max_size=3)
    return st.tuples(st.just(field + "|contains|all"), values)


def _number_item(field: str, value: st.SearchStrategy[str]) -> Item:
    return st.tuples(st.sampled_from([NUMBER_FIELD, NUMBER_FIELD, field]), st.integers(-2, 12))


def _compare_item(field: str, value: st.SearchStrategy[str]) -> Item:
    keys = st.sampled_from(["gt", "gte", "lt", "lte"]).map(lambda op: f"{NUMBER_FIELD}|{op}")
    return st.tuples(keys, st.integers(-2, 12))


def _regex_item(field: str, value: st.SearchStrategy[str]) -> Item:
    keys = st.sampled_from(["", "|i", "|s"]).map(lambda flags: f"{field}|re{flags}")
    patterns = st.sampled_from(["^a", "b.c", "[ab]+", "a|c", "^\\\\", "é", "A.*B", "\\(", "^$"])
    return st.tuples(keys, patterns)


def _cidr_item(field: str, value: st.SearchStrategy[str]) -> Item:
    networks = st.sampled_from(["10.0.0.0/8", "192.168.0.0/16", "110.1.0.0/16", "0.0.0.0/0"])
    return st.tuples(st.just(f"{IP_FIELD}|cidr"), networks)


def _fieldref_item(field: str, value: st.SearchStrategy[str]) -> Item:
    others = [f for f in TEXT_FIELDS if f != field]
    return st.tuples(st.just(f"{field}|fieldref"), st.sampled_from(others))


ITEMS: dict[str, Any] = {
    "string": _string_item,
    "list": _list_item,
    "all": _all_item,
    "null": lambda field, value: st.just((field, None)),
    "empty": lambda field, value: st.just((field, "")),
    "number": _number_item,
    "compare": _compare_item,
    "regex": _regex_item,
    "cidr": _cidr_item,
    "exists": lambda field, value: st.tuples(st.just(f"{field}|exists"), st.booleans()),
    "fieldref": _fieldref_item,
}


@st.composite
def _detection_item(draw: st.DrawFn, pool: dict[str, list[str]]) -> tuple[str, Any]:
    kind = draw(st.sampled_from(KINDS))
    field = draw(st.sampled_from([*TEXT_FIELDS, ABSENT_FIELD]))
    item: tuple[str, Any] = draw(ITEMS[kind](field, _value_like(pool.get(field, []))))
    return item


@st.composite
def _rules(draw: st.DrawFn, pool: dict[str, list[str]]) -> dict[str, Any]:
    selections: dict[str, Any] = {}
    for index in range(draw(st.integers(1, 2))):
        items = draw(st.lists(_detection_item(pool), min_size=1, max_size=2, unique_by=lambda i: i[0]))
        selection: Any = dict(items)
        if draw(st.booleans()) and len(items) > 1:
            selection = [dict([item]) for item in items]  # list of maps: OR of ANDs
        selections[f"sel{index}"] = selection
    names = list(selections)
    condition = draw(
        st.sampled_from(
            [
                " and ".join(names),
                " or ".join(names),
                f"{names[0]} and not " + (names[-1] if len(names) > 1 else names[0]),
                f"not ({' or '.join(names)})",
                "1 of sel*",
                "all of them",
                f"not {names[0]}",
            ]
        )
    )
    return {
        "title": "random",
        "id": "0b9e4a55-1111-4a5a-9a5a-000000000000",
        "status": "test",
        "logsource": {"product": "differential"},
        "detection": {**selections, "condition": condition},
        "level": "low",
    }


def _sqlite_matches(rule_yaml: str, events: list[dict[str, Any]]) -> set[int]:
    query = sqliteBackend(collate_nocase=True).convert(SigmaCollection.from_yaml(rule_yaml))[0]
    connection = sqlite3.connect(":memory:")
    connection.create_function(
        "regexp", 2, lambda pattern, value: None if value is None else re.search(_end_of_text(pattern), str(value)) is not None
    )
    columns = [*TEXT_FIELDS, ABSENT_FIELD, IP_FIELD]
    connection.execute(
        f"CREATE TABLE logs (id INTEGER, {', '.join(c + ' TEXT' for c in columns)}, {NUMBER_FIELD} INTEGER)"
    )
    for index, event in enumerate(events):
        row = [index, *(event.get(c) for c in columns), event[NUMBER_FIELD]]
        connection.execute(f"INSERT INTO logs VALUES ({', '.join('?' * len(row))})", row)
    sql = query.replace("SELECT * FROM logs", "SELECT id FROM logs", 1)
    return {row[0] for row in connection.execute(sql)}


def _end_of_text(pattern: str) -> str:
    """`pattern` with `$` as the end of the text: `\\Z` in Python (the patterns drawn here have
    no escaped `$`)."""
    return pattern.replace("$", "\\Z")


def _polars_matches(rule_yaml: str, events: list[dict[str, Any]]) -> set[int]:
    ruleset = compile_collection(SigmaCollection.from_yaml(rule_yaml))
    assert ruleset.failures == (), ruleset.failures
    frame = pl.DataFrame(
        [{"id": i, **{k: v for k, v in e.items()}} for i, e in enumerate(events)],
        schema={"id": pl.Int64, **dict.fromkeys(TEXT_FIELDS, pl.String), NUMBER_FIELD: pl.Int64, IP_FIELD: pl.String},
    )
    expr = bind(ruleset.rules[0].condition, frame.schema)
    return set(frame.filter(expr)["id"].to_list())


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=_events(), data=st.data())
def test_same_matches_as_sqlite(events: list[dict[str, Any]], data: st.DataObject) -> None:
    pool = {f: sorted({e[f] for e in events if e[f]}) for f in TEXT_FIELDS}
    rule = data.draw(_rules(pool))
    rule_yaml = yaml.safe_dump(rule, allow_unicode=True)
    assert _polars_matches(rule_yaml, events) == _sqlite_matches(rule_yaml, events), rule_yaml
