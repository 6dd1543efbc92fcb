"""`auditlake ingest` and `auditlake detect` stopped by SIGTERM (systemd, Kubernetes, `timeout`)
or Ctrl-C: one line and exit 128 + the signal's number, no temporary copy left in $TMPDIR and
no half-written batch in the lake, worker processes gone, and a re-run reaching exactly what an
uninterrupted run does."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.detection.test_engine import RULES, START, _okta_failure
from tests.processes import workers_of

from auditlake.committer import Committer
from auditlake.detection.alert_store import AlertStore
from auditlake.detection.compile import compile_rules
from auditlake.detection.engine import run_detection
from auditlake.detection.spilled_matches import tmp_folder
from auditlake.ingest import ingest
from auditlake.lake import LakePaths, scan_events
from auditlake.lake.commits import read_commits
from auditlake.lake.writer import CommitResult
from auditlake.sources import gateway
from auditlake.sources.base import Frame
from auditlake.sources.piped_inputs import pipes_copied
from auditlake.stop_signals import Stopped, held, stopping
from auditlake.workers import ChunkPool

# Python's own SIGINT handler first, so that the one Polars puts in place on import is what the
# command replaces (as under a shell), whatever this test run's SIGINT disposition is.
PYTHON_FIRST = "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); sys.argv[0] = 'auditlake'"
COMMAND = [sys.executable, "-c", f"{PYTHON_FIRST}; from auditlake.entry import main; main()"]
STOP_BOUND_S = 15.0
RECORDS = 30_000
BATCH = 2_000
EXIT = {signal.SIGTERM: 143, signal.SIGINT: 130}


def _trail_line(i: int) -> str:
    return json.dumps({
        "eventVersion": "1.08", "eventID": f"00000000-0000-4000-8000-{i:012d}",
        "eventTime": f"2024-03-0{1 + i % 3}T{(i // 60) % 24:02d}:{i % 60:02d}:00Z",
        "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "awsRegion": "eu-west-1",
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::123456789012:user/u{i % 50}"},
    }) + "\n"


def _gateway_line(i: int) -> str:
    """An access-gateway event: a source read record by record, converted in worker processes."""
    return json.dumps({
        "event": "session.start", "uid": f"u{i}", "time": f"2024-03-01T10:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "user": f"user{i % 50}", "login": "root", "server_hostname": "db1", "addr.remote": "203.0.113.7:5555",
    }) + "\n"


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the command ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def _ended(pids: set[int], timeout: float = 10.0) -> bool:
    """Whether every process in `pids` has exited (gone, or a zombie left for init to reap)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = []
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state != "Z":
                running.append(pid)
        if not running:
            return True
        time.sleep(0.05)
    return False


def _assert_stopped(process: subprocess.Popen[bytes], number: signal.Signals, out: bytes, err: bytes) -> None:
    text = err.decode()
    assert process.returncode == EXIT[number], text
    assert "Traceback" not in text and "Aborted" not in text, text
    assert f"stopped ({number.name})" in text, text
    assert out == b""


def _whole_batches(lake: Path) -> int:
    """The rows the lake shows, after checking they are exactly those of its commit records,
    each batch whole, and that no staged batch is left behind."""
    paths = LakePaths.at(lake)
    committed = sum(f.rows for c in read_commits(paths) for f in c.files if f.table == "events")
    rows = scan_events(paths, columns=["event_uid"]).collect() if committed else None
    height = rows.height if rows is not None else 0
    assert height == committed
    assert rows is None or rows["event_uid"].n_unique() == height
    assert height % BATCH == 0, "a partial batch is visible"
    assert not (lake / "_staging").exists() or not any((lake / "_staging").iterdir()), "a batch left staged"
    return height


def _rerun_reaches_every_row(command: list[str], lake: Path, env: dict[str, str], stdin: bytes | None = None) -> None:
    again = subprocess.run(command, input=stdin, capture_output=True, env=env, timeout=120, check=False)
    assert again.returncode == 0, again.stderr.decode()
    rows = scan_events(LakePaths.at(lake), columns=["event_uid"]).collect()
    assert rows.height == RECORDS and rows["event_uid"].n_unique() == RECORDS


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_while_piped_input_is_copied_removes_the_copy(number: signal.Signals, tmp_path: Path) -> None:
    tmp, lake = tmp_path / "tmp", tmp_path / "lake"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    data = "".join(_trail_line(i) for i in range(RECORDS)).encode()
    command = [*COMMAND, "ingest", "-", "--source", "cloudtrail", "--lake", str(lake), "--batch-rows", str(BATCH)]
    run = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        assert run.stdin is not None
        run.stdin.write(data[: len(data) // 2])  # the writer has more to send: the copy waits for it
        run.stdin.flush()
        copying = lambda: any(p.name == "stdin" and p.stat().st_size > 0 for p in tmp.rglob("*"))  # noqa: E731
        _wait_for(copying, run, "the piped input was being copied")
        run.send_signal(number)
        out, err = run.communicate(timeout=STOP_BOUND_S)
    finally:
        run.kill()
        run.communicate()
    _assert_stopped(run, number, out, err)
    assert list(tmp.iterdir()) == [], "the copy of the piped input was left in $TMPDIR"
    assert _whole_batches(lake) == 0  # nothing was read before the copy was complete

    _rerun_reaches_every_row(command, lake, env, stdin=data)
    assert list(tmp.iterdir()) == []


def test_a_stop_while_the_copy_is_removed_lets_the_removal_finish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    remove, signalled = shutil.rmtree, []

    def signalled_midway(path: str, *args: Any, **kwargs: Any) -> None:
        if not signalled:
            signalled.append(path)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)  # the handler has run by now: a removal it cut off ends here
        remove(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", signalled_midway)
    with pytest.raises(Stopped), stopping(), pipes_copied([Path("-")], stdin=io.BytesIO(b"piped\n")) as inputs:
        assert inputs[0].read_bytes() == b"piped\n"
    assert signalled and list(tmp_path.iterdir()) == []


INGESTS = {
    # Kubernetes and `docker stop` signal the command alone; converted in threads, committed behind.
    "SIGTERM-threads": (signal.SIGTERM, "aws.cloudtrail", 2, False),
    # Ctrl-C in a terminal, `timeout` and systemd signal the whole group, worker processes too.
    "SIGINT-processes-group": (signal.SIGINT, "gateway.teleport", 2, True),
    "SIGTERM-processes-group": (signal.SIGTERM, "gateway.teleport", 2, True),
    # One worker: each batch is committed in the command's own thread, where the signal lands.
    "SIGTERM-inline": (signal.SIGTERM, "aws.cloudtrail", 1, False),
}


@pytest.mark.parametrize(("number", "source", "workers", "group"), INGESTS.values(), ids=INGESTS.keys())
def test_a_stop_midway_through_an_ingest_keeps_whole_batches_and_a_rerun_completes_it(
    number: signal.Signals, source: str, workers: int, group: bool, tmp_path: Path
) -> None:
    tmp, lake, data = tmp_path / "tmp", tmp_path / "lake", tmp_path / "in.jsonl"
    tmp.mkdir()
    line = _trail_line if source == "aws.cloudtrail" else _gateway_line
    data.write_text("".join(line(i) for i in range(RECORDS)))
    env = {**os.environ, "TMPDIR": str(tmp)}
    command = [*COMMAND, "ingest", str(data), "--source", source, "--lake", str(lake),
               "--batch-rows", str(BATCH), "--workers", str(workers)]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
    try:
        commits = lake / "_state" / "commits"
        _wait_for(lambda: commits.is_dir() and len(list(commits.glob("*.json"))) >= 2, run, "two batches were committed")
        workers_then = workers_of(run.pid)
        assert bool(workers_then) == (source == "gateway.teleport")
        if group:
            os.killpg(run.pid, number)
        else:
            run.send_signal(number)
        out, err = run.communicate(timeout=STOP_BOUND_S)
    finally:
        if run.poll() is None:  # the command and its workers
            os.killpg(run.pid, signal.SIGKILL)
        run.communicate()
    _assert_stopped(run, number, out, err)
    assert _ended(workers_then), "worker processes outlived the stopped ingest"
    assert 0 < _whole_batches(lake) < RECORDS, "the stop should land midway"
    assert list(tmp.iterdir()) == []

    _rerun_reaches_every_row(command, lake, env)


def test_ctrl_c_as_the_worker_processes_start_stops_the_ingest_in_one_line(tmp_path: Path) -> None:
    """The workers take a second or so to start (importing), and Ctrl-C reaches them too."""
    data = tmp_path / "in.jsonl"
    data.write_text("".join(_gateway_line(i) for i in range(RECORDS)))
    command = [*COMMAND, "ingest", str(data), "--source", "gateway.teleport", "--lake", str(tmp_path / "lake"),
               "--batch-rows", str(BATCH), "--workers", "2"]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _wait_for(lambda: bool(workers_of(run.pid)), run, "worker processes were started")
        workers = workers_of(run.pid)
        os.killpg(run.pid, signal.SIGINT)
        out, err = run.communicate(timeout=STOP_BOUND_S)
    finally:
        run.kill()
        run.communicate()
    _assert_stopped(run, signal.SIGINT, out, err)
    assert _ended(workers), "worker processes outlived the stopped ingest"
    _whole_batches(tmp_path / "lake")


def _stopped(pids: set[int] | list[int]) -> None:
    """Ctrl-C and SIGTERM, as a terminal or `timeout` sends them to the whole group."""
    for pid in pids:
        os.kill(pid, signal.SIGINT)
        os.kill(pid, signal.SIGTERM)


def test_worker_processes_leave_stop_signals_to_the_ingest(monkeypatch: pytest.MonkeyPatch) -> None:
    """Signalled while starting (importing, for a second or so) or once converting, a worker
    goes on: one the signal ended would be taken for one the system killed (`WorkerLost`)."""
    spawn = ProcessPoolExecutor._spawn_process

    def signalled_at_once(executor: ProcessPoolExecutor) -> None:
        known = set(executor._processes)  # type: ignore[attr-defined]
        spawn(executor)  # type: ignore[attr-defined]
        _stopped(set(executor._processes) - known)  # type: ignore[attr-defined]

    monkeypatch.setattr(ProcessPoolExecutor, "_spawn_process", signalled_at_once)

    def chunk(n: int) -> list[Frame]:
        return [Frame(_gateway_line(n * 100 + i).encode(), f"c{n}:{i}") for i in range(100)]

    with ChunkPool(2) as pool:
        done = [d for n in range(4) for d in pool.submit(gateway.SPEC, f"c{n}", chunk(n))]
        done += pool.drain()
        workers = workers_of(os.getpid())
        assert len(workers) == 2
        _stopped(workers)
        time.sleep(0.2)  # the signals are delivered at once; a worker they end is gone within this
        done += [d for n in range(4, 8) for d in pool.submit(gateway.SPEC, f"c{n}", chunk(n))]
        done += pool.drain()
        assert workers_of(os.getpid()) == workers
    assert [name for name, _ in done] == [f"c{n}" for n in range(8)]
    assert sum(c.rows for _, c in done) == 800


def test_every_worker_process_starts_with_the_pool_under_its_settings() -> None:
    """Started later, on demand, a worker would miss what the pool's start sets up for it:
    stop signals held back until it ignores them, and one Polars thread."""
    with ChunkPool(2) as pool:
        pool._process_pool()
        workers = workers_of(os.getpid())
        assert len(workers) == 2
        for pid in workers:
            assert b"POLARS_MAX_THREADS=1" in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")


class _SignallingWriter:
    """A lake writer whose commit is interrupted by SIGTERM halfway through."""

    def __init__(self) -> None:
        self.finished: list[str] = []

    def commit(self, events, quarantine=()):  # type: ignore[no-untyped-def]
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler has run by now: a commit it cut off ends here
        name = next(iter(events))
        self.finished.append(name)
        return CommitResult(batch_id=name)


def test_an_inline_commit_runs_to_its_end_before_the_stop() -> None:
    writer, reported = _SignallingWriter(), []
    with pytest.raises(Stopped) as stopped, stopping(), \
            Committer(writer, reported.append, background=False) as committer:  # type: ignore[arg-type]
        committer.submit({"a": None}, [])  # type: ignore[dict-item]
        committer.submit({"b": None}, [])  # type: ignore[dict-item]
    assert stopped.value.signum == signal.SIGTERM and stopped.value.exit_status == 143
    assert writer.finished == ["a"] and reported == []  # whole, and the batch after it not begun


def test_stopping_puts_the_handlers_back_and_held_raises_once_after_its_block() -> None:
    before = {n: signal.getsignal(n) for n in (signal.SIGTERM, signal.SIGINT)}
    steps = []
    with pytest.raises(Stopped), stopping():
        with held():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            steps.append("held block ended")
        steps.append("after the held block")
    assert steps == ["held block ended"]
    assert {n: signal.getsignal(n) for n in before} == before


ALERTING_RULE = """\
title: Okta sign-in failure, alerted
id: 5a1c6b38-0d5e-4f3f-9a53-8f3b5f0c1a09
status: test
logsource: {product: okta, service: okta}
detection:
  sel:
    eventType: user.session.start
    outcome.result: FAILURE
  condition: sel
level: low
"""
"""An alert per failure (the rule the correlation reads alerts only through it)."""

SIGNALLER = PYTHON_FIRST + """
import os
from auditlake.detection import engine, spilled_matches
from auditlake.detection.alert_store import AlertStore

engine.BATCH_ROWS = 200  # several batches, so several files of alerts
spilled_matches.MEMORY_BYTES = 0  # the correlated rules' matches wait on disk, as a long run's do
original = AlertStore._store
calls = []

def store_then_signal(self, *args):
    calls.append(args)
    if len(calls) == 2:  # the first file of alerts is stored, then the stop signal comes
        self.flush()
        print("spilled files:", len(list((self.lake.state / "tmp").glob("detect-*/*"))), file=sys.stderr)
        os.kill(os.getpid(), signal.{name})
    original(self, *args)

AlertStore._store = store_then_signal
from auditlake.entry import main
main()
"""


def _failures(path: Path, count: int) -> Path:
    """Sign-in failures of three users over a day: an alert each, and correlation alerts."""
    users = ("mallory@example.com", "trudy@example.com", "eve@example.com")
    path.write_text("".join(_okta_failure(START + timedelta(minutes=n), users[n % 3], f"uid-{n}") + "\n"
                            for n in range(count)))
    return path


def _alert_ids(lake: LakePaths) -> list[str]:
    return sorted(AlertStore(lake).scan().select("alert_id").collect()["alert_id"].to_list())


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_detect_stopped_midway_cleans_up_and_a_rerun_equals_an_uninterrupted_run(
    number: signal.Signals, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "okta.yml").write_text(RULES)
    (rules / "alerted.yml").write_text(ALERTING_RULE)
    events = _failures(tmp_path / "okta.jsonl", 1_500)
    reference, stopped = LakePaths.at(tmp_path / "reference"), LakePaths.at(tmp_path / "stopped")
    ingest([events], reference, workers=1, batch_rows=100)  # many files: several batches
    shutil.copytree(reference.root, stopped.root)
    run_detection(reference, compile_rules([rules]), digest="rules")
    expected = _alert_ids(reference)

    args = ["detect", "--rules", str(rules), "--lake", str(stopped.root), "--no-cache"]
    signalling = [sys.executable, "-c", SIGNALLER.replace("{name}", number.name)]
    run = subprocess.run([*signalling, *args], capture_output=True, timeout=60, check=False, cwd=tmp_path)
    text = run.stderr.decode()
    assert run.returncode == EXIT[number], text
    assert "Traceback" not in text and "Aborted" not in text and f"stopped ({number.name})" in text, text
    assert 0 < len(_alert_ids(stopped)) < len(expected)
    assert re.search(r"spilled files: [1-9]", text), text  # there were some when the signal came
    folder = tmp_folder(stopped)
    assert not folder.exists() or list(folder.iterdir()) == [], "the run's spilled matches were left behind"
    assert not list((stopped.root / "alerts").glob(".*")), "a half-written alert file was left behind"

    again = subprocess.run([*COMMAND, *args], capture_output=True, timeout=60, check=False, cwd=tmp_path)
    assert again.returncode == 0, again.stderr.decode()
    assert _alert_ids(stopped) == expected  # each alert once


def test_a_stop_inside_a_duckdb_query_goes_on_as_the_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB answers the `Stopped` a signal raises while its query runs with an error of its
    own ("Query interrupted"): an ingest converting in the main thread (`--workers 1`) ended in
    that traceback and exit 1 instead of stopping in order."""
    import duckdb
    import pyarrow as pa

    from auditlake.sources import json_paths
    from auditlake.stop_signals import Stopped, stopping

    signals = [signal.SIGTERM]

    class Interrupted:
        def __init__(self, *_: object) -> None:
            pass

        def to_arrow_table(self) -> None:
            try:  # the signal arrives while the query runs; DuckDB sees Python's error ...
                if signals:
                    os.kill(os.getpid(), signals.pop())
                    time.sleep(1)
            except Stopped:
                pass
            raise RuntimeError("Query interrupted")  # ... and raises its own

    monkeypatch.setattr(duckdb.DuckDBPyConnection, "sql", lambda self, query: Interrupted())
    records = pa.array(['{"a": 1}'], pa.large_string())
    with pytest.raises(Stopped) as stopped, stopping():
        json_paths.read_paths(records, ["a"])
    assert stopped.value.signum == signal.SIGTERM
    with pytest.raises(RuntimeError, match="Query interrupted"):  # no stop under way: as it is
        json_paths.read_paths(records, ["a"])
