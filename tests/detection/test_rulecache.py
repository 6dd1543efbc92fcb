"""Compiled rules cached per file: same result as compiling, and only changed files recompile."""

from __future__ import annotations

import gc
from pathlib import Path
from unittest.mock import patch

import pytest

from auditlake.detection import rulecache
from auditlake.detection.compile import compile_rules

DETECTION = """\
title: Rule {n}
id: 7d0f9f6e-0000-4000-8000-00000000000{n}
name: rule_{n}
status: test
logsource: {{product: aws, service: cloudtrail}}
detection:
  sel:
    eventName: Action{n}
  condition: sel
level: low
"""

CORRELATION = """\
---
title: Many of rule 1
id: 7d0f9f6e-0000-4000-8000-0000000000c1
status: test
correlation:
  type: event_count
  rules: [rule_1]
  group-by: [userIdentity.arn]
  timespan: 5m
  condition: {gte: 10, lte: 20}
level: high
"""


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "one.yml").write_text(DETECTION.format(n=1) + CORRELATION)
    for n in (2, 3):
        (folder / f"r{n}.yml").write_text(DETECTION.format(n=n))
    return folder


def _compiled_files(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    calls: list[list[str]] = []
    real = rulecache.compile_rules

    def spy(files, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(sorted(Path(f).name for f in files))
        return real(files, **kwargs)

    monkeypatch.setattr(rulecache, "compile_rules", spy)
    return calls


def test_cached_result_equals_compiling(rules: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = rulecache.compile_rules_cached([rules], cache_dir=cache)
    second = rulecache.compile_rules_cached([rules], cache_dir=cache)
    plain = compile_rules([rules])
    for ruleset in (first, second):
        assert sorted(ruleset.rules, key=lambda r: r.id) == sorted(plain.rules, key=lambda r: r.id)
        assert ruleset.correlations == plain.correlations
        assert dict(ruleset.correlation_meta) == dict(plain.correlation_meta)
    assert second.rules[0].routes  # routes are rebuilt on load


def test_only_a_changed_file_recompiles(rules: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    calls = _compiled_files(monkeypatch)
    rulecache.compile_rules_cached([rules], cache_dir=cache)
    rulecache.compile_rules_cached([rules], cache_dir=cache)
    (rules / "r2.yml").write_text(DETECTION.format(n=2).replace("level: low", "level: medium"))
    changed = rulecache.compile_rules_cached([rules], cache_dir=cache)
    assert calls == [["one.yml", "r2.yml", "r3.yml"], ["r2.yml"]]
    assert {r.id: r.level for r in changed.rules}["7d0f9f6e-0000-4000-8000-000000000002"] == "medium"


def test_placeholders_are_part_of_the_key(rules: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    calls = _compiled_files(monkeypatch)
    rulecache.compile_rules_cached([rules], cache_dir=cache)
    rulecache.compile_rules_cached([rules], cache_dir=cache, placeholders={"Admins": ["root"]})
    assert len(calls) == 2


def test_a_damaged_entry_is_recompiled(rules: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    rulecache.compile_rules_cached([rules], cache_dir=cache)
    for entry in (cache / "rules").glob("*.pickle"):
        entry.write_bytes(b"not a pickle")
    again = rulecache.compile_rules_cached([rules], cache_dir=cache)
    assert len(again.rules) == 3 and len(again.correlations) == 1


def test_references_across_files_compile_together(rules: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (rules / "one.yml").write_text(DETECTION.format(n=1))
    (rules / "corr.yml").write_text(CORRELATION.removeprefix("---\n"))
    calls = _compiled_files(monkeypatch)
    ruleset = rulecache.compile_rules_cached([rules], cache_dir=tmp_path / "cache")
    assert calls == [["corr.yml", "one.yml", "r2.yml", "r3.yml"]]
    assert ruleset.correlations[0].rules == ("rule_1",)
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("enabled", [True, False])
def test_loading_runs_no_collection_and_leaves_the_collector_as_it_was(
    rules: Path, tmp_path: Path, enabled: bool
) -> None:
    cache = tmp_path / "cache"
    rulecache.compile_rules_cached([rules], cache_dir=cache)
    collections: list[str] = []

    def count(phase: str, info: dict[str, int]) -> None:
        collections.append(phase)

    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    gc.callbacks.append(count)
    try:
        real_load = rulecache._load

        def load_and_allocate(path: Path) -> object:
            garbage = [[] for _ in range(5 * gc.get_threshold()[0])]  # enough to trigger gen0
            del garbage
            return real_load(path)

        with patch.object(rulecache, "_load", load_and_allocate):
            loaded = rulecache.compile_rules_cached([rules], cache_dir=cache)
        assert gc.isenabled() is enabled
    finally:
        gc.callbacks.remove(count)
        (gc.enable if was else gc.disable)()
    assert loaded.rules and collections == []


def test_a_command_freezes_what_its_rules_made() -> None:
    gc.unfreeze()  # another test's command may have frozen objects already
    plain = compile_rules([])
    assert gc.get_freeze_count() == 0
    try:
        assert rulecache.frozen_for_the_run(plain) is plain
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_a_cache_that_cannot_be_written_only_costs_compiling(rules: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    ruleset = rulecache.compile_rules_cached([rules], cache_dir=blocked)
    assert len(ruleset.rules) == 3 and len(ruleset.correlations) == 1
    assert blocked.read_text() == "a file where the cache folder would be"


def test_a_store_cut_short_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while an entry is written (rules compile for seconds) goes on as Ctrl-C, and the
    half-written temporary file does not stay in the user's cache."""
    from auditlake.detection import cache_files

    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_files.pickle, "dump", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cache_files.store(tmp_path / "cache" / "entry.pickle", {"rules": 1})
    assert list((tmp_path / "cache").iterdir()) == []
