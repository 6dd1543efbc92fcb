"""The demo end to end: synthetic org generated, ingested whole, ground truth findable in the lake."""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest
from click.testing import CliRunner
from tests.conftest import REPO

from auditlake.cli import main
from auditlake.detection import engine
from auditlake.detection.compile import compile_rules
from auditlake.detection.evaluate import evaluate, evaluate_correlations
from auditlake.lake import scan_events, scan_quarantine
from auditlake.lake.paths import LakePaths
from auditlake.sources import registry


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    args = ["demo", "--synth-dir", str(root / "synth"), "--lake", str(root / "lake"),
            "--days", "2", "--scale", "0.05", "--rules", str(REPO / "rules"), "--json"]
    first = CliRunner().invoke(main, args)
    second = CliRunner().invoke(main, args)
    return root, first, second


def test_demo_ingests_every_generated_event(demo):
    root, first, _ = demo
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["added"] == summary["synth"]["events"] > 1000
    assert summary["quarantined"] == [] and summary["errors"] == []
    sources = set(scan_events(root / "lake").select("source").unique().collect()["source"])
    assert sources == set(registry.names())
    assert scan_quarantine(root / "lake").collect().height == 0


def test_demo_rerun_adds_nothing(demo):
    _, first, second = demo
    again = json.loads(second.stdout)
    assert again["added"] == 0
    assert sum(again["duplicates"].values()) == json.loads(first.stdout)["added"]


def test_every_ground_truth_event_is_in_the_lake(demo):
    root, _, _ = demo
    truth = [json.loads(line) for line in (root / "synth" / "ground_truth.jsonl").open()]
    assert len({t["scenario_id"] for t in truth}) >= 8
    uids = scan_events(root / "lake").select("source", "event_uid").collect()
    missing = []
    for step in truth:
        found = uids.filter(pl.col("source") == step["source"], pl.col("event_uid").is_in(step["event_ids"]))
        if found.height != len(step["event_ids"]):
            missing.append((step["scenario_id"], step["step_name"], found.height, len(step["event_ids"])))
    assert missing == []


def test_demo_rules_catch_every_attack_scenario(demo):
    _, first, second = demo
    detection = json.loads(first.stdout)["detection"]
    assert detection["rules"] >= 40 and detection["correlations"] >= 6
    missed = [s["scenario"] for s in detection["scenarios"] if s["caught_steps"] == 0]
    assert missed == []
    again = json.loads(second.stdout)["detection"]
    assert again["new_alerts"] == 0 and again["alerts"] == detection["alerts"]


def test_batched_detection_equals_one_pass_over_the_lake(demo, tmp_path, monkeypatch):
    """The engine (small batches, candidate rows, narrowed correlation inputs) against the
    simple path: every rule on every event of the lake in one `evaluate`, and every
    correlation over all matched events with nothing narrowed."""
    root, _, _ = demo
    lake = tmp_path / "lake"
    shutil.copytree(root / "lake", lake, ignore=shutil.ignore_patterns("alerts", "state", "locks"))
    ruleset = compile_rules([REPO / "rules"])
    monkeypatch.setattr(engine, "BATCH_ROWS", 700)
    summary = engine.run_detection(LakePaths.at(lake), ruleset, digest="differential")
    stored = summary.alerts
    assert summary.new_alerts == stored.height == sum(summary.counts.values()) > 0

    events = scan_events(lake).collect()
    expected = evaluate([r for r in ruleset.rules if r.output], events.lazy()).collect()
    detections = stored.filter(pl.col("rule_kind") == "detection")
    assert sorted(zip(detections["rule_id"], detections["event_uids"].list.first(), strict=True)) == sorted(
        zip(expected["rule_id"], expected["event_uid"], strict=True))

    hits = evaluate_correlations(ruleset, events.lazy())
    referenced = {k for plan in ruleset.correlations for k in plan.correlation_refs}
    correlations = stored.filter(pl.col("rule_kind") == "correlation")
    assert correlations.height > 0
    for plan in ruleset.correlations:
        if plan.key in referenced and not plan.generate:
            continue
        rule_id = ruleset.correlation_meta[plan.key].id
        mine = correlations.filter(pl.col("rule_id") == rule_id)
        theirs = hits[plan.key]
        assert sorted((t, sorted(u)) for t, u in zip(mine["last_evidence_at"], mine["event_uids"], strict=True)) == \
            sorted((t, sorted(u)) for t, u in zip(theirs["window_end"], theirs["event_uids"], strict=True)), plan.key


def test_demo_into_a_folder_it_cannot_write_says_so(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    args = ["demo", "--synth-dir", str(tmp_path / "file" / "synth"), "--lake", str(tmp_path / "lake"),
            "--days", "1", "--scale", "0.01"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "could not write: Not a directory" in result.stderr and "is a file, not a folder" in result.stderr


def test_demo_ingests_only_what_it_generated(tmp_path):
    """A synthetic-data folder that holds other things (a note in a source folder, another
    folder) still gives a clean demo: those files are not the organisation's."""
    synth = tmp_path / "synth"
    (synth / "okta.system").mkdir(parents=True)
    (synth / "okta.system" / "README.txt").write_text("what these files are\n")
    (synth / "mine").mkdir()
    (synth / "mine" / "notes.jsonl").write_text('{"todo": "read the demo"}\n')
    args = ["demo", "--synth-dir", str(synth), "--lake", str(tmp_path / "lake"),
            "--days", "1", "--scale", "0.01", "--rules", str(tmp_path / "no-rules"), "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["errors"] == [] and summary["added"] == summary["synth"]["events"]
