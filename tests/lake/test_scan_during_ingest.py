"""A frame read while an ingest publishes: files that move into place after the scan was made."""

from __future__ import annotations

from tests.lake.helpers import events

import auditlake.lake.writer as writer_module
from auditlake.lake import LakePaths, LakeWriter, scan_events, scan_quarantine
from auditlake.lake.quarantine import QuarantineEntry


def _interrupted_publish(tmp_path, monkeypatch) -> LakePaths:
    """A lake whose last batch is committed but whose files are still staged, as a crash between
    the commit record and the move leaves it (and as every commit is for a moment)."""
    lake = LakePaths.at(tmp_path)
    with LakeWriter(lake) as writer:
        writer.commit({"aws.cloudtrail": events(("a", "2024-03-01T01:00:00"), eventName="Old")})
    with monkeypatch.context() as patch:
        patch.setattr(writer_module, "_move_into_place", lambda lake, commit: None)
        with LakeWriter(lake) as writer:
            writer.commit({"aws.cloudtrail": events(("b", "2024-03-01T02:00:00"), eventName="New")})
    assert list((tmp_path / "_staging").rglob("*.parquet"))
    return lake


def test_a_frame_made_before_the_next_ingest_moves_staged_files_still_reads_them(tmp_path, monkeypatch):
    lake = _interrupted_publish(tmp_path, monkeypatch)
    frame = scan_events(lake)
    with LakeWriter(lake):  # the next ingest rolls the staged batch forward
        pass
    assert not list((tmp_path / "_staging").rglob("*.parquet"))
    got = frame.select("event_uid", "eventName", "source", "dt").sort("event_uid").collect()
    assert got["event_uid"].to_list() == ["a", "b"]
    assert got["eventName"].to_list() == ["Old", "New"]
    assert got["source"].to_list() == ["aws.cloudtrail"] * 2
    assert [d.isoformat() for d in got["dt"]] == ["2024-03-01"] * 2


def test_staged_files_read_like_files_in_place(tmp_path, monkeypatch):
    lake = _interrupted_publish(tmp_path, monkeypatch)
    staged = scan_events(lake).sort("event_uid").collect()
    with LakeWriter(lake):
        pass
    assert staged.equals(scan_events(lake).sort("event_uid").collect())


def test_a_quarantine_frame_made_before_staged_files_move_still_reads_them(tmp_path, monkeypatch):
    lake = LakePaths.at(tmp_path)
    with monkeypatch.context() as patch:
        patch.setattr(writer_module, "_move_into_place", lambda lake, commit: None)
        with LakeWriter(lake) as writer:
            writer.commit({}, [QuarantineEntry("aws.cloudtrail", "in.json", "in.json:1", "not JSON", b"x")])
    frame = scan_quarantine(lake)
    with LakeWriter(lake):
        pass
    assert frame.collect()["reason"].to_list() == ["not JSON"]
