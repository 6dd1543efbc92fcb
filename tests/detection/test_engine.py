"""The detection engine over a lake: equivalence of one run, daily incremental runs and time
ranges; idempotence; late events; a crash midway; one run at a time."""

from __future__ import annotations

import dataclasses
import gc
import json
import threading
import weakref
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditlake.detection import (
    alert_store,
    engine,
    evaluate,
    narrow_rules,
    read_ahead,
    spilled_matches,
)
from auditlake.detection.alert_store import AlertStore
from auditlake.detection.compile import RuleSet, compile_rules
from auditlake.detection.engine import lookback, run_detection
from auditlake.errors import LakeError
from auditlake.ingest import ingest
from auditlake.lake.lock import FileLock
from auditlake.lake.paths import LakePaths
from auditlake.lake.scan import scan_events
from auditlake.synth.generate import generate

START = datetime(2026, 3, 2, tzinfo=UTC)
DAYS = 3

RULES = """\
title: Okta sign-in failure
id: 5a1c6b38-0d5e-4f3f-9a53-8f3b5f0c1a01
name: okta_failure
status: test
logsource: {product: okta, service: okta}
detection:
  sel:
    eventType: user.session.start
    outcome.result: FAILURE
  condition: sel
level: low
---
title: Okta repeated sign-in failures
id: 5a1c6b38-0d5e-4f3f-9a53-8f3b5f0c1a02
status: test
correlation:
  type: event_count
  rules: [okta_failure]
  group-by: [actor.alternateId]
  timespan: 1h
  condition: {gte: 3}
level: high
"""

CLOUD_RULE = """\
title: CloudTrail console sign-in
id: 5a1c6b38-0d5e-4f3f-9a53-8f3b5f0c1a03
status: test
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName: ConsoleLogin
  condition: sel
level: informational
"""


def _okta_failure(moment: datetime, user: str, uid: str) -> str:
    return json.dumps({
        "uuid": uid,
        "published": moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "eventType": "user.session.start",
        "displayMessage": "User login to Okta",
        "severity": "WARN",
        "actor": {"id": f"id-{user}", "type": "User", "alternateId": user, "displayName": user},
        "client": {"ipAddress": "203.0.113.9"},
        "outcome": {"result": "FAILURE", "reason": "INVALID_CREDENTIALS"},
    })


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, list[Path]]:
    """Per day: the synthetic organisation's files, plus a burst of failures over midnight."""
    root = tmp_path_factory.mktemp("inputs")
    generate(root / "synth", days=DAYS, scale=0.03)
    burst = root / "burst"
    burst.mkdir()
    midnight = START + timedelta(days=1)
    (burst / "day0.jsonl").write_text(
        _okta_failure(midnight - timedelta(minutes=5), "mallory@example.com", "burst-1") + "\n"
        + _okta_failure(midnight - timedelta(minutes=2), "mallory@example.com", "burst-2") + "\n"
    )
    (burst / "day1.jsonl").write_text(
        _okta_failure(midnight + timedelta(minutes=1), "mallory@example.com", "burst-3") + "\n"
    )
    days: dict[int, list[Path]] = {}
    for number in range(DAYS):
        stamp = (START + timedelta(days=number)).date().isoformat()
        days[number] = sorted((root / "synth").glob(f"*/{stamp}.*"))
    days[0].append(burst / "day0.jsonl")
    days[1].append(burst / "day1.jsonl")
    return days


@pytest.fixture(scope="module")
def ruleset(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    folder = tmp_path_factory.mktemp("rules")
    (folder / "okta.yml").write_text(RULES)
    (folder / "aws.yml").write_text(CLOUD_RULE)
    return compile_rules([folder])


def _alert_ids(lake: LakePaths) -> set[str]:
    return set(AlertStore(lake).scan().select("alert_id").collect()["alert_id"].to_list())


def _lake(tmp_path: Path, name: str) -> LakePaths:
    return LakePaths.at(tmp_path / name)


def test_one_run_daily_runs_and_ranges_agree(inputs: dict[int, list[Path]], ruleset: RuleSet, tmp_path: Path) -> None:
    whole = _lake(tmp_path, "whole")
    ingest([p for day in inputs.values() for p in day], whole, workers=1)
    first = run_detection(whole, ruleset, digest="rules")
    assert first.alerts.height > 0

    daily = _lake(tmp_path, "daily")
    for number in range(DAYS):
        ingest(inputs[number], daily, workers=1)
        run_detection(daily, ruleset, digest="rules")

    ranges = _lake(tmp_path, "ranges")
    ingest([p for day in inputs.values() for p in day], ranges, workers=1)
    for number in range(DAYS):
        day = START + timedelta(days=number)
        run_detection(ranges, ruleset, digest="rules", since=day, until=day + timedelta(days=1))

    assert _alert_ids(daily) == _alert_ids(whole) == _alert_ids(ranges)
    # The burst over midnight is found although no single day holds three failures.
    burst = AlertStore(whole).scan().filter(pl.col("rule_kind") == "correlation").collect()
    assert "burst-3" in {uid for uids in burst["event_uids"].to_list() for uid in uids}


def test_correlations_in_time_slices_raise_the_alerts_of_one_slice(
    inputs: dict[int, list[Path]], ruleset: RuleSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run correlates its span slice by slice (each slice with the look-back before it): a
    run, a range and daily incremental runs cut into many slices (their matches read back from
    files) store the alerts of the same runs in one slice, the burst over midnight included."""
    slices: list[int] = []
    alerts_of = engine._correlation_alerts

    def counting(*args: Any) -> pl.DataFrame:
        slices.append(1)
        return alerts_of(*args)

    monkeypatch.setattr(engine, "_correlation_alerts", counting)
    everything = [p for day in inputs.values() for p in day]
    runs: dict[str, LakePaths] = {}
    for per_slice in (engine.CORRELATION_SLICE_ROWS, 3):
        monkeypatch.setattr(engine, "CORRELATION_SLICE_ROWS", per_slice)
        # In slices, the matches are also read back from files rather than memory.
        monkeypatch.setattr(spilled_matches, "MEMORY_BYTES", 0 if per_slice == 3 else spilled_matches.MEMORY_BYTES)
        slices.clear()
        whole, ranged, daily = (_lake(tmp_path, f"{name}-{per_slice}") for name in ("whole", "ranged", "daily"))
        ingest(everything, whole, workers=1)
        run_detection(whole, ruleset, digest="rules")
        ingest(everything, ranged, workers=1)
        run_detection(ranged, ruleset, digest="rules", since=START + timedelta(hours=12), until=START + timedelta(days=2))
        for number in range(DAYS):
            ingest(inputs[number], daily, workers=1)
            run_detection(daily, ruleset, digest="rules")
        runs_made = 1 + 1 + DAYS
        assert len(slices) <= runs_made if per_slice > 3 else len(slices) > 2 * runs_made
        runs |= {f"whole-{per_slice}": whole, f"ranged-{per_slice}": ranged, f"daily-{per_slice}": daily}
    for name in ("whole", "ranged", "daily"):
        assert _alert_ids(runs[f"{name}-3"]) == _alert_ids(runs[f"{name}-{engine.CORRELATION_SLICE_ROWS}"])
        stored = AlertStore(runs[f"{name}-3"]).scan().select("alert_id").collect()
        assert stored.height == stored["alert_id"].n_unique()  # no hit found by two slices
    assert _alert_ids(runs["daily-3"]) == _alert_ids(runs["whole-3"])
    burst = AlertStore(runs["whole-3"]).scan().filter(pl.col("rule_kind") == "correlation").collect()
    assert "burst-3" in {uid for uids in burst["event_uids"].to_list() for uid in uids}


def test_the_correlated_matches_wait_on_disk_and_are_removed_after_the_run(
    inputs: dict[int, list[Path]], ruleset: RuleSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beyond what they may hold in memory (none here), the correlated rules' matches go to the
    run's folder under `_state/tmp/` during the scan; the folder is gone after the run, and so
    is one a killed run left."""
    lake = _lake(tmp_path, "lake")
    ingest(inputs[0] + inputs[1], lake, workers=1)
    leftover = lake.state / "tmp" / "detect-killed"
    leftover.mkdir(parents=True)
    (leftover / "part-00000.parquet").write_bytes(b"")
    written: list[Path] = []
    add = spilled_matches.SpilledMatches.add

    def adding(spill: spilled_matches.SpilledMatches, frame: pl.DataFrame) -> None:
        add(spill, frame)
        written.extend(spill.folder.glob("*.parquet"))

    monkeypatch.setattr(spilled_matches.SpilledMatches, "add", adding)
    monkeypatch.setattr(spilled_matches, "MEMORY_BYTES", 0)
    summary = run_detection(lake, ruleset, digest="rules")
    assert written and summary.new_alerts > 0
    assert not leftover.exists() and not any(path.exists() for path in written)
    assert list((lake.state / "tmp").iterdir()) == []


def test_rerunning_adds_nothing(
    inputs: dict[int, list[Path]], ruleset: RuleSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = _lake(tmp_path, "lake")
    ingest(inputs[0] + inputs[1], lake, workers=1)
    first = run_detection(lake, ruleset, digest="rules")
    again = run_detection(lake, ruleset, digest="rules")
    matched: list[int] = []  # matches per batch, and rows written per stored file
    written: list[int] = []
    rows_of, table_of = alert_store.detection_rows, alert_store.detection_table

    def rows(evidence: pl.DataFrame) -> pl.DataFrame:
        matched.append(evidence.height)
        return rows_of(evidence)

    def table(rows: pl.DataFrame, *args: Any) -> Any:
        written.append(rows.height)
        return table_of(rows, *args)

    monkeypatch.setattr(alert_store, "detection_rows", rows)
    monkeypatch.setattr(alert_store, "detection_table", table)
    replay = run_detection(lake, ruleset, digest="rules", since=START, until=START + timedelta(days=5))
    assert any(matched) and not written  # the replay's matches were all stored: none was written
    assert first.alerts.height > 0
    assert again.events_scanned == 0 and again.alerts.height == 0
    assert replay.events_scanned > 0 and replay.alerts.height == 0
    stored = AlertStore(lake).scan().collect()
    assert stored["alert_id"].n_unique() == stored.height == first.alerts.height


def test_progress_counts_events_up_to_the_total(
    inputs: dict[int, list[Path]], ruleset: RuleSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = _lake(tmp_path, "lake")
    ingest(inputs[0] + inputs[1], lake, workers=1, batch_rows=50)  # several files, so several batches
    monkeypatch.setattr(engine, "BATCH_ROWS", 60)
    calls: list[tuple[str, int, int]] = []
    summary = run_detection(lake, ruleset, digest="rules", progress=lambda *call: calls.append(call))
    done = [d for _, d, _ in calls]
    assert done == sorted(done) and len(set(done)) > 3
    assert {t for _, _, t in calls} == {summary.events_scanned}
    assert calls[-1] == ("done", summary.events_scanned, summary.events_scanned)
    assert ("correlations", summary.events_scanned, summary.events_scanned) in calls


def test_a_range_run_counts_the_events_of_its_range_only(
    inputs: dict[int, list[Path]], ruleset: RuleSet, tmp_path: Path
) -> None:
    lake = _lake(tmp_path, "lake")
    ingest(inputs[0], lake, workers=1)
    since, until = START + timedelta(hours=9), START + timedelta(hours=15)
    events = scan_events(lake).collect()
    routed = {s for rule in ruleset.rules for s in rule.sources}
    in_range = events.filter(
        pl.col("source").is_in(routed) & (pl.col("time") >= since) & (pl.col("time") < until)
    ).height
    summary = run_detection(lake, ruleset, digest="rules", since=since, until=until)
    assert 0 < in_range < events.height
    assert summary.events_scanned == in_range


def test_alerts_built_beside_the_next_batch_are_all_stored_and_counted(
    inputs: dict[int, list[Path]], ruleset: RuleSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many small batches, each one's alerts built while the next is evaluated: the store holds
    the same alerts as a run in one batch, and the summary counts every one of them."""
    whole, batched = _lake(tmp_path, "whole"), _lake(tmp_path, "batched")
    for lake in (whole, batched):
        ingest(inputs[0] + inputs[1], lake, workers=1, batch_rows=50)
    run_detection(whole, ruleset, digest="rules")
    monkeypatch.setattr(engine, "BATCH_ROWS", 60)
    monkeypatch.setattr(evaluate, "DEFER_ROWS", 0)  # every rule's alerts built with its batch
    built: list[int] = []
    store_matches = engine._store_matches

    def counting(*args: object) -> Counter[tuple[str, str]]:
        stored = store_matches(*args)  # type: ignore[arg-type]
        built.append(sum(stored.values()))
        return stored

    monkeypatch.setattr(engine, "_store_matches", counting)
    summary = run_detection(batched, ruleset, digest="rules")
    stored = AlertStore(batched).scan().collect()
    assert len(built) > 3 and sum(built) > 0
    assert _alert_ids(batched) == _alert_ids(whole)
    assert summary.new_alerts == stored.height
    detections = stored.filter(pl.col("rule_kind") == "detection")
    assert sum(built) == detections.height
    assert sum(n for (_, title), n in summary.counts.items() if title == "Okta sign-in failure") == (
        detections.filter(pl.col("rule_title") == "Okta sign-in failure").height
    )


def test_rules_held_back_from_batch_to_batch_run_once_and_raise_the_same_alerts(
    inputs: dict[int, list[Path]], ruleset: RuleSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rules with few candidates in a batch wait for the source's later batches and run once
    on all their rows: the alerts (correlations included) are those of a run in one batch,
    and no rule runs twice on a source, where batch by batch some do."""
    whole, batched, each = _lake(tmp_path, "whole"), _lake(tmp_path, "batched"), _lake(tmp_path, "each")
    for lake in (whole, batched, each):
        ingest(inputs[0] + inputs[1], lake, workers=1, batch_rows=50)
    run_detection(whole, ruleset, digest="rules")
    monkeypatch.setattr(engine, "BATCH_ROWS", 60)
    runs: Counter[tuple[int, int]] = Counter()  # (the rules' plans, rule): runs
    hits = narrow_rules.narrow_hits

    def counting(bound: Any, frame: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
        runs.update((id(bound.__self__), rule) for rule in pairs["rule"].to_list())
        return hits(bound, frame, pairs)

    monkeypatch.setattr(narrow_rules, "narrow_hits", counting)
    monkeypatch.setattr(evaluate, "narrow_hits", counting)
    held = run_detection(batched, ruleset, digest="rules")
    assert _alert_ids(batched) == _alert_ids(whole)
    assert held.new_alerts == len(_alert_ids(whole))
    assert runs and max(runs.values()) == 1
    runs.clear()
    monkeypatch.setattr(evaluate, "DEFER_ROWS", 0)  # every rule run batch by batch
    run_detection(each, ruleset, digest="rules")
    assert _alert_ids(each) == _alert_ids(whole)
    assert max(runs.values()) > 1


def test_correlations_read_only_what_the_run_did_not(
    inputs: dict[int, list[Path]], ruleset: RuleSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's own read feeds correlations: a range reads just its look-back again, an
    incremental run just the older commits' events of its span, and the alerts stay those of
    one run over everything."""
    lake = _lake(tmp_path, "lake")
    ingest(inputs[0], lake, workers=1)
    run_detection(lake, ruleset, digest="rules")
    ingest(inputs[1], lake, workers=1)
    calls: list[tuple[object, ...]] = []
    matches = engine._correlation_matches

    def recording(*args: object) -> pl.DataFrame:
        calls.append(args[-2:])  # (span, commits)
        return matches(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "_correlation_matches", recording)
    run_detection(lake, ruleset, digest="rules")  # incremental: the second day's commits
    (span, commits), = calls
    assert commits == engine.CommitRange(0, 1)  # the first ingest's commit, not the run's own
    calls.clear()
    day = START + timedelta(days=1)
    run_detection(lake, ruleset, digest="rules", since=day, until=day + timedelta(days=1))
    (span, commits), = calls
    assert span == (day - lookback(ruleset), day)

    whole = _lake(tmp_path, "whole")
    ingest(inputs[0] + inputs[1], whole, workers=1)
    run_detection(whole, ruleset, digest="rules")
    assert _alert_ids(lake) == _alert_ids(whole)


def test_late_events_are_not_missed(ruleset: RuleSet, tmp_path: Path) -> None:
    lake = _lake(tmp_path, "lake")
    early = tmp_path / "early.jsonl"
    late = tmp_path / "late.jsonl"
    moment = START + timedelta(hours=10)
    early.write_text("".join(
        _okta_failure(moment + timedelta(minutes=m), "eve@example.com", f"e{m}") + "\n" for m in (0, 5)
    ))
    ingest([early], lake, workers=1)
    assert run_detection(lake, ruleset, digest="rules").alerts.filter(pl.col("rule_kind") == "correlation").height == 0
    # A day later, an event from before the others arrives.
    late.write_text(_okta_failure(moment - timedelta(minutes=3), "eve@example.com", "late") + "\n")
    ingest([late], lake, workers=1)
    found = run_detection(lake, ruleset, digest="rules").alerts
    assert "late" in found["event_uids"].explode().to_list()
    assert found.filter(pl.col("rule_kind") == "correlation").height == 1


def test_a_run_killed_midway_is_redone_exactly(
    inputs: dict[int, list[Path]], ruleset: RuleSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = _lake(tmp_path, "reference")
    crashed = _lake(tmp_path, "crashed")
    for lake in (reference, crashed):
        ingest([p for day in inputs.values() for p in day], lake, workers=1)
    run_detection(reference, ruleset, digest="rules")

    original = AlertStore._store
    calls = []

    def store_then_die(self: AlertStore, *args: Any) -> None:
        calls.append(args)
        if len(calls) == 2:  # the first file of alerts is stored, the rest never is
            raise KeyboardInterrupt
        original(self, *args)

    monkeypatch.setattr(AlertStore, "_store", store_then_die)
    with pytest.raises(KeyboardInterrupt):
        run_detection(crashed, ruleset, digest="rules")
    monkeypatch.setattr(AlertStore, "_store", original)
    assert 0 < len(_alert_ids(crashed)) < len(_alert_ids(reference))

    run_detection(crashed, ruleset, digest="rules")
    assert _alert_ids(crashed) == _alert_ids(reference)
    stored = AlertStore(crashed).scan().collect()
    assert stored.height == stored["alert_id"].n_unique()


def test_a_second_concurrent_run_is_refused(ruleset: RuleSet, tmp_path: Path) -> None:
    lake = _lake(tmp_path, "lake")
    with FileLock(lake.locks / "detect.lock", purpose="detection run"), pytest.raises(LakeError, match="another detection run"):
        run_detection(lake, ruleset, digest="rules")


def test_alerts_carry_what_an_analyst_needs(inputs: dict[int, list[Path]], ruleset: RuleSet, tmp_path: Path) -> None:
    lake = _lake(tmp_path, "lake")
    ingest(inputs[0] + inputs[1], lake, workers=1)
    alerts = run_detection(lake, ruleset, digest="rules", origin="backfill").alerts
    correlation = alerts.filter(pl.col("rule_kind") == "correlation").row(0, named=True)
    assert correlation["rule_title"] == "Okta repeated sign-in failures"
    assert correlation["level"] == "high" and correlation["origin"] == "backfill"
    assert correlation["source"] == "okta.system"
    assert len(correlation["event_uids"]) >= 3
    assert correlation["first_evidence_at"] <= correlation["last_evidence_at"]
    assert json.loads(correlation["group"])[0]["actor.alternateId"]
    login = alerts.filter(pl.col("rule_title") == "CloudTrail console sign-in").row(0, named=True)
    assert login["actor"] and login["event_uids"] and login["source"] == "aws.cloudtrail"


SHARED_RULES = RULES + """\
---
title: Okta sign-in success
id: 5a1c6b38-0d5e-4f3f-9a53-8f3b5f0c1a12
name: success_alerting_and_correlated
status: test
logsource: {product: okta, service: okta}
detection:
  sel:
    eventType: user.session.start
    outcome.result: SUCCESS
  condition: sel
level: low
---
title: Okta successes in a burst
id: 5a1c6b38-0d5e-4f3f-9a53-8f3b5f0c1a14
status: test
correlation:
  type: event_count
  rules: [success_alerting_and_correlated]
  generate: true
  group-by: [actor.alternateId]
  timespan: 1h
  condition: {gte: 2}
level: high
"""


def test_rules_feeding_correlations_alert_only_when_they_generate(tmp_path: Path) -> None:
    """One pass evaluates the alerting rules and those correlations read: a rule correlations
    read without `generate` (`RULES`' failure rule) raises no alert of its own, one with it
    raises one per event, and both feed their correlations."""
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "shared.yml").write_text(SHARED_RULES)
    rules = compile_rules([folder])
    moment = START + timedelta(hours=9)
    events = [
        json.loads(_okta_failure(moment + timedelta(minutes=m), "eve@example.com", f"f{m}")) for m in range(3)
    ]
    for m in range(2):
        success = json.loads(_okta_failure(moment + timedelta(minutes=m), "sam@example.com", f"s{m}"))
        success["outcome"] = {"result": "SUCCESS"}
        events.append(success)
    source = tmp_path / "okta.jsonl"
    source.write_text("".join(json.dumps(e) + "\n" for e in events))
    lake = _lake(tmp_path, "lake")
    ingest([source], lake, workers=1)
    alerts = run_detection(lake, rules, digest="rules").alerts
    detections = alerts.filter(pl.col("rule_kind") == "detection")
    assert sorted(detections["rule_title"].unique().to_list()) == ["Okta sign-in success"]
    assert sorted(detections["event_uids"].explode().to_list()) == ["s0", "s1"]
    correlations = alerts.filter(pl.col("rule_kind") == "correlation")
    evidence = {r["rule_title"]: sorted(r["event_uids"]) for r in correlations.iter_rows(named=True)}
    assert evidence == {"Okta repeated sign-in failures": ["f0", "f1", "f2"], "Okta successes in a burst": ["s0", "s1"]}


def test_lookback_is_the_longest_chain(ruleset: RuleSet) -> None:
    assert lookback(ruleset) == timedelta(hours=1)


CHAIN = """\
title: first
id: 00000000-0000-4000-8000-000000000001
name: first
logsource: {product: okta, service: okta}
detection: {sel: {eventType: a}, condition: sel}
---
title: second
id: 00000000-0000-4000-8000-000000000002
name: second
logsource: {product: okta, service: okta}
detection: {sel: {eventType: b}, condition: sel}
---
title: third
id: 00000000-0000-4000-8000-000000000003
name: third
logsource: {product: okta, service: okta}
detection: {sel: {eventType: c}, condition: sel}
---
title: a burst of first
id: 00000000-0000-4000-8000-000000000011
name: burst
correlation: {type: event_count, rules: [first], timespan: 10m, condition: {gte: 2}}
---
title: first then second
id: 00000000-0000-4000-8000-000000000012
name: pair
correlation: {type: temporal, rules: [first, second], timespan: 1h}
---
title: pairs then a burst
id: 00000000-0000-4000-8000-000000000013
correlation: {type: temporal, rules: [pair, burst], timespan: 2h}
---
title: third alone
id: 00000000-0000-4000-8000-000000000014
correlation: {type: event_count, rules: [third], timespan: 30m, condition: {gte: 3}}
"""


def test_each_rules_lookback_is_its_longest_chain_of_timespans(tmp_path: Path) -> None:
    """A rule's matches may count as far back as the longest path of timespans from a
    correlation down to it; the longest of all is the run's look-back."""
    (tmp_path / "chain.yml").write_text(CHAIN)
    chained = compile_rules([tmp_path])
    reach = engine.rule_lookback(chained)
    first, second, third = (f"00000000-0000-4000-8000-00000000000{n}" for n in (1, 2, 3))
    assert reach == {first: timedelta(hours=3), second: timedelta(hours=3), third: timedelta(minutes=30)}
    assert lookback(chained) == max(reach.values())


def test_the_look_back_counts_chains_whose_rules_did_not_compile(tmp_path: Path) -> None:
    """A correlation whose rules failed to compile still reaches back its full chain: the
    run's look-back is the longest chain, whatever rule is left at its end."""
    (tmp_path / "chain.yml").write_text(CHAIN)
    chained = compile_rules([tmp_path])
    third = "00000000-0000-4000-8000-000000000003"
    only_third = dataclasses.replace(chained, rules=tuple(r for r in chained.rules if r.id == third))
    assert engine.rule_lookback(only_third) == {third: timedelta(minutes=30)}
    assert lookback(only_third) == timedelta(hours=3)


def test_a_damaged_lake_file_stops_the_run_by_name_and_the_run_after_repair_is_whole(
    inputs: dict[int, list[Path]], ruleset: RuleSet, tmp_path: Path
) -> None:
    """A data file whose bytes changed since its commit stops an incremental run with its
    path, before the watermark moves; once the file is restored, the next run finds every
    alert an undamaged lake gives."""
    from auditlake.detection.watermarks import read_watermark
    from auditlake.lake.commits import read_commits
    from auditlake.lake.damage import DamagedFiles
    from auditlake.lake.writer import committed_path

    clean, damaged = _lake(tmp_path, "clean"), _lake(tmp_path, "damaged")
    for lake in (clean, damaged):
        ingest([p for day in inputs.values() for p in day], lake, workers=1)
    run_detection(clean, ruleset, digest="rules")
    okta = next(f for c in read_commits(damaged) for f in c.files if f.source == "okta.system")
    path = committed_path(damaged, okta.path)
    kept = path.read_bytes()
    path.write_bytes(kept[:-4] + b"XXXX")
    with pytest.raises(DamagedFiles) as raised:
        run_detection(damaged, ruleset, digest="rules")
    assert raised.value.files == (okta,)
    assert read_watermark(damaged, "rules") == 0
    path.write_bytes(kept)
    run_detection(damaged, ruleset, digest="rules")
    assert _alert_ids(damaged) == _alert_ids(clean)


def test_an_unreadable_alert_file_is_named_and_a_range_run_writes_its_alerts_again(
    inputs: dict[int, list[Path]], ruleset: RuleSet, tmp_path: Path
) -> None:
    """The repair the error suggests works: move the file away, run detection over its range,
    and the alerts are those of the undamaged store."""
    from auditlake.detection.alert_store import UnreadableAlertFiles

    lake = _lake(tmp_path, "lake")
    ingest([p for day in inputs.values() for p in day], lake, workers=1)
    run_detection(lake, ruleset, digest="rules", since=START, until=START + timedelta(days=DAYS))
    whole = _alert_ids(lake)
    broken = AlertStore(lake).files()[0]
    broken.write_bytes(broken.read_bytes()[:-4] + b"XXXX")
    with pytest.raises(UnreadableAlertFiles) as raised:
        run_detection(lake, ruleset, digest="rules", since=START, until=START + timedelta(days=DAYS))
    assert raised.value.files == (broken,)
    broken.rename(tmp_path / broken.name)
    run_detection(lake, ruleset, digest="rules", since=START, until=START + timedelta(days=DAYS))
    assert _alert_ids(lake) == whole


def test_detect_command_prints_alerts_as_json_lines(inputs: dict[int, list[Path]], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from auditlake.cli import main

    lake = _lake(tmp_path, "lake")
    ingest(inputs[0] + inputs[1], lake, workers=1)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "okta.yml").write_text(RULES)
    args = ["detect", "--rules", str(rules), "--lake", str(lake.root), "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    alerts = [json.loads(line) for line in result.stdout.splitlines()]
    assert alerts and all(a["rule_id"].startswith("5a1c6b38") for a in alerts)
    required = {"alert_id", "rule_id", "rule_title", "level", "tags", "rule_author", "source",
                "first_evidence_at", "last_evidence_at", "created_at", "origin", "event_uids",
                "actor", "src_ip", "target"}
    assert required <= set(alerts[0])
    assert {a["origin"] for a in alerts} == {"realtime"}
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and again.stdout == ""
    assert "no new commits" in again.stderr

    bad = CliRunner().invoke(main, ["detect", "--rules", str(rules), "--lake", str(lake.root), "--since", "tuesday"])
    assert bad.exit_code == 2 and "ISO-8601" in bad.output


PLACEHOLDER_RULE = """\
title: Sign-in failure of an administrator
id: 5a1c6b38-0d5e-4f3f-9a53-8f3b5f0c1a09
status: test
logsource: {product: okta, service: okta}
detection:
  sel:
    eventType: user.session.start
    actor.alternateId|expand: '%Admins%'
  condition: sel
level: high
"""


def test_detect_resolves_placeholders_from_the_configuration(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from auditlake.cli import main

    lake = _lake(tmp_path, "lake")
    events = tmp_path / "okta.jsonl"
    events.write_text(_okta_failure(START, "root@example.com", "p1") + "\n"
                      + _okta_failure(START, "bob@example.com", "p2") + "\n")
    ingest([events], lake, workers=1)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "admins.yml").write_text(PLACEHOLDER_RULE)
    args = ["detect", "--rules", str(rules), "--lake", str(lake.root), "--json"]

    unconfigured = CliRunner().invoke(main, args)  # its only rule cannot run: an error, not a quiet day
    assert unconfigured.exit_code == 1 and unconfigured.stdout == ""
    assert "%Admins%" in unconfigured.stderr and "placeholder" in unconfigured.stderr
    assert "no rule left to run" in unconfigured.stderr

    config = tmp_path / "auditlake.toml"
    config.write_text('[placeholders]\nAdmins = ["root@example.com"]\n')
    configured = CliRunner().invoke(main, [*args, "--config", str(config)])
    assert configured.exit_code == 0, configured.output
    alerts = [json.loads(line) for line in configured.stdout.splitlines()]
    assert [a["event_uids"] for a in alerts] == [["p1"]]

    config.write_text("[placeholders]\nAdmins = 3\n")
    bad = CliRunner().invoke(main, [*args, "--config", str(config)])
    assert bad.exit_code == 1 and "list of strings" in bad.stderr  # bad configuration


KILLER = """
import os, signal, sys
from auditlake.detection.alert_store import AlertStore
from auditlake.cli import main

original = AlertStore._store
calls = []

def store_then_die(self, *args):
    calls.append(args)
    if len(calls) == 2:  # the first file of alerts is stored, then the process is killed
        self.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    original(self, *args)

AlertStore._store = store_then_die
sys.exit(main(sys.argv[1:]))
"""


def test_detect_killed_midway_then_rerun_equals_an_uninterrupted_run(
    inputs: dict[int, list[Path]], tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "okta.yml").write_text(RULES)
    (rules / "aws.yml").write_text(CLOUD_RULE)
    lakes = {name: _lake(tmp_path, name) for name in ("reference", "killed")}
    for lake in lakes.values():
        ingest([p for day in inputs.values() for p in day], lake, workers=1)

    def detect(lake: LakePaths, *prefix: str) -> subprocess.CompletedProcess[str]:
        args = ["detect", "--rules", str(rules), "--lake", str(lake.root), "--no-cache"]
        command = [sys.executable, *prefix, *args]
        return subprocess.run(command, check=False, capture_output=True, text=True, timeout=300)

    assert detect(lakes["reference"], "-m", "auditlake").returncode == 0
    killed = detect(lakes["killed"], "-c", KILLER)
    assert killed.returncode == -signal.SIGKILL
    assert 0 < len(_alert_ids(lakes["killed"])) < len(_alert_ids(lakes["reference"]))
    assert detect(lakes["killed"], "-m", "auditlake").returncode == 0
    assert _alert_ids(lakes["killed"]) == _alert_ids(lakes["reference"])
    stored = AlertStore(lakes["killed"]).scan().collect()
    assert stored.height == stored["alert_id"].n_unique()


def test_batches_read_ahead_give_the_alerts_of_batches_read_in_turn(
    inputs: dict[int, list[Path]], ruleset: RuleSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many small batches of several sources, correlations included: reading each next batch
    while the current one is evaluated stores the alerts of a run that reads them in turn."""
    early, in_turn = _lake(tmp_path, "early"), _lake(tmp_path, "in-turn")
    for lake in (early, in_turn):
        ingest(inputs[0] + inputs[1], lake, workers=1, batch_rows=50)
    monkeypatch.setattr(engine, "BATCH_ROWS", 60)
    threads: list[str] = []
    read_batch = engine._read_batch

    def reading(*args: object) -> object:
        threads.append(threading.current_thread().name)
        return read_batch(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "_read_batch", reading)
    monkeypatch.setattr(read_ahead, "peak_rss", lambda: 0)
    early_summary = run_detection(early, ruleset, digest="rules")
    assert sum(t.startswith("read-ahead") for t in threads) > 3
    threads.clear()
    monkeypatch.setattr(read_ahead, "MEMORY_BUDGET", 0)
    in_turn_summary = run_detection(in_turn, ruleset, digest="rules")
    assert not any(t.startswith("read-ahead") for t in threads)
    assert _alert_ids(early) == _alert_ids(in_turn) and _alert_ids(early)
    assert early_summary.counts == in_turn_summary.counts
    assert early_summary.events_scanned == in_turn_summary.events_scanned
    assert AlertStore(early).scan().filter(pl.col("rule_kind") == "correlation").collect().height > 0


def test_batches_read_in_turn_are_freed_before_the_next_is_read(
    inputs: dict[int, list[Path]], ruleset: RuleSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without room to read ahead, a run holds one batch at a time: the last one is gone when
    the next is read (a Windows batch is ~190 MiB of columns, ~600 MiB with its raw records)."""
    lake = _lake(tmp_path, "lake")
    ingest(inputs[0] + inputs[1], lake, workers=1, batch_rows=50)
    monkeypatch.setattr(engine, "BATCH_ROWS", 60)
    monkeypatch.setattr(read_ahead, "MEMORY_BUDGET", 0)
    earlier: list[weakref.ref[object]] = []
    read_batch = engine._read_batch

    def reading(*args: object) -> object:
        assert all(ref() is None for ref in earlier), "a batch outlived its turn"
        batch = read_batch(*args)  # type: ignore[arg-type]
        if batch is not None:
            earlier.append(weakref.ref(batch))
        return batch

    monkeypatch.setattr(engine, "_read_batch", reading)
    summary = run_detection(lake, ruleset, digest="rules")
    assert len(earlier) > 3 and summary.new_alerts > 0


def test_the_collector_pauses_during_a_batch_only(
    inputs: dict[int, list[Path]], ruleset: RuleSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches are evaluated with the cycle collector off, and it is on again between batches,
    after the run and after a run that failed midway."""
    lake = _lake(tmp_path, "lake")
    ingest(inputs[0], lake, workers=1, batch_rows=50)
    monkeypatch.setattr(engine, "BATCH_ROWS", 60)
    source_matches = engine._source_matches
    seen: list[bool] = []

    def evaluating(*args: object) -> object:
        seen.append(gc.isenabled())
        return source_matches(*args)  # type: ignore[arg-type]

    def reading(*args: object) -> object:
        seen.append(gc.isenabled())
        return read_batch(*args)  # type: ignore[arg-type]

    read_batch = engine._read_batch
    monkeypatch.setattr(engine, "_source_matches", evaluating)
    monkeypatch.setattr(engine, "_read_batch", reading)
    monkeypatch.setattr(read_ahead, "MEMORY_BUDGET", 0)  # reads in turn, between batches
    assert gc.isenabled()
    run_detection(lake, ruleset, digest="rules")
    assert gc.isenabled()
    assert len(seen) > 4 and seen == [True, False] * (len(seen) // 2)

    def failing(*args: object) -> object:
        raise RuntimeError("evaluation failed")

    other = _lake(tmp_path, "other")
    ingest(inputs[0], other, workers=1, batch_rows=50)
    monkeypatch.setattr(engine, "_source_matches", failing)
    with pytest.raises(RuntimeError, match="evaluation failed"):
        run_detection(other, ruleset, digest="rules")
    assert gc.isenabled()


def test_a_refused_alert_write_stops_the_run_before_its_watermark_and_the_rerun_is_whole(
    inputs: dict[int, list[Path]], ruleset: RuleSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk refuses the run's second alert file (a file-size limit, the kernel's own
    error): the run stops with what to do, its watermark where it was and no part-written file
    in the store; the next run stores exactly the alerts of a run that was never refused."""
    from contextlib import ExitStack

    from tests.lake.helpers import file_size_limit

    from auditlake.detection.watermarks import read_watermark
    from auditlake.lake.write_refused import WriteRefused

    reference, refused = _lake(tmp_path, "reference"), _lake(tmp_path, "refused")
    for lake in (reference, refused):
        ingest([p for day in inputs.values() for p in day], lake, workers=1)
    run_detection(reference, ruleset, digest="rules")
    original, calls, limits = AlertStore._store, [], ExitStack()

    def store_then_fill_the_disk(self: AlertStore, *args: Any) -> None:
        calls.append(args)
        if len(calls) == 2:
            self.flush()
            limits.enter_context(file_size_limit(512))
        original(self, *args)

    monkeypatch.setattr(AlertStore, "_store", store_then_fill_the_disk)
    with limits, pytest.raises(WriteRefused) as raised:
        run_detection(refused, ruleset, digest="rules")
    assert "could not write: File too large" in str(raised.value)
    assert "detection stopped before marking these events done" in str(raised.value)
    assert read_watermark(refused, "rules") == 0
    assert not [p for p in AlertStore(refused).folder.iterdir() if not p.name.startswith("part-")]
    assert 0 < len(_alert_ids(refused)) < len(_alert_ids(reference))
    monkeypatch.undo()
    run_detection(refused, ruleset, digest="rules")
    assert _alert_ids(refused) == _alert_ids(reference)


def test_a_refused_watermark_keeps_the_alerts_and_the_next_run_stores_none_twice(
    inputs: dict[int, list[Path]], ruleset: RuleSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.lake.helpers import file_size_limit

    from auditlake.detection.watermarks import read_watermark, write_watermark
    from auditlake.lake.commits import read_commits
    from auditlake.lake.write_refused import WriteRefused

    lake = _lake(tmp_path, "lake")
    ingest([p for day in inputs.values() for p in day], lake, workers=1)

    def on_a_full_disk(*args: Any) -> None:
        with file_size_limit(0):
            write_watermark(*args)

    monkeypatch.setattr(engine, "write_watermark", on_a_full_disk)
    with pytest.raises(WriteRefused, match="alerts are stored but its watermark did not move"):
        run_detection(lake, ruleset, digest="rules")
    stored = _alert_ids(lake)
    assert stored and read_watermark(lake, "rules") == 0
    monkeypatch.undo()
    again = run_detection(lake, ruleset, digest="rules")
    assert again.alerts.height == 0 and _alert_ids(lake) == stored
    assert read_watermark(lake, "rules") == max(c.seq for c in read_commits(lake))


def test_detect_command_on_a_full_disk_says_so_and_exits_1(inputs: dict[int, list[Path]], tmp_path: Path) -> None:
    from click.testing import CliRunner
    from tests.lake.helpers import file_size_limit

    from auditlake.cli import main

    lake = _lake(tmp_path, "lake")
    ingest(inputs[0], lake, workers=1)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "aws.yml").write_text(CLOUD_RULE)
    with file_size_limit(512):
        result = CliRunner().invoke(main, ["detect", "--rules", str(rules), "--lake", str(lake.root), "--no-cache"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "error: " in result.stderr and "could not write: File too large" in result.stderr
    assert "alerts" in result.stderr.split("could not write")[0]  # the alert store's file
