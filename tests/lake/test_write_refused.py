"""Writes the system refuses (a full disk, a limit, a read-only mount, a bad path) end in an
error that names the path, the fix and what was left behind; nothing half-written is visible,
and once the cause is gone the same work completes exactly."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import polars as pl
import pytest
from tests.lake.helpers import events, file_size_limit

from auditlake.errors import LakeError
from auditlake.lake import LakePaths, LakeWriter, scan_events
from auditlake.lake.commits import read_commits
from auditlake.lake.lock import FileLock, LockHeld
from auditlake.lake.write_refused import WriteRefused, refused_as


@pytest.mark.parametrize(
    ("number", "fix"),
    [
        (errno.ENOSPC, "the disk is full"),
        (errno.EDQUOT, "quota"),
        (errno.EFBIG, "ulimit -f"),
        (errno.EROFS, "read-only"),
        (errno.EACCES, "permissions"),
        (errno.EIO, "I/O error"),
        (errno.ENOTDIR, "is a file, not a folder"),
        (errno.EEXIST, "is a file, not a folder"),
        (errno.EMFILE, "check the disk and the folder"),
    ],
)
def test_each_refusal_names_the_path_the_reason_the_fix_and_the_outcome(number: int, fix: str) -> None:
    with pytest.raises(WriteRefused) as raised, refused_as(Path("lake/part.parquet"), outcome="nothing kept"):
        raise OSError(number, "Error writing bytes to file. Detail: something")
    text = str(raised.value)
    assert text.startswith(f"lake/part.parquet: could not write: {os.strerror(number)} (")
    assert fix in text and text.endswith("; nothing kept)")
    assert raised.value.errno == number
    assert isinstance(raised.value, LakeError)


def test_other_errors_pass_through() -> None:
    with pytest.raises(ValueError, match="not a write"), refused_as(Path("x"), outcome="-"):
        raise ValueError("not a write")
    with pytest.raises(pl.exceptions.ComputeError, match="no system error"), refused_as(Path("x"), outcome="-"):
        raise pl.exceptions.ComputeError("no system error here")


def test_a_polars_write_the_kernel_refuses_is_told_as_such(tmp_path: Path) -> None:
    frame = pl.DataFrame({"id": [os.urandom(16).hex() for _ in range(20_000)]})
    with pytest.raises(WriteRefused) as raised, file_size_limit(4096), refused_as(tmp_path / "f", outcome="-"):
        frame.write_parquet(tmp_path / "f.parquet")
    assert raised.value.errno == errno.EFBIG and "File too large" in str(raised.value)


def test_a_lake_below_a_file_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    lake = LakePaths.at(tmp_path / "file" / "lake")
    with pytest.raises(WriteRefused) as raised, LakeWriter(lake):
        pass
    assert raised.value.errno == errno.ENOTDIR and "nothing was written" in str(raised.value)


def test_a_lock_that_cannot_be_created_is_refused_not_taken_for_one_held(tmp_path: Path) -> None:
    (tmp_path / "locks").write_text("not a folder")
    with pytest.raises(WriteRefused), FileLock(tmp_path / "locks" / "x.lock", purpose="test"):
        pass
    held = FileLock(tmp_path / "x.lock", purpose="test")
    with held, pytest.raises(LockHeld, match="another test"), FileLock(tmp_path / "x.lock", purpose="test"):
        pass


def _many(prefix: str, count: int) -> list[tuple[str, str]]:
    return [(f"{prefix}-{os.urandom(16).hex()}", f"2024-03-01T{n % 24:02d}:00:00") for n in range(count)]


def test_a_refused_batch_is_not_published_and_gives_its_space_back(tmp_path: Path) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    first, second = _many("a", 10), _many("b", 3_000)
    with LakeWriter(lake) as writer:
        writer.commit({"aws.cloudtrail": events(*first)})
        with pytest.raises(WriteRefused) as raised, file_size_limit(16 * 1024):
            writer.commit({"aws.cloudtrail": events(*second)})
    assert "nothing of this batch was published" in str(raised.value)
    assert "_staging" in str(raised.value)
    assert sorted(scan_events(lake).collect()["event_uid"]) == sorted(uid for uid, _ in first)
    assert len(read_commits(lake)) == 1
    assert not lake.staging.exists() or not any(lake.staging.iterdir())

    with LakeWriter(lake) as writer:  # the space is back: the same input completes the lake
        again = writer.commit({"aws.cloudtrail": events(*first, *second)})
    assert again.duplicates["aws.cloudtrail"] == len(first)
    assert sorted(scan_events(lake).collect()["event_uid"]) == sorted(uid for uid, _ in first + second)
