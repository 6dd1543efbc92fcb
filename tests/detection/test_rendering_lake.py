"""`sigma convert -t polars -p auditlake -f module` output runs on a lake frame and agrees with
the engine.

A small lake is ingested from the case files of a few of the repository's rules, chosen for what
the lake's column contract does to them: Windows `EventID` is Int64, `time` is a UTC Datetime
(`time|hour`), CloudTrail's `requestParameters.policyArn` has no column of its own, and two
correlations read rules that are not output on their own. The module's expressions, run on
`scan_events(lake).collect()`, must find what `evaluate` / `evaluate_correlations` find there.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sigma.collection import SigmaCollection

from auditlake.detection.backend import PolarsBackend
from auditlake.detection.compile import RuleSet, compile_rules
from auditlake.detection.evaluate import evaluate, evaluate_correlations
from auditlake.detection.pipeline import auditlake_pipeline
from auditlake.ingest import ingest
from auditlake.lake import scan_events
from auditlake.lake.paths import LakePaths

RULES_ROOT = Path(__file__).resolve().parents[2] / "rules"

RULE_FILES = (
    "windows/windows_security_audit_log_cleared.yml",  # EventID: 1102 on an Int64 column
    "windows/windows_security_failed_logons_from_one_source.yml",  # correlation, generate: false
    "gateway/gateway_root_session_outside_change_window.yml",  # time|hour on a Datetime
    "gateway/gateway_db_bulk_table_read.yml",  # correlation, group-by a native column
    "aws/aws_iam_administratoraccess_attached.yml",  # requestParameters.policyArn
)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """The events of every case of the rules, as `scan_events` returns them."""
    paths = LakePaths.at(tmp_path_factory.mktemp("lake") / "lake")
    for name in RULE_FILES:
        cases = sorted((RULES_ROOT / name).with_suffix("").glob("*.jsonl"))
        assert cases, f"no case files beside {name}"
        ingest(cases, paths, workers=1)
    return scan_events(paths).collect()


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    ruleset = compile_rules([RULES_ROOT / name for name in RULE_FILES])
    assert not ruleset.failures
    return ruleset


@pytest.fixture(scope="module")
def module() -> Mapping[str, Any]:
    """The module sigma-cli prints with `-p auditlake -f module`, executed."""
    collection = SigmaCollection.load_ruleset([str(RULES_ROOT / name) for name in RULE_FILES])
    text = PolarsBackend(auditlake_pipeline()).convert(collection, "module")
    namespace: dict[str, Any] = {}
    exec(compile(text, "lake_rules.py", "exec"), namespace)
    return namespace


def test_the_lake_frame_has_the_types_that_broke_the_old_output(lake: pl.DataFrame) -> None:
    assert lake.schema["EventID"] == pl.Int64
    assert isinstance(lake.schema["time"], pl.Datetime)
    assert "requestParameters.policyArn" not in lake.columns


def test_module_rules_find_what_the_engine_finds_on_a_lake_frame(
    lake: pl.DataFrame, ruleset: RuleSet, module: Mapping[str, Any]
) -> None:
    engine = evaluate(ruleset.rules, lake.lazy()).collect()
    events = module["with_rule_columns"](lake)
    rules = module["RULES"]
    assert set(rules) == {rule.id for rule in ruleset.rules if rule.output}
    offenders = []
    for rule_id, expr in rules.items():
        expected = set(engine.filter(pl.col("rule_id") == rule_id)["event_uid"])
        found = set(events.filter(expr)["event_uid"])
        if not expected or found != expected:
            offenders.append(f"{rule_id}: module {sorted(found)}, engine {sorted(expected)}")
    assert not offenders, "\n".join(offenders)


def test_default_format_expressions_run_on_a_lake_frame(lake: pl.DataFrame, ruleset: RuleSet) -> None:
    # Every column these three rules read is in this lake, so no helper is needed.
    names = RULE_FILES[0], RULE_FILES[2], RULE_FILES[4]
    collection = SigmaCollection.load_ruleset([str(RULES_ROOT / name) for name in names])
    texts = PolarsBackend(auditlake_pipeline()).convert(collection)
    engine = evaluate(ruleset.rules, lake.lazy()).collect()
    for rule, text in zip(collection.rules, texts, strict=True):
        expected = set(engine.filter(pl.col("rule_id") == str(rule.id))["event_uid"])
        assert expected, rule.title
        assert set(lake.filter(eval(text, {"pl": pl}))["event_uid"]) == expected, rule.title


def test_module_correlations_equal_the_engines_on_a_lake_frame(
    lake: pl.DataFrame, ruleset: RuleSet, module: Mapping[str, Any]
) -> None:
    engine = evaluate_correlations(ruleset, lake.lazy())
    found = module["correlate"](module["with_rule_columns"](lake))
    plans = module["CORRELATIONS"]
    assert len(found) == len(ruleset.correlations) == 2
    for correlation_id, hits in found.items():
        expected = engine[plans[correlation_id].key]
        assert expected.height > 0, correlation_id
        assert_frame_equal(hits, expected)


def test_module_columns_are_typed_as_the_lake_writes_them(module: Mapping[str, Any]) -> None:
    columns = module["COLUMNS"]
    assert columns["EventID"] == pl.Int64
    assert columns["time"] == pl.Datetime("us", "UTC")
    assert columns["raw"] == pl.String  # CloudTrail's requestParameters.policyArn, by path
    assert "requestParameters.policyArn" not in columns


def test_with_rule_columns_adds_the_absent_columns_as_nulls(module: Mapping[str, Any]) -> None:
    frame = pl.DataFrame({"source": ["gateway.teleport"], "raw": ["{}"]})
    completed = module["with_rule_columns"](frame)
    assert completed.schema["EventID"] == pl.Int64
    assert completed["EventID"].to_list() == [None]
    assert completed.filter(pl.any_horizontal(module["RULES"].values())).height == 0
    lazy = module["with_rule_columns"](frame.lazy())
    assert isinstance(lazy, pl.LazyFrame)
    assert lazy.collect().schema == completed.schema
