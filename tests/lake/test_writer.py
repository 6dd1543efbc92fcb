from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.lake.helpers import events

from auditlake.errors import LakeError
from auditlake.lake import LakePaths, LakeWriter, scan_events, scan_quarantine
from auditlake.lake.commits import read_commits
from auditlake.lake.quarantine import QuarantineEntry

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_commit_partitions_by_source_and_day(tmp_path):
    lake = LakePaths.at(tmp_path)
    table = events(("a", "2024-03-01T23:59:59"), ("b", "2024-03-02T00:00:00"), ("c", "2024-03-02T10:00:00"))
    with LakeWriter(lake, now=lambda: NOW) as writer:
        result = writer.commit({"aws.cloudtrail": table})
    assert dict(result.rows) == {("aws.cloudtrail", "2024-03-01"): 1, ("aws.cloudtrail", "2024-03-02"): 2}
    files = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "events").rglob("*.parquet"))
    assert [f.rsplit("/", 1)[0] for f in files] == [
        "events/source=aws.cloudtrail/dt=2024-03-01",
        "events/source=aws.cloudtrail/dt=2024-03-02",
    ]
    got = scan_events(lake).sort("time").collect()
    assert got["event_uid"].to_list() == ["a", "b", "c"]
    assert got["ingested_at"].to_list() == [NOW] * 3
    assert got["dt"].cast(pl.String).to_list() == ["2024-03-01", "2024-03-02", "2024-03-02"]
    assert not (tmp_path / "_staging").exists() or not any((tmp_path / "_staging").iterdir())


def test_recommit_adds_nothing_and_counts_duplicates(tmp_path):
    lake = LakePaths.at(tmp_path)
    with LakeWriter(lake) as writer:
        writer.commit({"aws.cloudtrail": events(("a", "2024-03-01T01:00:00"), ("b", "2024-03-01T02:00:00"))})
    with LakeWriter(lake) as writer:
        again = writer.commit(
            {"aws.cloudtrail": events(("a", "2024-03-01T01:00:00"), ("b", "2024-03-01T02:00:00"), ("c", "2024-03-01T03:00:00"))}
        )
        within = writer.commit({"aws.cloudtrail": events(("d", "2024-03-01T01:00:00"), ("d", "2024-03-01T01:00:00"))})
    assert sum(again.rows.values()) == 1 and again.duplicates["aws.cloudtrail"] == 2
    assert sum(within.rows.values()) == 1 and within.duplicates["aws.cloudtrail"] == 1
    assert sorted(scan_events(lake).collect()["event_uid"].to_list()) == ["a", "b", "c", "d"]


def test_an_id_on_two_days_lands_the_same_in_one_batch_or_two(tmp_path):
    """Duplicates within a batch are judged as against the lake: per day, so batching cannot
    change what a lake holds (a re-run with smaller batches would otherwise add a row)."""
    pair = (("x", "2024-03-01T10:00:00"), ("x", "2024-03-02T10:00:00"))
    one = LakePaths.at(tmp_path / "one")
    with LakeWriter(one) as writer:
        together = writer.commit({"aws.cloudtrail": events(*pair)})
    two = LakePaths.at(tmp_path / "two")
    with LakeWriter(two) as writer:
        apart = [writer.commit({"aws.cloudtrail": events(row)}) for row in pair]
    assert sum(together.rows.values()) == 2 and together.duplicates["aws.cloudtrail"] == 0
    assert sum(sum(r.rows.values()) for r in apart) == 2
    days = [scan_events(lake).collect()["dt"].cast(pl.String).sort().to_list() for lake in (one, two)]
    assert days == [["2024-03-01", "2024-03-02"]] * 2
    with LakeWriter(one) as writer:
        assert sum(writer.commit({"aws.cloudtrail": events(pair[1])}).rows.values()) == 0


def test_a_partition_whose_files_differ_in_columns_takes_further_batches(tmp_path):
    """A native field that appears in a later file (CloudTrail's `tlsDetails`) must not make
    the day unwritable: identities are read from each file on its own."""
    lake = LakePaths.at(tmp_path)
    for uid, extra in (("a", {}), ("b", {"tlsDetails.tlsVersion": "TLSv1.3"}), ("c", {})):
        with LakeWriter(lake) as writer:
            result = writer.commit({"aws.cloudtrail": events((uid, "2024-03-01T10:00:00"), **extra)})
        assert sum(result.rows.values()) == 1
    with LakeWriter(lake) as writer:
        assert sum(writer.commit({"aws.cloudtrail": events(("b", "2024-03-01T10:00:00"))}).rows.values()) == 0
    assert sorted(scan_events(lake).collect()["event_uid"].to_list()) == ["a", "b", "c"]


def test_nothing_new_means_no_commit(tmp_path):
    lake = LakePaths.at(tmp_path)
    with LakeWriter(lake) as writer:
        writer.commit({"aws.cloudtrail": events(("a", "2024-03-01T01:00:00"))})
        result = writer.commit({"aws.cloudtrail": events(("a", "2024-03-01T01:00:00"))})
    assert result.batch_id is None
    assert len(read_commits(lake)) == 1


def test_quarantine_is_kept_verbatim_and_deduplicated(tmp_path):
    lake = LakePaths.at(tmp_path)
    bad = QuarantineEntry("aws.cloudtrail", "in.json", "in.json:3", "truncated JSON", b'{"a": \xff')
    with LakeWriter(lake) as writer:
        first = writer.commit({}, [bad, bad])
    with LakeWriter(lake) as writer:
        second = writer.commit({}, [bad])
    assert (first.quarantined, first.quarantine_duplicates) == (1, 1)
    assert (second.quarantined, second.quarantine_duplicates) == (0, 1)
    rows = scan_quarantine(lake).collect().to_dicts()
    assert len(rows) == 1
    assert rows[0]["raw"] == b'{"a": \xff' and rows[0]["reason"] == "truncated JSON"
    assert rows[0]["location"] == "in.json:3"


def test_second_writer_is_refused(tmp_path):
    lake = LakePaths.at(tmp_path)
    with LakeWriter(lake), pytest.raises(LakeError, match="another lake writer"):
        LakeWriter(lake).__enter__()


@pytest.mark.parametrize("source", ["../evil", "/abs", "a/b", "UPPER", "", "x" * 80, ".."])
def test_unsafe_source_names_never_reach_the_disk(tmp_path, source):
    lake = LakePaths.at(tmp_path / "lake")
    with LakeWriter(lake) as writer, pytest.raises(LakeError, match="unsafe source name"):
        writer.commit({source: events(("a", "2024-03-01T01:00:00"))})
    written = [p for p in tmp_path.rglob("*") if p.is_file() and "_state" not in p.parts]
    assert written == []


def test_unsafe_quarantine_source_is_refused(tmp_path):
    lake = LakePaths.at(tmp_path / "lake")
    entry = QuarantineEntry("../../etc", "x", "x:1", "bad", b"x")
    with LakeWriter(lake) as writer, pytest.raises(LakeError):
        writer.commit({}, [entry])
    assert not (tmp_path / "etc").exists()


def test_interrupted_publish_is_rolled_forward(tmp_path, monkeypatch):
    """A crash after the commit record but before the move: readers see the batch, reopen finishes it."""
    import auditlake.lake.writer as writer_module

    lake = LakePaths.at(tmp_path)
    monkeypatch.setattr(writer_module, "_move_into_place", lambda lake, commit: None)
    with LakeWriter(lake) as writer:
        writer.commit({"aws.cloudtrail": events(("a", "2024-03-01T01:00:00"))})
    assert list((tmp_path / "_staging").rglob("*.parquet"))
    assert scan_events(lake).collect()["event_uid"].to_list() == ["a"]
    monkeypatch.undo()
    with LakeWriter(lake):
        pass
    assert not list((tmp_path / "_staging").rglob("*.parquet"))
    assert scan_events(lake).collect()["event_uid"].to_list() == ["a"]


def test_uncommitted_staging_is_discarded(tmp_path, monkeypatch):
    import auditlake.lake.writer as writer_module

    lake = LakePaths.at(tmp_path)

    def crash(lake, commit):
        raise KeyboardInterrupt

    monkeypatch.setattr(writer_module, "write_commit", crash)
    with pytest.raises(KeyboardInterrupt), LakeWriter(lake) as writer:
        writer.commit({"aws.cloudtrail": events(("a", "2024-03-01T01:00:00"))})
    assert list((tmp_path / "_staging").rglob("*.parquet"))
    assert scan_events(lake).collect().height == 0
    monkeypatch.undo()
    with LakeWriter(lake) as writer:
        result = writer.commit({"aws.cloudtrail": events(("a", "2024-03-01T01:00:00"))})
    assert sum(result.rows.values()) == 1
    assert not (tmp_path / "_staging").exists() or not list((tmp_path / "_staging").iterdir())


@given(st.lists(st.integers(0, 19), max_size=20, unique=True), st.booleans())
def test_select_equals_take(positions, keep_order):
    """The copy-avoiding row selection is a pure optimisation of `take`."""
    import pyarrow as pa

    from auditlake.lake.writer import _select

    table = pa.table({"n": list(range(20)), "s": [f"r{i}" for i in range(20)]}).slice(0, 20)
    if keep_order:
        positions = sorted(positions)
    if not positions:
        return
    order = pl.Series("_i", positions, dtype=pl.UInt32)
    assert _select(table, order).to_pylist() == table.take(positions).to_pylist()
