"""The `module` format carries everything its correlations read, and evaluates them as the
engine does: rules referenced with `generate: false`, under the name or id the plans use,
and correlations over correlations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from polars.testing import assert_frame_equal
from sigma.collection import SigmaCollection

from auditlake.detection.backend import PolarsBackend
from auditlake.detection.compile import compile_collection
from auditlake.detection.evaluate import evaluate_correlations

FAILED = """\
title: failed sign-in
id: 7e1c0000-0000-4000-8000-000000000001
name: failed_signin
status: test
logsource: {category: test}
detection:
  sel: {outcome: failure}
  condition: sel
"""

BURST = """\
title: burst of failures
id: 7e1c0000-0000-4000-8000-000000000002
name: burst
status: test
correlation:
  type: event_count
  rules: [failed_signin]
  group-by: [user]
  timespan: 10m
  condition: {gte: 3}
"""

REPEATED = """\
title: repeated bursts
id: 7e1c0000-0000-4000-8000-000000000003
status: test
correlation:
  type: event_count
  rules: [burst]
  group-by: [user]
  timespan: 1h
  condition: {gte: 2}
"""

BY_ID = """\
title: failures by id, generated
id: 7e1c0000-0000-4000-8000-000000000004
status: test
correlation:
  type: event_count
  rules: [7e1c0000-0000-4000-8000-000000000001]
  group-by: [user]
  timespan: 10m
  condition: {gte: 3}
  generate: true
"""

BURST_ID = "7e1c0000-0000-4000-8000-000000000002"
REPEATED_ID = "7e1c0000-0000-4000-8000-000000000003"  # no name: the plan's key is its id
BY_ID_ID = "7e1c0000-0000-4000-8000-000000000004"
START = datetime(2026, 3, 5, 6, 0, tzinfo=UTC)


def events() -> pl.DataFrame:
    """alice fails three times at minutes 0-2 and 20-22 (two bursts); bob three times, 30
    minutes apart; carol succeeds."""
    rows = [("alice", m, "failure") for m in (0, 1, 2, 20, 21, 22)]
    rows += [("bob", m, "FAILURE") for m in (0, 30, 60)] + [("carol", m, "success") for m in (0, 1, 2)]
    return pl.DataFrame(
        {
            "time": [START + timedelta(minutes=m) for _, m, _ in rows],
            "event_uid": [f"e{i}" for i in range(len(rows))],
            "user": [user for user, _, _ in rows],
            "outcome": [outcome for _, _, outcome in rows],
        }
    )


def module(*documents: str) -> dict[str, Any]:
    text = PolarsBackend().convert(SigmaCollection.from_yaml("---\n".join(documents)), "module")
    namespace: dict[str, Any] = {}
    exec(compile(text, "rules.py", "exec"), namespace)
    return namespace


def engine(*documents: str) -> dict[str, pl.DataFrame]:
    ruleset = compile_collection(SigmaCollection.from_yaml("---\n".join(documents)))
    assert not ruleset.failures
    return evaluate_correlations(ruleset, events().lazy())


def test_rules_read_only_by_correlations_are_in_the_module() -> None:
    namespace = module(FAILED, BURST)
    assert namespace["RULES"] == {}  # generate: false
    assert list(namespace["CORRELATION_RULES"]) == ["failed_signin"]  # as the plan names it
    [plan] = namespace["CORRELATIONS"].values()
    assert plan.rules == ("failed_signin",)


def test_correlations_from_the_module_equal_the_engines() -> None:
    namespace = module(FAILED, BURST, REPEATED)
    found = namespace["correlate"](namespace["with_rule_columns"](events()))
    expected = engine(FAILED, BURST, REPEATED)
    plans = namespace["CORRELATIONS"]
    assert {plans[cid].key for cid in found} == set(expected) == {"burst", REPEATED_ID}
    for correlation_id, hits in found.items():
        assert_frame_equal(hits, expected[plans[correlation_id].key])
    assert found[BURST_ID]["user"].to_list() == ["alice", "alice"]
    assert found[REPEATED_ID]["user"].to_list() == ["alice"]


def test_a_rule_referenced_by_id_and_generated_is_in_both_mappings() -> None:
    namespace = module(FAILED, BY_ID)
    rule_id = "7e1c0000-0000-4000-8000-000000000001"
    assert list(namespace["RULES"]) == [rule_id]
    assert list(namespace["CORRELATION_RULES"]) == [rule_id]
    assert namespace["RULES"][rule_id].meta.eq(namespace["CORRELATION_RULES"][rule_id])
    found = namespace["correlate"](events())
    assert_frame_equal(found[BY_ID_ID], engine(FAILED, BY_ID)[BY_ID_ID])
    assert found[BY_ID_ID]["user"].to_list() == ["alice", "alice"]


def test_a_module_without_correlations_needs_only_polars() -> None:
    text = PolarsBackend().convert(SigmaCollection.from_yaml(FAILED), "module")
    imports = [line for line in text.splitlines() if line.startswith(("import ", "from "))]
    assert imports == ["import polars as pl"]
    namespace: dict[str, Any] = {}
    exec(compile(text, "rules.py", "exec"), namespace)
    assert namespace["COLUMNS"] == {"outcome": pl.String()}
    assert "correlate" not in namespace


def test_column_types_render_as_source() -> None:
    from auditlake.detection.rendering import dtype_source

    types = (pl.String(), pl.Int64(), pl.Datetime("us", "UTC"), pl.Datetime("ns"), pl.List(pl.String()), pl.Date())
    for dtype in types:
        assert eval(dtype_source(dtype), {"pl": pl}) == dtype


NESTED = """\
title: root user
id: 7e1c0000-0000-4000-8000-000000000005
status: test
logsource: {category: test}
detection:
  sel: {userIdentity.type: Root}
  condition: sel
"""


def test_the_modules_own_example_finds_a_nested_field(tmp_path: Any) -> None:
    """The recipe the module's docstring gives for a file of JSON records is run as written:
    a nested field must reach the rules as a dotted column (a struct column is read by none)."""
    text = PolarsBackend().convert(SigmaCollection.from_yaml(NESTED), "module")
    namespace: dict[str, Any] = {}
    exec(compile(text, "rules.py", "exec"), namespace)
    doc = namespace["__doc__"]
    [block] = [b for b in doc.split("\n\n") if all(line.startswith("    ") for line in b.strip("\n").splitlines())]
    example = [line.strip() for line in block.strip("\n").splitlines()]
    assert any('open("events.jsonl")' in line for line in example), doc
    lines = ['{"userIdentity": {"type": "Root"}, "eventName": "GetObject"}',
             '{"userIdentity": {"type": "IAMUser"}, "eventName": "GetObject"}']
    (tmp_path / "events.jsonl").write_text("\n".join(lines) + "\n")
    import json
    import os

    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        run: dict[str, Any] = {**namespace, "json": json}
        exec("\n".join(example), run)
    finally:
        os.chdir(here)
    [hits] = run["hits"].values()
    assert hits["userIdentity.type"].to_list() == ["Root"]
