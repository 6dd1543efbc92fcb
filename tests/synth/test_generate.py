"""generate(): file layout, manifest, determinism, scale, ordering and native numbering."""

from __future__ import annotations

import itertools
import json
import re
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest
from tests.synth.conftest import SMALL
from tests.synth.helpers import AUDIT_LINE, id_and_time, records, source_files

from auditlake.synth import GENERATORS, SynthSummary, generate

EXTENSIONS = {"aws.cloudtrail": ".json.gz", "linux.auditd": ".log"}


def _all_files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_writes_one_native_file_per_source_and_day(small: tuple[Path, SynthSummary]) -> None:
    out, summary = small
    days = [(SMALL["start"] + timedelta(days=i)).isoformat() for i in range(SMALL["days"])]
    for source in GENERATORS:
        ext = EXTENSIONS.get(source, ".jsonl")
        assert [p.name for p in source_files(out, source)] == [f"{d}{ext}" for d in days]
        assert all(summary.counts[source][d] > 0 for d in days), source
    assert (out / "ground_truth.jsonl").is_file() and (out / "ground_truth.parquet").is_file()


def test_manifest_matches_summary(small: tuple[Path, SynthSummary]) -> None:
    out, summary = small
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["seed"], manifest["start"], manifest["days"], manifest["scale"]) == (7, "2026-03-02", 3, 0.05)
    assert manifest["total_events"] == summary.total_events
    for source, entry in manifest["sources"].items():
        assert {d: f["events"] for d, f in entry["files"].items()} == summary.counts[source]
        assert all((out / f["path"]).is_file() for f in entry["files"].values())
    assert [s["id"] for s in manifest["scenarios"]] == list(summary.scenarios)


def test_counts_match_records_in_files(small: tuple[Path, SynthSummary]) -> None:
    out, summary = small
    for source in GENERATORS:
        for path in source_files(out, source):
            day = path.name.split(".")[0]
            assert sum(1 for _ in records(path)) == summary.counts[source][day], path


def test_same_seed_writes_byte_identical_files(tmp_path: Path) -> None:
    args = {"seed": 11, "days": 2, "scale": 0.02}
    generate(tmp_path / "a", **args)
    generate(tmp_path / "b", **args)
    first, second = _all_files(tmp_path / "a"), _all_files(tmp_path / "b")
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []


def test_another_seed_writes_different_files(tmp_path: Path) -> None:
    generate(tmp_path / "a", seed=11, days=1, scale=0.02)
    generate(tmp_path / "b", seed=12, days=1, scale=0.02)
    first, second = _all_files(tmp_path / "a"), _all_files(tmp_path / "b")
    differing = [k for k in first if k != "manifest.json" and first[k] != second.get(k)]
    assert len(differing) == len(first) - 1


def test_volume_is_proportional_to_scale(tmp_path: Path) -> None:
    low = generate(tmp_path / "low", days=2, scale=0.1)
    high = generate(tmp_path / "high", days=2, scale=0.3)
    assert 2.7 < high.total_events / low.total_events < 3.3
    for source in GENERATORS:
        ratio = sum(high.counts[source].values()) / sum(low.counts[source].values())
        assert 2.2 < ratio < 3.8, (source, ratio)


@pytest.mark.slow
def test_default_week_is_a_few_hundred_thousand_events(tmp_path: Path) -> None:
    """Documented volume: scale 1 over a week is 300k-500k events, CloudTrail and Windows largest.

    Estimated from one Monday and one Saturday (5 working days + 2 weekend days).
    """
    monday = generate(tmp_path / "mon", start=date(2026, 3, 2), days=1, scale=1.0)
    saturday = generate(tmp_path / "sat", start=date(2026, 3, 7), days=1, scale=1.0)
    week = {s: 5 * sum(monday.counts[s].values()) + 2 * sum(saturday.counts[s].values()) for s in GENERATORS}
    assert 300_000 < sum(week.values()) < 500_000
    assert sorted(week, key=week.__getitem__)[-2:] in (["aws.cloudtrail", "windows.eventlog"], ["windows.eventlog", "aws.cloudtrail"])


def test_records_are_time_ordered_up_to_small_disorder(small: tuple[Path, SynthSummary]) -> None:
    out, _ = small
    for source in GENERATORS:
        for path in source_files(out, source):
            times = [id_and_time(source, r)[1] for r in records(path)]
            day = date.fromisoformat(path.name[:10])
            assert all(t.date() == day for t in times), path
            backwards = [(a - b).total_seconds() for a, b in itertools.pairwise(times) if b < a]
            assert len(backwards) <= 0.03 * len(times), path
            assert max(backwards, default=0) <= (60 if GENERATORS[source].disorder else 0.001), path


def test_native_ids_are_unique(small: tuple[Path, SynthSummary]) -> None:
    out, _ = small
    for source in GENERATORS:
        ids = [id_and_time(source, r)[0] for path in source_files(out, source) for r in records(path)]
        assert len(ids) == len(set(ids)), source


def test_windows_record_ids_increase_per_computer_and_channel(small: tuple[Path, SynthSummary]) -> None:
    out, _ = small
    last: dict[tuple[str, str], int] = {}
    for path in source_files(out, "windows.eventlog"):
        for rec in records(path):
            system = rec["Event"]["System"]
            key = (system["Computer"], system["Channel"])
            assert system["EventRecordID"] > last.get(key, -1), key
            last[key] = system["EventRecordID"]


def test_auditd_serials_increase_per_host_and_group_records(small: tuple[Path, SynthSummary]) -> None:
    out, _ = small
    last: dict[str, int] = defaultdict(lambda: -1)
    for path in source_files(out, "linux.auditd"):
        for event in records(path):
            matches = [AUDIT_LINE.match(line) for line in event]
            node, serial = matches[0][1], int(matches[0][5])
            assert serial > last[node], node
            last[node] = serial
            types = [m[2] for m in matches]
            if types[0] == "SYSCALL":
                assert types == ["SYSCALL", "EXECVE", "CWD", "PATH", "PATH", "PROCTITLE", "EOE"]


@pytest.mark.parametrize("kwargs", [{"days": 0}, {"scale": 0}, {"sources": ["no.such"]}])
def test_bad_arguments_are_refused(tmp_path: Path, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path, **kwargs)  # type: ignore[arg-type]


def test_parallel_workers_write_the_same_bytes(tmp_path: Path) -> None:
    args = {"seed": 5, "days": 2, "scale": 0.02}
    generate(tmp_path / "serial", **args)
    generate(tmp_path / "parallel", workers=2, **args)
    serial, parallel = _all_files(tmp_path / "serial"), _all_files(tmp_path / "parallel")
    assert serial.keys() == parallel.keys()
    assert [k for k in serial if serial[k] != parallel[k]] == []


def test_rerun_replaces_an_earlier_generation(tmp_path: Path) -> None:
    generate(tmp_path, days=3, scale=0.01, sources=["okta.system"])
    (tmp_path / "okta.system" / "notes.txt").write_text("mine")
    generate(tmp_path, start=date(2026, 3, 3), days=1, scale=0.01, sources=["okta.system"])
    assert sorted(p.name for p in (tmp_path / "okta.system").iterdir()) == ["2026-03-03.jsonl", "notes.txt"]


def test_a_linux_account_name_belongs_to_one_person(small: tuple[Path, SynthSummary]) -> None:
    """First names repeat in a company; Linux account names do not: in audit.log an `acct`
    always has the same login uid, and at the gateway an SSH login is one person's."""
    out, _ = small
    uids: dict[str, set[str]] = defaultdict(set)
    for path in source_files(out, "linux.auditd"):
        for line in path.read_text().splitlines():
            acct, auid = re.search(r' acct="([^"]+)"', line), re.search(r" auid=(\d+)", line)
            if acct and auid and auid[1] != "4294967295":
                uids[acct[1]].add(auid[1])
    assert uids and {a: u for a, u in uids.items() if len(u) > 1} == {}
    users: dict[str, set[str]] = defaultdict(set)
    for path in source_files(out, "gateway.teleport"):
        for rec in records(path):
            if rec["event"] == "session.start" and rec["login"] != "ubuntu":
                users[rec["login"]].add(rec["user"])
    assert users and {login: u for login, u in users.items() if len(u) > 1} == {}
