"""Rule plans cached on disk: the same plans as planning, keyed by everything they follow from."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest

from auditlake.detection import evaluate, plancache, prefilter
from auditlake.detection.compile import CompiledRule
from auditlake.detection.evaluate import atom_columns
from auditlake.detection.prefilter import RulePlan, plan_rules
from auditlake.detection.rulecache import compile_rules_cached

REPO_RULES = Path(__file__).resolve().parents[2] / "rules"
SOURCE = "aws.cloudtrail"
SCHEMA = pl.Schema(
    {"eventName": pl.String, "eventSource": pl.String, "userIdentity.arn": pl.String, "raw": pl.String}
)

RULE = """\
title: Trail stopped
id: 0f2d5a7e-3c41-4a8e-9a51-6c1d2b3e4f{n:02d}
status: test
logsource: {{product: aws, service: cloudtrail}}
detection:
  sel:
    eventSource: cloudtrail.amazonaws.com
    eventName: {name}
  condition: sel
level: high
"""


def _rules(folder: Path, cache: Path) -> list[CompiledRule]:
    ruleset = compile_rules_cached([folder], cache_dir=cache)
    return [r for r in ruleset.rules if SOURCE in r.sources]


def _plain(plans: list[RulePlan]) -> list[tuple[object, ...]]:
    return [(plan.rule.id, plan.sets, plan.scope) for plan in plans]


def test_cached_plans_equal_planning_and_are_not_planned_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = _rules(REPO_RULES, tmp_path)
    assert len(rules) > 5
    columns = atom_columns(SCHEMA, SOURCE)
    fresh = plan_rules(rules, columns, SOURCE)
    first = plancache.planned(rules, columns, SOURCE, cache_dir=tmp_path)
    assert len(list((tmp_path / "plans").glob("*.pickle"))) == 1

    def refuse(*_: object) -> None:
        raise AssertionError("planned again")

    monkeypatch.setattr(plancache, "plan_rules", refuse)
    again = plancache.planned(_rules(REPO_RULES, tmp_path), columns, SOURCE, cache_dir=tmp_path)
    assert _plain(first) == _plain(fresh) == _plain(again)
    assert any(plan.sets for plan in again)  # the comparison holds something


def test_the_key_follows_the_rules_the_schema_and_the_source(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "a.yml").write_text(RULE.format(n=1, name="StopLogging"))
    (folder / "b.yml").write_text(RULE.format(n=2, name="DeleteTrail"))
    rules = _rules(folder, tmp_path)
    columns = atom_columns(SCHEMA, SOURCE)
    key = plancache.plan_key(rules, columns, SOURCE)
    assert key is not None
    assert plancache.plan_key(_rules(folder, tmp_path), columns, SOURCE) == key  # a second run

    (folder / "b.yml").write_text(RULE.format(n=2, name="UpdateTrail"))  # one rule changed
    changed = _rules(folder, tmp_path)
    assert plancache.plan_key(changed, columns, SOURCE) != key
    assert plancache.plan_key(rules[:1], columns, SOURCE) != key  # other rules
    wider = atom_columns(pl.Schema({**SCHEMA, "errorCode": pl.String}), SOURCE)
    assert plancache.plan_key(rules, wider, SOURCE) != key
    retyped = atom_columns(pl.Schema({**SCHEMA, "eventName": pl.Int64}), SOURCE)
    assert plancache.plan_key(rules, retyped, SOURCE) != key
    assert plancache.plan_key(rules, atom_columns(SCHEMA, "gcp.audit"), "gcp.audit") != key


def test_rules_compiled_without_the_rule_cache_are_planned_every_time(tmp_path: Path) -> None:
    from auditlake.detection.compile import compile_rules

    rules = [r for r in compile_rules([REPO_RULES]).rules if SOURCE in r.sources]
    columns = atom_columns(SCHEMA, SOURCE)
    assert plancache.plan_key(rules, columns, SOURCE) is None
    plans = plancache.planned(rules, columns, SOURCE, cache_dir=tmp_path)
    assert _plain(plans) == _plain(plan_rules(rules, columns, SOURCE))
    assert not (tmp_path / "plans").exists()


@pytest.mark.parametrize("damage", [b"", b"not a pickle", None])
def test_an_unreadable_entry_is_planned_again(tmp_path: Path, damage: bytes | None) -> None:
    rules = _rules(REPO_RULES, tmp_path)
    columns = atom_columns(SCHEMA, SOURCE)
    plancache.planned(rules, columns, SOURCE, cache_dir=tmp_path)
    (entry,) = (tmp_path / "plans").glob("*.pickle")
    if damage is None:  # a well-formed entry for other rules
        import pickle

        entry.write_bytes(pickle.dumps([(None, None)]))
    else:
        entry.write_bytes(damage)
    plans = plancache.planned(rules, columns, SOURCE, cache_dir=tmp_path)
    assert _plain(plans) == _plain(plan_rules(rules, columns, SOURCE))
    assert entry.stat().st_size > 100  # stored again


def test_only_the_most_recently_used_entries_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plancache, "KEPT", 3)
    rules = _rules(REPO_RULES, tmp_path)
    schemas = [pl.Schema({**SCHEMA, f"extra{n}": pl.String}) for n in range(5)]
    for schema in schemas:
        plancache.planned(rules, atom_columns(schema, SOURCE), SOURCE, cache_dir=tmp_path)
        for entry in (tmp_path / "plans").glob("*.pickle"):  # distinct times on any file system
            stamp = entry.stat().st_mtime - 10
            os.utime(entry, (stamp, stamp))
    kept = {p.stem for p in (tmp_path / "plans").glob("*.pickle")}
    newest = {plancache.plan_key(rules, atom_columns(s, SOURCE), SOURCE) for s in schemas[-3:]}
    assert kept == newest


def test_a_read_only_cache_is_still_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = _rules(REPO_RULES, tmp_path)
    columns = atom_columns(SCHEMA, SOURCE)
    plancache.planned(rules, columns, SOURCE, cache_dir=tmp_path)

    def read_only(*_: object, **__: object) -> None:
        raise PermissionError("read-only file system")

    monkeypatch.setattr(plancache.os, "utime", read_only)
    monkeypatch.setattr(plancache, "plan_rules", read_only)  # served from the cache, or this fails
    assert _plain(plancache.planned(rules, columns, SOURCE, cache_dir=tmp_path)) == _plain(
        plan_rules(rules, columns, SOURCE)
    )


def test_a_cache_that_cannot_be_written_only_costs_planning(tmp_path: Path) -> None:
    rules = _rules(REPO_RULES, tmp_path / "rules-cache")
    columns = atom_columns(SCHEMA, SOURCE)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    plans = plancache.planned(rules, columns, SOURCE, cache_dir=blocked)
    assert _plain(plans) == _plain(plan_rules(rules, columns, SOURCE))


def test_a_runs_judgements_are_kept_and_the_next_run_does_not_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sets a large batch's sample showed worth searching, and whether each column's values
    repeat, are kept with the plans; a later run of the same rules on the same schema searches
    as they say, without sampling, and finds the same matches."""
    monkeypatch.setenv("AUDITLAKE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(prefilter, "SAMPLE_ROWS", 16)  # 64 rows make a batch large enough to judge
    monkeypatch.setattr(prefilter, "MIN_ROWS", 64)
    names = ["StopLogging", "DeleteTrail", "ConsoleLogin", "GetObject", "PutObject", "ListBuckets"]
    rows = [
        {"eventName": names[i % len(names)], "eventSource": "cloudtrail.amazonaws.com" if i % 3 else "s3.amazonaws.com",
         "userIdentity.arn": f"arn:aws:iam::1:user/u{i % 7}", "event_uid": f"e{i}"}
        for i in range(300)
    ]
    frame = pl.DataFrame([{**row, "raw": json.dumps(row)} for row in rows])
    evaluate._PREPARED.clear()
    first = evaluate.evaluate_candidates(_rules(REPO_RULES, tmp_path), frame, source=SOURCE)
    kept = list((tmp_path / "plans").glob("*.judged.pickle"))
    assert len(kept) == 1
    atoms, repeating = plancache.load_judged(kept[0].name.removesuffix(".judged.pickle"), cache_dir=tmp_path) or ()
    assert atoms.height and repeating  # what the first batch judged

    def refuse(*_: object) -> None:
        raise AssertionError("sampled again")

    evaluate._PREPARED.clear()
    monkeypatch.setattr(evaluate, "searched_atoms", refuse)
    again = evaluate.evaluate_candidates(_rules(REPO_RULES, tmp_path), frame, source=SOURCE)
    assert again.equals(first)
    assert first.height  # the comparison holds something

    beyond = atoms.with_columns(pl.col("rule") + 10_000)  # rules these plans do not have
    for damaged in (pl.DataFrame({"rule": [0]}), beyond):  # another shape (an older format)
        monkeypatch.setattr(evaluate, "load_judged", lambda *_, entry=damaged, **__: (entry, {}))
        evaluate._PREPARED.clear()
        with pytest.raises(AssertionError, match="sampled again"):  # is not used
            evaluate.evaluate_candidates(_rules(REPO_RULES, tmp_path), frame, source=SOURCE)
