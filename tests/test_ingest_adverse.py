"""Ingest as a scheduled job meets it: a lake kept inside the folder it reads, a record nested
too deep to decode, a conversion worker killed by the system. Each ends in the rows expected,
or in one line saying what happened and an exit code, never a traceback or a lake that reads
itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.lake.helpers import file_size_limit
from tests.processes import workers_of
from tests.test_expand_inputs import trail

from auditlake.cli import main
from auditlake.ingest import ingest
from auditlake.lake import LakePaths, scan_events, scan_quarantine


def test_a_lake_inside_the_folder_read_is_passed_over_not_read_as_logs(tmp_path: Path) -> None:
    """`auditlake ingest logs/ --lake logs/lake`: the lake's Parquet files, commit records and
    lock are not audit logs. Read with a named source they would be quarantined run after run
    (the quarantine itself among them, growing each time); read by detection, each would be an
    error and every run would exit 3."""
    logs = tmp_path / "logs"
    trail(logs / "trail.jsonl", 1, 2, 3)
    lake = LakePaths.at(logs / "lake")
    for _ in range(3):
        summary = ingest([logs], lake, source="aws.cloudtrail", workers=1)
        assert summary.records == 3 and summary.errors == [] and not summary.quarantined
        [(reason, count)] = summary.passed_over.items()
        assert count == 1 and reason.startswith("the lake being written")
    assert scan_events(lake).collect().height == 3
    assert scan_quarantine(lake).collect().height == 0

    result = CliRunner().invoke(main, ["ingest", str(logs), "--lake", str(logs / "lake"), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["errors"] == [] and body["records"] == 3 and body["duplicates"] == {"aws.cloudtrail": 3}


DEEP = 10_000
"""Levels of nesting: far past Python's recursion limit, as a hostile or broken writer may send."""


@pytest.mark.parametrize("source", ["auto", "aws.cloudtrail"])
@pytest.mark.parametrize("framing", ["lines", "array"])
def test_a_record_nested_too_deep_costs_that_record_alone(tmp_path: Path, source: str, framing: str) -> None:
    """A JSON value nested 10,000 levels deep, with no traceback: named as the input's source,
    it is quarantined and the rest lands; left to detection, which cannot read it, its input
    is reported (exit 3) saying why. The other inputs of the run are ingested either way."""
    logs = tmp_path / "logs"
    trail(logs / "a.jsonl", 1, 2)
    deep = '{"eventVersion": "1.08", "x": ' + "[" * DEEP + "]" * DEEP + "}"
    (logs / "b.json").write_text(deep + "\n" if framing == "lines" else f"[{deep}]")
    trail(logs / "c.jsonl", 3)
    result = CliRunner().invoke(
        main, ["ingest", str(logs), "--lake", str(tmp_path / "lake"), "--source", source, "--json", "--workers", "1"]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    body = json.loads(result.output)
    assert body["added"] == 3
    assert scan_events(LakePaths.at(tmp_path / "lake")).collect().height == 3
    if source == "auto":
        assert result.exit_code == 3, result.output
        [error] = body["errors"]
        assert error.startswith(str(logs / "b.json")) and "nested too deeply" in error
    else:
        assert result.exit_code == 0, result.output
        [quarantined] = body["quarantined"]
        assert quarantined["count"] == 1 and "nested too deeply" in quarantined["reason"]
        [raw] = scan_quarantine(LakePaths.at(tmp_path / "lake")).collect()["raw"].to_list()
        assert raw == deep.encode()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the worker processes in /proc")
def test_a_worker_killed_by_the_system_ends_the_run_in_one_line_and_a_rerun_completes_it(tmp_path: Path) -> None:
    """The system kills a conversion worker (the out-of-memory killer picks the largest
    process): exit 1 with what happened and what to do, not a BrokenProcessPool traceback;
    the same command run again adds exactly what is missing."""
    import os
    import signal
    import subprocess
    import sys
    import time

    logs = tmp_path / "logs"
    logs.mkdir()
    with (logs / "gateway.jsonl").open("w") as out:  # a source read record by record: in processes
        for i in range(60_000):
            out.write(json.dumps({
                "event": "session.start", "uid": f"u{i}", "time": f"2024-03-01T10:{i // 60 % 60:02d}:{i % 60:02d}Z",
                "user": f"user{i % 50}", "login": "root", "server_hostname": "db1", "addr.remote": "203.0.113.7:5555",
            }) + "\n")
    lake = tmp_path / "lake"
    command = [sys.executable, "-m", "auditlake", "ingest", str(logs), "--lake", str(lake),
               "--source", "gateway.teleport", "--workers", "2", "--batch-rows", "10000", "--json"]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (workers := workers_of(run.pid)) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert workers, "the ingest ended before it started its worker processes"
    os.kill(min(workers), signal.SIGKILL)
    out, err = run.communicate(timeout=300)
    assert run.returncode == 1, (out, err)
    assert "Traceback" not in err and out == ""
    assert err.startswith("error: a process converting records ended abruptly"), err
    assert "ingesting the same inputs again adds only what is missing" in err

    again = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    assert scan_events(LakePaths.at(lake)).collect()["event_uid"].n_unique() == 60_000


def test_a_misspelt_source_fails_even_when_the_inbox_is_empty_this_time(tmp_path: Path) -> None:
    """A scheduled `ingest inbox/ --source cloudtrial` must not report success on the runs
    that find no file, only to fail on the first that does."""
    (tmp_path / "inbox").mkdir()
    result = CliRunner().invoke(main, ["ingest", str(tmp_path / "inbox"), "--source", "cloudtrial",
                                       "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 2 and "unknown source 'cloudtrial'" in result.output


@pytest.mark.parametrize("source", ["auto", "aws.cloudtrail"])
def test_a_device_named_as_input_is_reported_not_read(tmp_path: Path, source: str) -> None:
    """`/dev/zero` never ends: copied as a stream or read as a file, it would fill the disk
    or run forever. It is reported (exit 3) and the other inputs are ingested."""
    trail(tmp_path / "a.jsonl", 1, 2)
    args = ["ingest", "/dev/zero", str(tmp_path / "a.jsonl"), "--lake", str(tmp_path / "lake"), "--json",
            "--source", source, "--workers", "1"]
    with file_size_limit(64 << 20):  # should it be copied after all, the copy fails, not the disk
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 3, result.output
    body = json.loads(result.output)
    assert body["added"] == 2
    assert body["errors"] == ["/dev/zero: a device, not a file of logs; pipe what it holds into `auditlake ingest -`"]
