"""`auditlake watch`: the same alerts as one run and as daily runs; outages; files that fail."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from tests.detection.test_engine import CLOUD_RULE, RULES, START, _okta_failure
from tests.sinks.helpers import SECRET, Receiver, stored_ids

import auditlake.watch as watch_module
from auditlake.cli import main
from auditlake.detection.alert_store import AlertStore
from auditlake.detection.compile import RuleSet, compile_rules
from auditlake.detection.engine import run_detection
from auditlake.ingest import ingest
from auditlake.lake.paths import LakePaths
from auditlake.sinks import Delivery
from auditlake.sinks.jsonl import JsonlSink
from auditlake.sinks.webhook import WebhookSink
from auditlake.synth.generate import generate
from auditlake.watch import FileReport, Inbox, Watcher

DAYS = 7
SOURCES = ["okta.system", "aws.cloudtrail", "gateway.teleport"]


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> dict[int, list[Path]]:
    """A week of three sources (one file per source and day) plus failures bursting over midnight."""
    root = tmp_path_factory.mktemp("inputs")
    generate(root / "synth", days=DAYS, scale=0.03, sources=SOURCES)
    midnight = START + timedelta(days=1)
    burst = {
        0: [(midnight - timedelta(minutes=5), "burst-1"), (midnight - timedelta(minutes=2), "burst-2")],
        1: [(midnight + timedelta(minutes=1), "burst-3")],
    }
    files: dict[int, list[Path]] = {}
    for number in range(DAYS):
        stamp = (START + timedelta(days=number)).date().isoformat()
        files[number] = []
        for path in sorted((root / "synth").glob(f"*/{stamp}.*")):
            named = root / f"{path.parent.name}-{path.name}"  # unique names, as a shipper would drop them
            shutil.copyfile(path, named)
            files[number].append(named)
        if number in burst:
            extra = root / f"burst-{stamp}.jsonl"
            extra.write_text("".join(_okta_failure(t, "mallory@example.com", uid) + "\n" for t, uid in burst[number]))
            files[number].append(extra)
    return files


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rules")
    (folder / "okta.yml").write_text(RULES)
    (folder / "aws.yml").write_text(CLOUD_RULE)
    return folder


@pytest.fixture(scope="module")
def ruleset(rules: Path) -> RuleSet:
    return compile_rules([rules])


@pytest.fixture(scope="module")
def reference(days: dict[int, list[Path]], ruleset: RuleSet, tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """The alerts of one detection run over the whole week."""
    lake = LakePaths.at(tmp_path_factory.mktemp("whole"))
    ingest([p for files in days.values() for p in files], lake, workers=1)
    return run_detection(lake, ruleset, digest="rules").alerts


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def _drop(inbox: Path, files: list[Path]) -> None:
    """Write each file under a temporary name, then rename it into the inbox (as writers should)."""
    for path in files:
        temporary = inbox / f".{path.name}.tmp"
        shutil.copyfile(path, temporary)
        os.rename(temporary, inbox / path.name)


def _wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _jsonl_ids(path: Path) -> list[str]:
    return [json.loads(line)["alert_id"] for line in path.read_text().splitlines()] if path.exists() else []


def test_one_run_daily_runs_and_a_watch_session_agree(
    days: dict[int, list[Path]], ruleset: RuleSet, reference: pl.DataFrame, receiver: Receiver, tmp_path: Path
) -> None:
    expected = set(reference["alert_id"].to_list())
    correlations = reference.filter(pl.col("rule_kind") == "correlation")
    assert correlations.height > 0 and reference.height > correlations.height
    assert "burst-3" in correlations["event_uids"].explode().to_list()  # found across midnight

    daily = LakePaths.at(tmp_path / "daily")
    records = 0
    for number in range(DAYS):
        records += ingest(days[number], daily, workers=1).records
        run_detection(daily, ruleset, digest="rules")
    assert stored_ids(daily) == expected

    # A watch session fed the same files a day at a time; the webhook receiver is down on days 2-4.
    lake = LakePaths.at(tmp_path / "watched")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    archive = tmp_path / "alerts.jsonl"
    webhook = WebhookSink("soc", receiver.url, SECRET, max_attempts=2, backoff_s=0.005, backoff_max_s=0.02,
                          timeout_s=2.0, batch_size=5)
    delivery = Delivery(lake, [JsonlSink("archive", archive), webhook])
    reports: list[FileReport] = []
    watcher = Watcher(inbox, lake, ruleset, digest="rules", delivery=delivery, poll_s=0.02, settle_s=0.02,
                      on_file=reports.append)
    stop = threading.Event()
    session = threading.Thread(target=watcher.run, kwargs={"stop": stop})
    session.start()
    try:
        for number in range(DAYS):
            if number == 2:
                receiver.stop()
            if number == 5:
                receiver.start()
            _drop(inbox, days[number])
            _wait_for(lambda n=number: len(reports) == sum(len(days[d]) for d in range(n + 1)))
        _wait_for(lambda: delivery.pending() == {"archive": 0, "soc": 0})
    finally:
        stop.set()
        session.join(timeout=30)
    assert not session.is_alive()

    assert stored_ids(lake) == expected
    assert sorted(_jsonl_ids(archive)) == sorted(expected)  # every alert once, correlations included
    assert receiver.exactly_once() == expected and receiver.bad == 0
    assert {r.status for r in reports} == {"done"}
    assert sum(r.alerts for r in reports) == len(expected)
    assert sum(r.records for r in reports) == records
    down = [r for r in reports if r.waiting_for]
    assert down and all(r.waiting_for == ["soc"] and r.latency_s is None for r in down)
    delivered = [r for r in reports if not r.waiting_for]
    assert all(r.latency_s is not None and 0 <= r.latency_s < 30 for r in delivered)
    assert sorted(p.name for p in (inbox / ".done").iterdir()) == sorted(p.name for f in days.values() for p in f)


def test_watch_once_from_the_command_line(days: dict[int, list[Path]], rules: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    lake = tmp_path / "lake"
    config = tmp_path / "auditlake.toml"
    config.write_text('[[sinks]]\ntype = "jsonl"\npath = "alerts.jsonl"\n')
    (inbox / "notes.txt").write_text("not an audit log\n")
    (inbox / "half-written.jsonl.tmp").write_text("{")
    (inbox / ".hidden.jsonl").write_text("{")
    args = ["watch", "--inbox", str(inbox), "--rules", str(rules), "--lake", str(lake), "--config", str(config),
            "--once", "--json", "--poll-s", "0.02", "--settle-s", "0.02"]
    seen: list[dict[str, object]] = []
    for number, batch in enumerate([days[0] + days[1], days[2]]):
        _drop(inbox, batch)
        result = CliRunner().invoke(main, args)
        assert result.exit_code == (3 if number == 0 else 0), result.output  # 3: a file failed
        seen += [json.loads(line) for line in result.stdout.splitlines()]
    failed = [r for r in seen if r["status"] == "failed"]
    assert [r["file"] for r in failed] == ["notes.txt"]
    assert "no registered source recognises" in str(failed[0]["reason"])
    assert "no registered source" in (inbox / ".failed" / "notes.txt.reason.txt").read_text()
    assert (inbox / "half-written.jsonl.tmp").exists() and (inbox / ".hidden.jsonl").exists()
    done = [r for r in seen if r["status"] == "done"]
    assert sorted(str(r["file"]) for r in done) == sorted(p.name for p in days[0] + days[1] + days[2])
    assert all(set(r) >= {"file", "records", "alerts", "latency_s"} for r in done)
    stored = stored_ids(LakePaths.at(lake))
    assert sorted(_jsonl_ids(tmp_path / "alerts.jsonl")) == sorted(stored)
    assert sum(int(str(r["alerts"])) for r in done) == len(stored) > 0


def test_a_watch_killed_before_detection_finishes_its_files_on_restart(
    days: dict[int, list[Path]], ruleset: RuleSet, reference: pl.DataFrame, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _drop(inbox, days[0] + days[1])
    archive = tmp_path / "alerts.jsonl"

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(watch_module, "run_detection", killed)
    first = Watcher(inbox, lake, ruleset, digest="rules", delivery=Delivery(lake, [JsonlSink("a", archive)]),
                    settle_s=0.0)
    with pytest.raises(KeyboardInterrupt):
        first.run(once=True)
    monkeypatch.undo()
    waiting = [p for p in inbox.iterdir() if not p.name.startswith(".")]
    assert len(waiting) == len(days[0] + days[1])  # ingested, but not done

    reports: list[FileReport] = []
    Watcher(inbox, lake, ruleset, digest="rules", delivery=Delivery(lake, [JsonlSink("a", archive)]),
            settle_s=0.0, on_file=reports.append).run(once=True)
    assert len(reports) == len(days[0] + days[1])
    # The first start had ingested everything: reading the files again adds nothing, and the
    # alerts of that data are found and delivered now.
    assert sum(r.records for r in reports) > 0
    two_days = {i for i, t in zip(reference["alert_id"], reference["last_evidence_at"], strict=True)
                if t < START + timedelta(days=2)}
    assert two_days <= set(_jsonl_ids(archive)) == set(AlertStore(lake).scan().collect()["alert_id"].to_list())


def test_a_file_is_taken_once_it_stopped_changing(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path, settle_s=0.05)
    growing = tmp_path / "sub" / "growing.jsonl"
    growing.parent.mkdir()
    growing.write_text("{}\n")
    for ignored in ("a.tmp", ".b.jsonl", "c.part", "d~"):
        (tmp_path / ignored).write_text("{}\n")
    (tmp_path / ".done").mkdir()
    (tmp_path / ".done" / "old.jsonl").write_text("{}\n")
    old = tmp_path / "old.jsonl"
    old.write_text("{}\n")
    os.utime(old, (time.time() - 3600, time.time() - 3600))

    ready, waiting, fresh = inbox.scan()
    assert [f.name for f in ready] == ["old.jsonl"] and waiting == 1 and fresh
    assert ready[0].landed_at == pytest.approx(time.time() - 3600, abs=5)  # first poll: its mtime
    inbox.finish(ready[0])
    time.sleep(0.06)
    with growing.open("a") as handle:
        handle.write("{}\n")
    ready, waiting, fresh = inbox.scan()
    assert ready == [] and waiting == 1 and not fresh
    time.sleep(0.06)
    ready, waiting, _ = inbox.scan()
    assert [f.name for f in ready] == ["sub/growing.jsonl"] and waiting == 0

    before = time.time()
    late = tmp_path / "late.jsonl"
    late.write_text("{}\n")
    os.utime(late, (before - 3600, before - 3600))  # moved in with an old mtime
    ready, _, _ = inbox.scan()
    assert [f.name for f in ready if f.name == "late.jsonl"]
    landed = next(f.landed_at for f in ready if f.name == "late.jsonl")
    assert landed >= before - 1  # charged from the previous poll, not from its old mtime
    done = sorted(p.name for p in (tmp_path / ".done").iterdir())
    assert len(done) == 2 and done[0].endswith("-old.jsonl") and done[1] == "old.jsonl"  # no clobbering


def test_a_file_the_disk_cannot_take_waits_in_the_inbox_until_it_can(
    days: dict[int, list[Path]], reference: pl.DataFrame, ruleset: RuleSet, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk is the lake's trouble, not the file's: the file is not moved to `.failed/`.
    A watch says why it waits and takes the file once the lake can be written again; a run
    with `once` (cron) ends with the error instead, and the next run takes the file."""
    from tests.lake.helpers import file_size_limit

    from auditlake.lake.write_refused import WriteRefused

    lake = LakePaths.at(tmp_path / "lake")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _drop(inbox, days[0])
    archive = tmp_path / "alerts.jsonl"
    original, calls = watch_module.ingest, []

    def on_a_full_disk_at_first(*args: object, **kwargs: object) -> object:
        calls.append(args)
        if len(calls) not in (1, 2):
            return original(*args, **kwargs)  # type: ignore[arg-type]
        with file_size_limit(16 * 1024):
            return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(watch_module, "ingest", on_a_full_disk_at_first)
    notes: list[str] = []
    reports: list[FileReport] = []

    def watcher() -> Watcher:
        return Watcher(inbox, lake, ruleset, digest="rules", delivery=Delivery(lake, [JsonlSink("a", archive)]),
                       settle_s=0.0, poll_s=0.01, on_file=reports.append, on_note=notes.append)

    with pytest.raises(WriteRefused, match="could not write: File too large"):
        watcher().run(once=True)
    assert not reports and not (inbox / ".failed").exists()

    stop = threading.Event()
    session = threading.Thread(target=watcher().run, kwargs={"stop": stop})
    session.start()
    try:
        _wait_for(lambda: len(reports) == len(days[0]))
    finally:
        stop.set()
        session.join(timeout=30)
    assert [n for n in notes if n.startswith("ingest deferred: ")] == [notes[0]]
    assert "could not write: File too large" in notes[0]
    assert not (inbox / ".failed").exists()
    assert sorted(r.file for r in reports) == sorted(p.name for p in days[0])
    assert {r.status for r in reports} == {"done"}
    one_day = {i for i, t in zip(reference["alert_id"], reference["last_evidence_at"], strict=True)
               if t < START + timedelta(days=1)}
    assert one_day <= set(_jsonl_ids(archive)) == set(AlertStore(lake).scan().collect()["alert_id"].to_list())


def test_watch_once_exits_4_while_alerts_wait_in_a_spool(
    days: dict[int, list[Path]], rules: Path, receiver: Receiver, tmp_path: Path
) -> None:
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    inbox.mkdir()
    config = tmp_path / "auditlake.toml"
    config.write_text(f'[[sinks]]\ntype = "webhook"\nname = "soc"\nurl = "{receiver.url}"\nsecret = "test-secret"\n')
    args = ["watch", "--inbox", str(inbox), "--rules", str(rules), "--lake", str(lake), "--config", str(config),
            "--once", "--settle-s", "0"]
    _drop(inbox, days[0])
    receiver.status = 400  # refused: not retried now, kept for the next delivery
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 4, refused.output
    assert "alerts waiting in the spool of soc" in refused.stderr
    assert receiver.requests > 0 and not receiver.counts

    receiver.status = None  # fixed: the next run sends what waited, and is done
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert receiver.exactly_once() == stored_ids(LakePaths.at(lake)) != set()


def test_a_stdout_sink_gets_standard_output_to_itself(days: dict[int, list[Path]], rules: Path, tmp_path: Path) -> None:
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    inbox.mkdir()
    config = tmp_path / "auditlake.toml"
    config.write_text('[[sinks]]\ntype = "stdout"\n')
    args = ["watch", "--inbox", str(inbox), "--rules", str(rules), "--lake", str(lake), "--config", str(config),
            "--once", "--settle-s", "0"]
    refused = CliRunner().invoke(main, [*args, "--json"])
    assert refused.exit_code == 2 and "--json prints a report per file on standard output" in refused.stderr
    _drop(inbox, days[0])
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    alerts = [json.loads(line)["alert_id"] for line in result.stdout.splitlines()]
    assert sorted(alerts) == sorted(stored_ids(LakePaths.at(lake))) != []
