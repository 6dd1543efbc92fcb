"""The candidate-row path (`evaluate_candidates`) against evaluating every rule on every row."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any
from unittest.mock import patch

import polars as pl
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sigma.collection import SigmaCollection
from tests.detection.test_differential_sqlite import TEXT_FIELDS, _events, _rules

from auditlake.detection import distinct_values, ir, narrow_rules, prefilter
from auditlake.detection import evaluate as evaluate_module
from auditlake.detection.atoms import Columns, necessary_atoms, regex_literal, wildcard_literal
from auditlake.detection.compile import RuleSet, compile_collection, compile_rules
from auditlake.detection.evaluate import (
    RULE_ID_COLUMN,
    LateColumns,
    atom_columns,
    evaluate,
    evaluate_candidates,
)
from auditlake.detection.narrow_rules import DeferredRules
from auditlake.detection.prefilter import ASCII_LOWERING
from auditlake.ingest import ingest
from auditlake.lake.paths import LakePaths
from auditlake.lake.scan import scan_events

WINDOWS = "windows.eventlog"
OKTA = "okta.system"
SYSMON = "Microsoft-Windows-Sysmon/Operational"


def _pairs(frame: pl.DataFrame) -> list[tuple[Any, str]]:
    return sorted(zip(frame["event_uid"].to_list(), frame[RULE_ID_COLUMN].to_list(), strict=True))


def _assert_filter_keeps_every_match(rules: list[Any], frame: pl.DataFrame, source: str, simple: pl.DataFrame) -> None:
    """The scan filter built from the rules' first sets drops no row any rule matches (each
    rule alone, so one rule that must see every row does not switch the check off)."""
    plans = prefilter.plan_rules(rules, atom_columns(frame.schema, source), source)
    for plan in plans:
        likely = prefilter.candidate_filter([plan])
        if likely is not None:
            kept = evaluate([plan.rule], frame.filter(likely).lazy(), source=source).collect()
            expected = simple.filter(pl.col(RULE_ID_COLUMN) == plan.rule.id)
            assert _pairs(kept) == _pairs(expected)


def _both(rules: list[Any], frame: pl.DataFrame) -> tuple[list[tuple[Any, str]], list[tuple[Any, str]]]:
    simple = evaluate(rules, frame.lazy(), source=WINDOWS).collect()
    fast = evaluate_candidates(rules, frame, source=WINDOWS)
    with patch.object(prefilter, "SLICE_BYTES", 1):  # every text column sliced and gated
        assert evaluate_candidates(rules, frame, source=WINDOWS).equals(fast)
    with patch.object(distinct_values, "MIN_ROWS", 1), patch.object(distinct_values, "REPEAT_SHARE", 1.0):
        assert evaluate_candidates(rules, frame, source=WINDOWS).equals(fast)  # searched and tested by value
    with patch.object(prefilter, "SAMPLE_ROWS", 1):  # sets first judged on a sample of rows
        assert evaluate_candidates(rules, frame, source=WINDOWS).equals(fast)
    with patch.object(prefilter, "MANY_NEEDLES", 1):  # every column searched in its lowercased text
        assert evaluate_candidates(rules, frame, source=WINDOWS).equals(fast)
    with patch.object(narrow_rules, "LOWER_ONCE_ROWS", 0), patch.object(evaluate_module, "BROAD_SHARE", 1.0):
        assert evaluate_candidates(rules, frame, source=WINDOWS).equals(fast)  # every rule alone, lowercasing once
    with patch.object(evaluate_module, "BROAD_SHARE", 0.0):
        assert evaluate_candidates(rules, frame, source=WINDOWS).equals(fast)  # every rule in the shared pass
    if "raw" in frame.columns:  # `raw` read afterwards, for the rows whose rules read it
        late = LateColumns(pl.Schema({"raw": frame.schema["raw"]}), partial(_rows_of, frame.select("raw")))
        assert evaluate_candidates(rules, frame.drop("raw"), source=WINDOWS, late=late).equals(fast.drop("raw"))
        with patch.object(prefilter, "SAMPLE_ROWS", 1):
            assert evaluate_candidates(rules, frame.drop("raw"), source=WINDOWS, late=late).equals(fast.drop("raw"))
    _assert_filter_keeps_every_match(rules, frame, WINDOWS, simple)
    assert _held_back(rules, frame, DeferredRules()) == _pairs(fast)
    assert _held_back(rules, frame, DeferredRules(max_bytes=1)) == _pairs(fast)  # run at every add
    narrow = evaluate_candidates(rules, frame, source=WINDOWS, keep=["event_uid"])
    assert narrow.columns == ["event_uid", RULE_ID_COLUMN]
    assert narrow.equals(fast.select("event_uid", RULE_ID_COLUMN))  # same rows, same order
    return _pairs(fast), _pairs(simple)


def _held_back(rules: list[Any], frame: pl.DataFrame, deferred: DeferredRules) -> list[tuple[Any, str]]:
    """The matches of `frame` evaluated as three batches, every narrow rule held back from one
    batch to the next (`deferred`) and run at the end."""
    third = max(1, frame.height // 3)
    batches = [frame.slice(0, third), frame.slice(third, third), frame.slice(2 * third)]
    with patch.object(evaluate_module, "DEFER_ROWS", frame.height):
        found = [evaluate_candidates(rules, batch, source=WINDOWS, deferred=deferred) for batch in batches]
    flushed = deferred.flush()
    assert deferred.held_rows == 0 and deferred.flush() is None
    return _pairs(pl.concat([*found, *([flushed] if flushed is not None else [])], how="diagonal_relaxed"))


def _rows_of(columns: pl.DataFrame, rows: pl.Series | None) -> pl.DataFrame:
    """`LateColumns.read` over a frame in memory; also checks it is asked in order."""
    numbered = columns.with_row_index(prefilter.ROW)
    if rows is None:
        return numbered
    assert rows.to_list() == sorted(set(rows.to_list()))
    return numbered[rows]


def _random_ruleset(
    events: list[dict[str, Any]], data: st.DataObject, logsource: dict[str, str], *, keywords: bool
) -> RuleSet:
    """Three random rules on `logsource` whose values are mostly pieces of the events' values;
    with `keywords`, some also OR or AND in a keyword search."""
    pool = {f: sorted({e[f] for e in events if e[f]}) for f in TEXT_FIELDS}
    documents = []
    for number in range(3):
        rule = data.draw(_rules(pool))
        rule["id"] = f"0b9e4a55-1111-4a5a-9a5a-00000000000{number}"
        rule["logsource"] = logsource
        if keywords and data.draw(st.booleans()):  # a keyword search in raw, ORed or ANDed in
            rule["detection"]["keywords"] = [data.draw(st.sampled_from(["ab", "A(B", "\\\\", "é中", "x*y"]))]
            joined = data.draw(st.sampled_from(["or", "and"]))
            rule["detection"]["condition"] = f"({rule['detection']['condition']}) {joined} keywords"
        documents.append(yaml.safe_dump(rule, allow_unicode=True))
    ruleset = compile_collection(SigmaCollection.from_yaml("---\n".join(documents)))
    assert ruleset.failures == ()
    return ruleset


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=_events(), data=st.data())
def test_candidates_equal_every_rule_on_every_row(events: list[dict[str, Any]], data: st.DataObject) -> None:
    ruleset = _random_ruleset(events, data, {"product": "windows", "service": "sysmon"}, keywords=True)
    rows = [
        {**event, "event_uid": f"e{i}", "source": WINDOWS, "Channel": SYSMON if i % 4 else "Security",
         "EventID": 1 if i % 3 else 4688, "raw": json.dumps(event, ensure_ascii=False)}
        for i, event in enumerate(events)
    ]
    frame = pl.DataFrame(rows, schema_overrides={f: pl.String for f in TEXT_FIELDS} | {"n1": pl.Int64})
    fast, simple = _both(list(ruleset.rules), frame)
    assert fast == simple


def _json_text(record: dict[str, Any], escapes: tuple[bool, bool, bool]) -> str:
    """`record` as JSON, spelled as various producers do: non-ASCII as `\\u` escapes or not,
    slashes escaped or not, an ASCII letter needlessly written as a `\\u` escape."""
    unicode_escapes, slashes, letter = escapes
    text = json.dumps(record, ensure_ascii=unicode_escapes)
    if slashes:
        text = text.replace("/", "\\/")
    if letter:
        text = text.replace("b", "\\u0062")
    return text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=_events(), data=st.data())
def test_candidates_equal_every_rule_on_every_row_for_fields_read_from_raw_json(
    events: list[dict[str, Any]], data: st.DataObject
) -> None:
    """Okta records whose fields are only in `raw`: rules read them by JSON path, and their
    atoms are searched in the record's text, however the producer escaped it."""
    events = [{k: v.replace(".", "/") if isinstance(v, str) else v for k, v in e.items()} for e in events]
    ruleset = _random_ruleset(events, data, {"product": "okta", "service": "okta"}, keywords=False)
    escapes = st.tuples(st.booleans(), st.booleans(), st.booleans())
    rows = [
        {"event_uid": f"e{i}", "source": OKTA,
         "raw": _json_text({k: v for k, v in event.items() if v is not None}, data.draw(escapes))}
        for i, event in enumerate(events)
    ]
    frame = pl.DataFrame(rows, schema={"event_uid": pl.String, "source": pl.String, "raw": pl.String})
    rules = list(ruleset.rules)
    simple = evaluate(rules, frame.lazy(), source=OKTA).collect()
    fast = evaluate_candidates(rules, frame, source=OKTA)
    assert _pairs(fast) == _pairs(simple)
    with patch.object(prefilter, "SLICE_BYTES", 1):
        assert evaluate_candidates(rules, frame, source=OKTA).equals(fast)
    _assert_filter_keeps_every_match(rules, frame, OKTA, simple)


def test_candidates_equal_on_sigmahq_windows_rules_and_regression_events(tmp_path: Path, shared_data: Path) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    ingest(sorted((shared_data / "sigmahq" / "regression_data").rglob("*.json")), lake, source=WINDOWS, workers=1)
    frame = scan_events(lake).collect()
    rules = [r for r in compile_rules([shared_data / "sigmahq" / "rules" / "windows"]).rules if WINDOWS in r.sources]
    fast, simple = _both(rules, frame)
    assert len(simple) > 150
    assert fast == simple


@pytest.mark.parametrize(
    ("body", "literal"),
    [(r".*whoami.*\>.*", "whoami"), (r"a.b\.exe", "b.exe"), (r".*", None), (r"\\\\x.*", "\\\\x")],
)
def test_wildcard_literal(body: str, literal: str | None) -> None:
    assert wildcard_literal(body) == literal


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [(r"(?i)\.exe\s+werfault", "werfault"), (r"ab?cd", "cd"), (r"a|bcdef", None), (r"(abc)", None),
     (r"é+xyz", "xyz"), (r"[unclosed", None)],
)
def test_regex_literal(pattern: str, literal: str | None) -> None:
    assert regex_literal(pattern) == literal


def test_atoms_follow_the_boolean_structure() -> None:
    columns = Columns(pl.Schema({"a": pl.String(), "b": pl.String(), "n": pl.Int64()}))
    a = ir.Leaf("a", "contains", ("x",))
    b = ir.Leaf("b", "endswith", ("\\long.exe",))
    assert necessary_atoms(ir.And((a, b)), columns) == {("b", "text", "\\long.exe")}
    assert necessary_atoms(ir.Or((a, b)), columns) == {("a", "text", "x"), ("b", "text", "\\long.exe")}
    assert necessary_atoms(ir.Or((a, ir.Not(b))), columns) is None
    assert necessary_atoms(ir.Leaf("n", "num", (4688,)), columns) == {("n", "num", 4688)}
    assert necessary_atoms(ir.Leaf("missing", "contains", ("x",)), columns) == frozenset()
    fallback = Columns(columns.schema, json_fallback=True)
    assert necessary_atoms(ir.Leaf("missing", "contains", ("x",)), fallback) is None  # no raw column
    with_raw = Columns(pl.Schema({**columns.schema, "raw": pl.String()}), json_fallback=True)
    assert necessary_atoms(ir.Leaf("m", "contains", ("Ab/Cdef",)), with_raw) == {("raw", "json", "cdef")}
    assert necessary_atoms(ir.Leaf("m", "regex", ("x+|(?i)yz",)), with_raw) is None
    assert necessary_atoms(ir.Leaf("m", "regex", ("abc|de",)), with_raw) == {("raw", "json", "abc"), ("raw", "json", "de")}
    column = ir.Leaf("a", "contains", ("xyz",))  # a column atom beats a longer one searched in raw
    assert necessary_atoms(ir.And((ir.Leaf("m", "contains", ("longer",)), column)), with_raw) == {("a", "text", "xyz")}
    opaque = Columns(columns.schema, opaque=frozenset({"a"}))
    assert necessary_atoms(a, opaque) is None


def test_ascii_lowering_characters_are_exactly_those_of_unicode() -> None:
    special = {chr(c) for c in range(0x80, 0x110000)
               if not 0xD800 <= c <= 0xDFFF and any(ch.isascii() for ch in chr(c).lower())}
    assert special == set(ASCII_LOWERING)


def _contains_rule(
    suffix: str, value: str, *, keywords: str | None = None, logsource: str = "{product: windows, service: sysmon}"
) -> str:
    """A one-selection rule (`t1|contains: value`), ORed with a keyword when given."""
    keyword = f"\n  keywords: [{keywords}]" if keywords else ""
    condition = "sel or keywords" if keywords else "sel"
    return (f"title: t\nid: 0b9e4a55-1111-4a5a-9a5a-0000000000{suffix}\nlogsource: {logsource}\n"
            f"detection:\n  sel:\n    t1|contains: {value}{keyword}\n  condition: {condition}\n")


def test_kelvin_sign_rows_stay_candidates(tmp_path: Path) -> None:
    ruleset = compile_collection(SigmaCollection.from_yaml(_contains_rule("aa", "kelvin")))
    frame = pl.DataFrame({"event_uid": ["a", "b"], "source": [WINDOWS] * 2, "Channel": [SYSMON] * 2,
                          "EventID": [1, 1], "t1": ["\u212aelvin", "nothing"]})
    fast, simple = _both(list(ruleset.rules), frame)
    assert fast == simple == [("a", "0b9e4a55-1111-4a5a-9a5a-0000000000aa")]
    plans = prefilter.plan_rules(list(ruleset.rules), atom_columns(frame.schema, WINDOWS), WINDOWS)
    indexed, atoms = frame.with_row_index(prefilter.ROW), prefilter._atom_table(plans)
    found, lowered = prefilter._occurrences(indexed, atoms, [None], {"t1": True})  # searched by distinct value
    # searched in its lowercased text, the Kelvin sign's row is found by the search itself
    assert "t1" in lowered and found["t1"].explode(prefilter.ROW)[prefilter.ROW].to_list() == [0]
    assert prefilter._everyones_rows(indexed, atoms, lowered) == []
    assert len(prefilter._everyones_rows(indexed, atoms, frozenset())) == 1


def test_an_empty_frame_has_no_candidates_and_no_matches() -> None:
    rule = _contains_rule("ab", "kelvin", keywords="mimikatz")
    rules = list(compile_collection(SigmaCollection.from_yaml(rule)).rules)
    frame = pl.DataFrame(schema={"event_uid": pl.String, "source": pl.String, "Channel": pl.String,
                                 "EventID": pl.Int64, "t1": pl.String, "raw": pl.String})
    with patch.object(prefilter, "SLICE_BYTES", 1):
        assert evaluate_candidates(rules, frame, source=WINDOWS).is_empty()
    assert prefilter.candidate_filter(prefilter.plan_rules(rules, atom_columns(frame.schema, WINDOWS), WINDOWS)) is not None


@pytest.mark.parametrize(("raw", "kept"), [
    ('{"t1": "xaby"}', True),
    ('{"t1": "a\\u0062"}', True),  # a needless escape still spells "ab"
    ('{"t1": "\u212a"}', True),  # a Kelvin sign lowercases to ASCII: no search vouches for it
    ('{"t1": "nothing"}', False),
])
def test_the_scan_filter_keeps_rows_only_an_escape_or_case_folding_could_match(raw: str, kept: bool) -> None:
    rule = _contains_rule("ac", "ab", logsource="{product: okta, service: okta}")
    rules = list(compile_collection(SigmaCollection.from_yaml(rule)).rules)
    frame = pl.DataFrame({"event_uid": ["e0"], "source": [OKTA], "raw": [raw]})
    likely = prefilter.candidate_filter(prefilter.plan_rules(rules, atom_columns(frame.schema, OKTA), OKTA))
    assert likely is not None
    assert frame.filter(likely).height == int(kept)
    assert evaluate(rules, frame.lazy(), source=OKTA).collect().height <= int(kept)


def _process_rule(suffix: str, values: str) -> str:
    """A process-creation rule: two routes (Sysmon EventID 1, Security 4688)."""
    return (f"title: t\nid: 0b9e4a55-1111-4a5a-9a5a-0000000000{suffix}\n"
            "logsource: {product: windows, category: process_creation}\n"
            f"detection:\n  sel:\n    CommandLine|contains: {values}\n  condition: sel\n")


def test_a_rule_with_routes_is_searched_by_its_condition_before_its_event_ids() -> None:
    """The routes' EventIDs hold every process creation: a rule's own literals (a single
    character will do) come first, joined over both routes, and the EventIDs stay as the last
    choice."""
    yaml_text = "---\n".join([_process_rule("ad", "['~1\\', '^^']"), _process_rule("ae", "['^']")])
    rules = list(compile_collection(SigmaCollection.from_yaml(yaml_text)).rules)
    frame = pl.DataFrame({
        "event_uid": [f"e{i}" for i in range(4)], "source": [WINDOWS] * 4,
        "Channel": [SYSMON, SYSMON, "Security", SYSMON], "EventID": [1, 1, 4688, 1],
        "CommandLine": ["c:\\progra~1\\x.exe", "plain", "echo ^^x", "a ^ b"],
    })
    short, single = prefilter.plan_rules(rules, atom_columns(frame.schema, WINDOWS), WINDOWS)
    event_ids = frozenset({("EventID", "num", 1), ("EventID", "num", 4688)})
    assert short.sets == (frozenset({("CommandLine", "text", "~1\\"), ("CommandLine", "text", "^^")}), event_ids)
    assert single.sets == (frozenset({("CommandLine", "text", "^")}), event_ids)
    pairs = prefilter.candidate_pairs(frame.with_row_index(prefilter.ROW), [short, single])
    candidates = pairs.unique().sort(prefilter.ROW).group_by("rule", maintain_order=True).agg(prefilter.ROW)
    assert dict(candidates.iter_rows()) == {0: [0, 2], 1: [2, 3]}
    fast, simple = _both(rules, frame)
    assert fast == simple == [("e0", "0b9e4a55-1111-4a5a-9a5a-0000000000ad"),
                              ("e2", "0b9e4a55-1111-4a5a-9a5a-0000000000ad"),
                              ("e2", "0b9e4a55-1111-4a5a-9a5a-0000000000ae"),
                              ("e3", "0b9e4a55-1111-4a5a-9a5a-0000000000ae")]


def _sysmon_rules(suffix: str, detection: str) -> list[Any]:
    """One Sysmon rule with this id suffix and detection block (YAML lines under `detection:`)."""
    rule = (
        f"title: t\nid: 0b9e4a55-1111-4a5a-9a5a-0000000000{suffix}\nlogsource: {{product: windows, service: sysmon}}\n"
        f"detection:\n{detection}"
    )
    return list(compile_collection(SigmaCollection.from_yaml(rule)).rules)


def _sysmon_frame(rows: int, **columns: list[str]) -> pl.DataFrame:
    """`rows` Sysmon process creations (`e0`, `e1`, ...) with these text columns."""
    return pl.DataFrame({
        "event_uid": [f"e{i}" for i in range(rows)], "source": [WINDOWS] * rows, "Channel": [SYSMON] * rows,
        "EventID": [1] * rows, **columns,
    })


def test_a_set_whose_literal_holds_in_most_rows_of_a_sample_is_not_searched() -> None:
    """Two necessary sets, `common` in every row and `rare` in one: the sample shows `common`
    cannot be the rarest, so it is never searched, and the candidates come from `rare`."""
    rules = _sysmon_rules("af", "  sel:\n    t1|contains: common\n    t2|contains: rare\n  condition: sel\n")
    rows = 64
    frame = _sysmon_frame(
        rows, t1=["very common text"] * rows, t2=["a rare one" if i == 40 else "plain" for i in range(rows)]
    )
    plans = prefilter.plan_rules(rules, atom_columns(frame.schema, WINDOWS), WINDOWS)
    indexed = frame.with_row_index(prefilter.ROW)
    atoms = prefilter._atom_table(plans)
    with patch.object(prefilter, "SAMPLE_ROWS", 8):
        searched = prefilter._likely_rarest(indexed, atoms, [plan.scope for plan in plans])
        pairs = prefilter.candidate_pairs(indexed, plans)
    assert set(searched["needle"]) == {"rare"}
    assert set(atoms["needle"]) >= {"common", "rare"}
    assert pairs[prefilter.ROW].unique().to_list() == [40]
    fast, simple = _both(rules, frame)
    assert fast == simple == [("e40", "0b9e4a55-1111-4a5a-9a5a-0000000000af")]


def test_the_first_sampled_batch_decides_what_later_batches_of_the_same_rules_search() -> None:
    """A sample is taken once per rules and schema: the second batch searches the sets the
    first batch's sample chose (here `rare`, though `common` is now the rarer), and both
    batches still give exactly the simple path's matches."""
    rules = _sysmon_rules("b2", "  sel:\n    t1|contains: common\n    t2|contains: rare\n  condition: sel\n")
    rows = 64
    first = _sysmon_frame(rows, t1=["common"] * rows, t2=["rare" if i == 40 else "plain" for i in range(rows)])
    second = _sysmon_frame(rows, t1=["common" if i in (3, 7) else "plain" for i in range(rows)], t2=["rare"] * rows)
    searched: list[set[str]] = []
    occurrences = prefilter._occurrences

    def recording(frame: pl.DataFrame, atoms: pl.DataFrame, scopes: Any, repeating: dict[str, bool]) -> Any:
        if frame.height == rows:  # the batch itself, not a sample of it
            searched.append(set(atoms["needle"]))
        return occurrences(frame, atoms, scopes, repeating)

    with patch.object(prefilter, "SAMPLE_ROWS", 8), patch.object(prefilter, "_occurrences", recording), \
            patch.object(prefilter, "_likely_rarest", wraps=prefilter._likely_rarest) as sampling:
        found = [evaluate_candidates(rules, b, source=WINDOWS)["event_uid"].to_list() for b in (first, second)]
    assert sampling.call_count == 1
    assert searched == [{"rare"}, {"rare"}]
    assert found == [["e40"], ["e3", "e7"]]
    for frame, uids in zip((first, second), found, strict=True):
        assert evaluate(rules, frame.lazy(), source=WINDOWS).collect()["event_uid"].to_list() == uids


def test_whether_a_columns_values_repeat_is_judged_once_and_a_wrong_judgement_changes_no_pair() -> None:
    """The first batch large enough to judge tells whether a searched column's values repeat
    (searched once per distinct value) or not (row by row); later batches reuse the answer.
    Whatever the answer, right or wrong for the batch at hand, the pairs are the same."""
    rules = _sysmon_rules("b3", "  sel:\n    t1|contains: needle\n  condition: sel\n")
    rows = 2 * distinct_values.MIN_ROWS
    few = _sysmon_frame(rows, t1=["a needle" if i % 7 == 0 else "plain" for i in range(rows)])
    many = _sysmon_frame(rows, t1=[f"{i} needle" if i % 5 == 0 else f"{i} plain" for i in range(rows)])
    # a field of another event type: null in most rows, which hold no atom and are not grouped
    sparse = _sysmon_frame(rows, t1=["a needle" if i % 9 == 0 else None for i in range(rows)])  # type: ignore[misc]
    small = _sysmon_frame(64, t1=["a needle"] * 64)
    plans = prefilter.plan_rules(rules, atom_columns(few.schema, WINDOWS), WINDOWS)

    def pairs(frame: pl.DataFrame, repeating: dict[str, bool]) -> set[tuple[int, int]]:
        found = prefilter.candidate_pairs(frame.with_row_index(prefilter.ROW), plans, repeating=repeating)
        return set(found.select(prefilter.ROW, "rule").iter_rows())

    for frame, repeats in ((few, True), (many, False), (sparse, True)):
        judged: dict[str, bool] = {}
        expected = pairs(frame, judged)
        assert judged == {"t1": repeats}
        assert {row for row, _ in expected} == {i for i, text in enumerate(frame["t1"]) if text and "needle" in text}
        assert pairs(frame, {"t1": not repeats}) == pairs(frame, {"t1": repeats}) == expected
    judged = {}
    pairs(small, judged)
    assert judged == {}  # too few rows to judge: the next batch judges


def test_an_or_offers_each_alternatives_other_sets_joined_so_the_counts_can_pick_them() -> None:
    """`1 of sel*`: the longer literal `commonplace` is the static first choice of `sel1`, yet
    it holds in every row; the union of each alternative's second set (`rare`, `other`) is
    offered too, and the hit counts pick it."""
    rules = _sysmon_rules("b1", (
        "  sel1:\n    t1|contains: commonplace\n    t2|contains: rare\n"
        "  sel2:\n    t3|contains: other\n  condition: 1 of sel*\n"
    ))
    rows = 16
    frame = _sysmon_frame(
        rows, t1=["a commonplace text"] * rows, t2=["rare" if i == 3 else "plain" for i in range(rows)],
        t3=["other" if i == 9 else "plain" for i in range(rows)],
    )
    (plan,) = prefilter.plan_rules(rules, atom_columns(frame.schema, WINDOWS), WINDOWS)
    assert plan.sets is not None
    text = [{value for _, kind, value in atoms if kind == "text"} for atoms in plan.sets]
    assert text[:2] == [{"commonplace", "other"}, {"rare", "other"}]
    pairs = prefilter.candidate_pairs(frame.with_row_index(prefilter.ROW), [plan])
    assert sorted(pairs[prefilter.ROW].unique().to_list()) == [3, 9]
    fast, simple = _both(rules, frame)
    assert fast == simple == [("e3", "0b9e4a55-1111-4a5a-9a5a-0000000000b1"),
                              ("e9", "0b9e4a55-1111-4a5a-9a5a-0000000000b1")]


def test_a_long_column_is_searched_for_a_literal_only_where_its_rules_routes_allow() -> None:
    """`adfind` is a keyword of a rule on the Application log: where it occurs in Sysmon
    events it makes no candidate. A keyword rule on every Windows log searches every row."""
    application = (
        "title: t\nid: 0b9e4a55-1111-4a5a-9a5a-0000000000b0\nlogsource: {product: windows, service: application}\n"
        "detection:\n  keywords: [adfind]\n  condition: keywords\n"
    )
    anywhere = (
        "title: t\nid: 0b9e4a55-1111-4a5a-9a5a-0000000000b1\nlogsource: {product: windows}\n"
        "detection:\n  keywords: ['sekurlsa::']\n  condition: keywords\n"
    )
    rules = list(compile_collection(SigmaCollection.from_yaml(application + "---\n" + anywhere)).rules)
    channels = ["Application" if i % 10 == 0 else SYSMON for i in range(40)]
    raws = [f'{{"n": {i}, "c": "{"ADFIND.exe" if i in (3, 10) else ""}{"SEKURLSA::x" if i in (5, 20) else ""}"}}'
            for i in range(40)]
    frame = pl.DataFrame({"event_uid": [f"e{i}" for i in range(40)], "source": [WINDOWS] * 40,
                          "Channel": channels, "EventID": [1] * 40, "raw": raws})
    plans = prefilter.plan_rules(rules, atom_columns(frame.schema, WINDOWS), WINDOWS)
    assert [plan.scope for plan in plans] == [frozenset({("Channel", "text", "application")}), None]
    with patch.object(prefilter, "SLICE_BYTES", 1):  # `raw` counts as long
        pairs = prefilter.candidate_pairs(frame.with_row_index(prefilter.ROW), plans).unique().sort(prefilter.ROW, "rule")
    assert pairs.rows() == [(5, 1), (10, 0), (20, 1)]  # not row 3: a Sysmon event
    fast, simple = _both(rules, frame)
    assert fast == simple == [("e10", "0b9e4a55-1111-4a5a-9a5a-0000000000b0"), ("e20", "0b9e4a55-1111-4a5a-9a5a-0000000000b1"),
                              ("e5", "0b9e4a55-1111-4a5a-9a5a-0000000000b1")]


def test_a_keyword_beside_a_column_selection_has_raw_read_only_for_the_selections_rows() -> None:
    """A rule ANDing a keyword to a selection on a column could take its candidates from
    either; with `raw` read late, they come from the column, and `raw` is read for those rows
    alone, not for the search."""
    rule = """
title: Break-glass pod
id: 0b9e4a55-2222-4a5a-9a5a-000000000001
logsource: {product: windows, service: sysmon}
detection:
  selection: {Image|endswith: '\\kubectl.exe'}
  keywords: ['break-glass']
  condition: selection and keywords
"""
    ruleset = compile_collection(SigmaCollection.from_yaml(rule))
    images = ["C:\\kubectl.exe" if i % 10 == 0 else "C:\\notepad.exe" for i in range(40)]
    frame = pl.DataFrame({
        "event_uid": [f"e{i}" for i in range(40)],
        "source": WINDOWS,
        "Channel": SYSMON,
        "EventID": 1,
        "Image": images,
        "raw": [json.dumps({"Image": image, "note": "break-glass" if i % 4 == 0 else "-"}) for i, image in enumerate(images)],
    })
    asked: list[list[int] | None] = []

    def read_raw(rows: pl.Series | None) -> pl.DataFrame:
        asked.append(None if rows is None else rows.to_list())
        return _rows_of(frame.select("raw"), rows)

    late = LateColumns(pl.Schema({"raw": pl.String}), read_raw)
    found = evaluate_candidates(list(ruleset.rules), frame.drop("raw"), source=WINDOWS, late=late)
    assert asked == [[0, 10, 20, 30]]  # the kubectl rows, where the keyword is then tested
    assert found["event_uid"].to_list() == ["e0", "e20"]
    assert _pairs(found) == _pairs(evaluate(list(ruleset.rules), frame.lazy(), source=WINDOWS).collect())

    # Beside a rule of keywords alone (and its route's Channel, which holds every row here),
    # `raw` is read for the search anyway, and the first rule keeps its keyword set: it may be
    # the rarer one.
    keywords_only = rule.replace("0b9e4a55-2222-4a5a-9a5a-000000000001", "0b9e4a55-2222-4a5a-9a5a-000000000002")
    keywords_only = keywords_only.replace("condition: selection and keywords", "condition: keywords")
    both = list(compile_collection(SigmaCollection.from_yaml(rule + "---\n" + keywords_only)).rules)
    asked.clear()
    with patch.object(prefilter, "_choose_sets", wraps=prefilter._choose_sets) as choose:
        found = evaluate_candidates(both, frame.drop("raw"), source=WINDOWS, late=late)
    assert asked == [None]
    searched = choose.call_args.args[0]
    assert searched.filter(pl.col("rule") == 0)["column"].unique().sort().to_list() == ["Channel", "Image", "raw"]
    assert _pairs(found) == _pairs(evaluate(both, frame.lazy(), source=WINDOWS).collect())
