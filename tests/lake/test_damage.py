"""A failed read of committed files names those whose bytes changed since their commit."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from tests.lake.helpers import events

from auditlake.lake import LakePaths, LakeWriter
from auditlake.lake.commits import CommittedFile, read_commits
from auditlake.lake.damage import DamagedFiles, changed, reading
from auditlake.lake.scan import scan_files
from auditlake.lake.writer import committed_path


def _lake(tmp_path: Path) -> tuple[LakePaths, list[CommittedFile]]:
    lake = LakePaths.at(tmp_path / "lake")
    with LakeWriter(lake) as writer:
        writer.commit({"aws.cloudtrail": events(("a", "2024-03-01T10:00:00"), ("b", "2024-03-02T10:00:00"))}, [])
    return lake, [f for commit in read_commits(lake) for f in commit.files]


def _read(lake: LakePaths, files: list[CommittedFile]) -> pl.DataFrame:
    with reading(lake, files):
        return scan_files(lake, files).collect()


def test_intact_files_read_and_a_failure_of_theirs_passes_through(tmp_path: Path) -> None:
    lake, files = _lake(tmp_path)
    assert len(files) == 2 and changed(lake, files) == []
    assert _read(lake, files).height == 2
    with pytest.raises(pl.exceptions.ComputeError, match="not the lake"), reading(lake, files):
        raise pl.exceptions.ComputeError("not the lake")


@pytest.mark.parametrize("damage", ["footer", "body", "gone"])
def test_a_changed_or_missing_file_is_named_with_what_to_do(tmp_path: Path, damage: str) -> None:
    lake, files = _lake(tmp_path)
    path = committed_path(lake, files[1].path)
    data = bytearray(path.read_bytes())
    if damage == "footer":
        data[-4:] = b"XXXX"  # the closing magic: no reader takes the file
        path.write_bytes(bytes(data))
    elif damage == "body":
        data[4:68] = bytes(64)  # the first page, zeroed
        path.write_bytes(bytes(data))
    else:
        path.unlink()
    assert changed(lake, files) == [files[1]]
    with pytest.raises(DamagedFiles) as raised:
        _read(lake, files)
    assert raised.value.files == (files[1],)
    assert files[1].path in raised.value.message and "backup" in (raised.value.hint or "")


def test_a_commit_into_a_partition_with_a_damaged_file_names_it_and_adds_nothing(tmp_path: Path) -> None:
    """Deduplication reads the partition's ids: the damaged file is named, the batch is not
    committed."""
    lake, files = _lake(tmp_path)
    path = committed_path(lake, files[1].path)
    path.write_bytes(path.read_bytes()[:-4] + b"XXXX")
    with pytest.raises(DamagedFiles) as raised, LakeWriter(lake) as writer:
        writer.commit({"aws.cloudtrail": events(("c", "2024-03-02T11:00:00"))}, [])
    assert raised.value.files == (files[1],)
    assert len(read_commits(lake)) == 1


def test_a_damaged_commit_record_is_named_with_a_repair_that_exists(tmp_path: Path) -> None:
    from auditlake.errors import LakeError

    lake, _ = _lake(tmp_path)
    (record,) = lake.commits.glob("*.json")
    record.write_bytes(record.read_bytes()[:100])
    with pytest.raises(LakeError) as raised:
        read_commits(lake)
    assert raised.value.where == str(record)
    assert "commit record is unreadable" in raised.value.message
    assert "backup" in (raised.value.hint or "") and "verify" not in (raised.value.hint or "")
