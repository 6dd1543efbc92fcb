"""SIGKILL an ingest midway: the lake shows whole batches only, and a re-run completes it exactly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

from auditlake.lake import LakePaths, scan_events, scan_quarantine
from auditlake.lake.commits import read_commits

RECORDS = 40_000
BATCH = 2_000


def _cloudtrail_jsonl(path: Path) -> None:
    with path.open("w") as out:
        for i in range(RECORDS):
            record = {
                "eventVersion": "1.08",
                "eventID": f"00000000-0000-4000-8000-{i:012d}",
                "eventTime": f"2024-03-0{1 + i % 3}T{(i // 60) % 24:02d}:{i % 60:02d}:00Z",
                "eventSource": "s3.amazonaws.com",
                "eventName": "GetObject",
                "awsRegion": "eu-west-1",
                "sourceIPAddress": "203.0.113.7",
                "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::123456789012:user/u{i % 50}"},
            }
            out.write(json.dumps(record) + "\n")


def _start(data: Path, lake: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "auditlake", "ingest", str(data), "--lake", str(lake),
           "--batch-rows", str(BATCH), "--json"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_commits(lake: Path, at_least: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        commits = lake / "_state" / "commits"
        if commits.is_dir() and len(list(commits.glob("*.json"))) >= at_least:
            return
        time.sleep(0.01)


def _children(pid: int) -> set[int]:
    """Direct children of a process (its conversion workers), from /proc."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.update(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def _gone(pids: set[int], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{p}").exists() for p in pids):
            return True
        time.sleep(0.1)
    return False


def _assert_whole_batches(lake: Path) -> int:
    paths = LakePaths.at(lake)
    committed = sum(f.rows for c in read_commits(paths) for f in c.files if f.table == "events")
    frame = scan_events(paths, columns=["event_uid"]).collect()
    assert frame.height == committed
    assert frame["event_uid"].n_unique() == frame.height
    assert frame.height % BATCH == 0, "a partial batch is visible"
    return frame.height


def test_sigkill_midway_then_rerun_gives_exact_rows(tmp_path):
    data = tmp_path / "trail.jsonl"
    lake = tmp_path / "lake"
    _cloudtrail_jsonl(data)
    seen = []
    for kill_after in (1, 4, 9):
        proc = _start(data, lake)
        _wait_for_commits(lake, kill_after, proc)
        time.sleep(0.05 * kill_after % 0.13)
        workers = _children(proc.pid)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert _gone(workers), "worker processes outlived the killed ingest"
        seen.append(_assert_whole_batches(lake))
    assert seen[0] < RECORDS, "the first kill should land before the end"
    final = _start(data, lake)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err.decode()
    summary = json.loads(out)
    assert summary["added"] + sum(summary["duplicates"].values()) == RECORDS
    rows = scan_events(LakePaths.at(lake), columns=["event_uid", "time"]).collect()
    assert rows.height == RECORDS
    assert rows["event_uid"].n_unique() == RECORDS
    assert rows.filter(pl.col("time").is_null()).height == 0
    assert scan_quarantine(LakePaths.at(lake)).collect().height == 0
    assert not list((lake / "_staging").rglob("*.parquet")) if (lake / "_staging").exists() else True
