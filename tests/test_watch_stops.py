"""How `auditlake watch` stops: on a stop signal while a receiver hangs, and (with --once) when
the lake refuses writes; and how often it says why it waits while watching."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from tests.detection.test_engine import RULES, START, _okta_failure
from tests.sinks.helpers import SECRET, Hang, Receiver, stored_ids

from auditlake.detection.compile import compile_rules
from auditlake.ingest import ingest
from auditlake.lake.paths import LakePaths
from auditlake.sinks import Delivery
from auditlake.sinks.webhook import WebhookSink
from auditlake.watch import FileReport, Watcher

STOP_BOUND_S = 15.0
"""Generous for a busy machine; without giving up, the hanging receiver would hold the watch
for 5 attempts of 20 s each."""

# Python first, so that Polars' own SIGINT handler, put in place on import, is the one the
# command replaces (as under a shell, and whatever this test run's SIGINT disposition is).
COMMAND = [sys.executable, "-c", "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
           "sys.argv[0] = 'auditlake'; from auditlake.entry import main; main()"]


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "okta.yml").write_text(RULES)
    return folder


def _failures(path: Path, count: int, *, first: int = 0) -> Path:
    """An Okta log of `count` sign-in failures (three or more make the correlation's alert)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(_okta_failure(START + timedelta(minutes=n), "mallory@example.com", f"uid-{n}") + "\n"
                            for n in range(first, first + count)))
    return path


@pytest.fixture
def hang() -> Iterator[Hang]:
    server = Hang()
    yield server
    server.close()


def _watch(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    """`auditlake watch ARGS` as its own process, run in `cwd` (which holds no auditlake.toml)."""
    return subprocess.Popen([*COMMAND, "watch", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=cwd)


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_ends_a_watch_whose_receiver_never_answers(
    number: signal.Signals, rules: Path, hang: Hang, tmp_path: Path
) -> None:
    config = tmp_path / "auditlake.toml"
    config.write_text(f'[[sinks]]\ntype = "webhook"\nname = "soc"\nurl = "{hang.url}"\nsecret = "test-secret"\n'
                      "timeout_s = 20\nmax_attempts = 5\nbackoff_s = 0.01\n")
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    _failures(inbox / "okta.jsonl", 4)
    watch = _watch(["--inbox", str(inbox), "--lake", str(lake), "--rules", str(rules), "--config", str(config),
                    "--poll-s", "0.05", "--settle-s", "0"], tmp_path)
    try:
        assert hang.requested.wait(60), "the watch never sent its alerts"
        time.sleep(0.2)  # well inside the request's 20 s timeout
        sent = time.monotonic()
        watch.send_signal(number)
        _, err = watch.communicate(timeout=STOP_BOUND_S)
        took = time.monotonic() - sent
    finally:
        watch.kill()
        watch.communicate()
    assert watch.returncode == 0, err
    assert took < STOP_BOUND_S
    assert "stopped; unfinished files are taken up on the next start" in err
    assert "okta.jsonl: 4 records, 1 alert; spooled for soc" in err  # the correlation's

    # Nothing was lost: the next delivery sends every stored alert, once.
    receiver = Receiver().start()
    try:
        paths = LakePaths.at(lake)
        report = Delivery(paths, [WebhookSink("soc", receiver.url, SECRET)]).sync()
        assert report.complete
        assert receiver.exactly_once() == stored_ids(paths) and len(stored_ids(paths)) == 1
    finally:
        receiver.stop()


def _refusing_writes(lake: LakePaths) -> None:
    """Every lock of the lake now fails to be created, as on a read-only mount (which a test
    run as root cannot make with permissions)."""
    shutil.rmtree(lake.locks, ignore_errors=True)
    lake.locks.parent.mkdir(parents=True, exist_ok=True)
    lake.locks.write_text("not a folder")


def _writable_again(lake: LakePaths) -> None:
    lake.locks.unlink()
    lake.locks.mkdir(exist_ok=True)  # a running watch may make it first


@pytest.mark.parametrize("dropped", [False, True], ids=["empty-inbox", "file-in-inbox"])
def test_watch_once_on_a_lake_that_refuses_writes_exits_1(dropped: bool, rules: Path, tmp_path: Path) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    ingest([_failures(tmp_path / "earlier.jsonl", 2)], lake, workers=1)  # not detected yet
    _refusing_writes(lake)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    if dropped:
        _failures(inbox / "okta.jsonl", 2, first=10)
    watch = _watch(["--inbox", str(inbox), "--lake", str(lake.root), "--rules", str(rules), "--once"], tmp_path)
    try:
        out, err = watch.communicate(timeout=60)
    finally:
        watch.kill()
        watch.communicate()
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert watch.returncode == 1, err
    assert len(errors) == 1 and "could not write" in errors[0] and "deferred" not in err
    assert out == ""
    assert not dropped or (inbox / "okta.jsonl").exists()  # left for the next run


def test_a_watch_says_why_it_waits_once_until_that_changes(rules: Path, tmp_path: Path) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    ingest([_failures(tmp_path / "earlier.jsonl", 1)], lake, workers=1)
    _refusing_writes(lake)
    inbox = tmp_path / "inbox"
    _failures(inbox / "first.jsonl", 2, first=10)
    notes: list[str] = []
    reports: list[FileReport] = []
    watcher = Watcher(inbox, lake, compile_rules([rules]), digest="rules", delivery=Delivery(lake, []),
                      poll_s=0.005, settle_s=0.0, on_file=reports.append, on_note=notes.append)
    stop = threading.Event()
    session = threading.Thread(target=watcher.run, kwargs={"stop": stop})
    session.start()
    try:
        deadline = time.monotonic() + 1.0  # a hundred polls or more
        while time.monotonic() < deadline:
            time.sleep(0.01)
        assert sorted(n.split(":")[0] for n in notes) == ["detection deferred", "ingest deferred"], notes

        _writable_again(lake)  # the situation changes: the file goes through
        _wait_for(lambda: [r.file for r in reports] == ["first.jsonl"])
        _refusing_writes(lake)
        _failures(inbox / "second.jsonl", 2, first=20)
        _wait_for(lambda: len(notes) == 4)
        time.sleep(0.3)
    finally:
        stop.set()
        session.join(timeout=30)
    assert not session.is_alive()
    assert len(notes) == 4 and notes[2:] in (notes[:2], notes[1::-1]), notes  # said again, once each


def _wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_the_signal_handlers_are_put_back(rules: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from auditlake.cli import main

    before = {n: signal.getsignal(n) for n in (signal.SIGTERM, signal.SIGINT)}
    result = CliRunner().invoke(main, ["watch", "--inbox", str(tmp_path / "inbox"), "--lake", str(tmp_path / "lake"),
                                       "--rules", str(rules), "--once"])
    assert result.exit_code == 0, result.output
    assert {n: signal.getsignal(n) for n in before} == before
