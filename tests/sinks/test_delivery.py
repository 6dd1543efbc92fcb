"""Delivery to every sink: outages, crashes and restarts lose nothing and repeat nothing."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tests.detection.test_engine import RULES, START, _okta_failure
from tests.sinks.helpers import SECRET, Receiver, store_alerts, stored_ids

from auditlake.cli import main
from auditlake.detection.compile import compile_rules
from auditlake.detection.engine import run_detection
from auditlake.ingest import ingest
from auditlake.lake.lock import FileLock
from auditlake.lake.paths import LakePaths
from auditlake.sinks import Batch, Delivery, Sink, describe
from auditlake.sinks.jsonl import JsonlSink
from auditlake.sinks.outbox import Ledger
from auditlake.sinks.spool import Spool
from auditlake.sinks.webhook import WebhookSink


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def _webhook(receiver: Receiver, batch_size: int = 3) -> WebhookSink:
    return WebhookSink("soc", receiver.url, SECRET, max_attempts=2, backoff_s=0.01, backoff_max_s=0.02,
                       timeout_s=2.0, batch_size=batch_size)


def _lines(path: Path) -> list[str]:
    return [json.loads(line)["alert_id"] for line in path.read_text().splitlines()] if path.exists() else []


def test_receiver_down_then_up_gets_every_alert_exactly_once(tmp_path: Path, receiver: Receiver) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    archive = tmp_path / "alerts.jsonl"
    delivery = Delivery(lake, [_webhook(receiver), JsonlSink("archive", archive)])
    expected = store_alerts(lake, 4, first=0)
    assert delivery.sync().complete

    receiver.stop()  # down: nothing listens
    expected += store_alerts(lake, 10, first=10)
    report = delivery.sync()
    soc, archived = report.sinks
    assert soc.error is not None and "cannot reach" in soc.error and soc.pending == 10
    assert archived.error is None and archived.delivered == 10  # the other sink is not held up
    assert any("10 alerts wait in its spool" in line for line in describe(report))

    requests = receiver.requests
    assert delivery.sync().sinks[0].pending == 10  # paused: not retried on every call
    time.sleep(0.05)
    receiver.start()
    receiver.status = 503  # listening again, but failing
    expected += store_alerts(lake, 5, first=30)
    assert delivery.sync().sinks[0].pending == 15
    assert receiver.requests > requests and len(receiver.counts) == 4

    receiver.status = None  # recovered
    time.sleep(0.05)
    report = delivery.sync()
    assert report.complete and report.sinks[0].delivered == 15
    assert receiver.exactly_once() == set(expected) == stored_ids(lake)
    assert receiver.order == expected  # in the order they were stored
    assert _lines(archive) == expected
    assert receiver.bad == 0


def test_a_crash_between_storing_and_delivering_is_recovered(tmp_path: Path, receiver: Receiver) -> None:
    events = tmp_path / "okta.jsonl"
    events.write_text("".join(_okta_failure(START.replace(hour=9, minute=m), "eve@example.com", f"e{m}") + "\n"
                              for m in range(4)))
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "okta.yml").write_text(RULES)
    lake = LakePaths.at(tmp_path / "lake")
    ingest([events], lake, workers=1)

    Delivery(lake, [_webhook(receiver)])  # the sink's starting point is fixed before the run
    found = run_detection(lake, compile_rules([rules]), digest="rules")
    assert found.alerts_by("rule_kind")["correlation"] == 1
    # ...and the process dies here: the alerts are stored, the watermark moved, nothing sent.
    assert receiver.requests == 0

    assert Delivery(lake, [_webhook(receiver)]).sync().complete  # the next start
    assert receiver.exactly_once() == stored_ids(lake) == set(found.alerts["alert_id"].to_list())


def test_a_crash_while_queueing_is_recovered_exactly(tmp_path: Path, receiver: Receiver,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    Delivery(lake, [_webhook(receiver)])
    expected = store_alerts(lake, 10)
    original = Spool.put

    def put_one_batch_then_die(self: Spool, alerts: Sequence[dict[str, object]], batch_size: int) -> int:
        original(self, alerts[:batch_size], batch_size)
        raise KeyboardInterrupt

    monkeypatch.setattr(Spool, "put", put_one_batch_then_die)
    with pytest.raises(KeyboardInterrupt):
        Delivery(lake, [_webhook(receiver)]).sync()
    monkeypatch.setattr(Spool, "put", original)
    assert receiver.requests == 0

    assert Delivery(lake, [_webhook(receiver)]).sync().complete
    assert receiver.exactly_once() == set(expected)


def test_a_crash_after_queueing_before_recording_is_recovered_exactly(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    Delivery(lake, [_webhook(receiver)])
    expected = store_alerts(lake, 7)

    def die(self: Ledger, names: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Ledger, "add", die)
    with pytest.raises(KeyboardInterrupt):
        Delivery(lake, [_webhook(receiver)]).sync()
    monkeypatch.undo()
    assert Delivery(lake, [_webhook(receiver)]).sync().complete
    assert receiver.exactly_once() == set(expected)


def test_a_crash_after_acknowledgement_repeats_the_batch_with_its_id(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one documented duplicate: the same batch id, so a receiver can drop it."""
    lake = LakePaths.at(tmp_path / "lake")
    Delivery(lake, [_webhook(receiver, batch_size=10)])
    store_alerts(lake, 3)

    def die(self: Spool, path: Path) -> None:
        return None  # the process is killed right after the acknowledgement arrived

    monkeypatch.setattr(Spool, "remove", die)
    Delivery(lake, [_webhook(receiver)]).sync()
    monkeypatch.undo()
    assert Delivery(lake, [_webhook(receiver)]).sync().complete
    assert list(receiver.batches.values()) == [2]
    assert set(receiver.counts.values()) == {2}


def test_the_acknowledged_part_of_a_split_batch_is_not_sent_again(tmp_path: Path, receiver: Receiver) -> None:
    """A receiver that refuses large requests (413) and then goes down: the halves it took
    leave the spool; once it is back it gets the rest, each alert once, in order."""
    lake = LakePaths.at(tmp_path / "lake")
    delivery = Delivery(lake, [_webhook(receiver, batch_size=8)])
    expected = store_alerts(lake, 8)
    receiver.max_alerts, receiver.down_after = 2, 3  # three pairs go out, then 503s
    (status,) = delivery.sync().sinks
    assert status.error is not None and "HTTP 503" in status.error
    assert status.delivered == 6 and status.pending == 2
    receiver.down_after = None
    time.sleep(status.retry_in_s or 0)
    assert delivery.sync().complete
    assert receiver.exactly_once() == set(expected) and receiver.order == expected


def test_a_new_sink_starts_at_the_end_of_the_store(tmp_path: Path) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    store_alerts(lake, 5)
    archive = tmp_path / "alerts.jsonl"
    delivery = Delivery(lake, [JsonlSink("archive", archive)])
    later = store_alerts(lake, 3, first=100)
    assert delivery.sync().sinks[0].delivered == 3
    assert _lines(archive) == later


class _Broken(Sink):
    kind = "broken"

    def send(self, batch: Batch, stop: threading.Event) -> None:
        raise RuntimeError("a bug in a sink")


def test_a_failing_sink_never_blocks_the_others(tmp_path: Path) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    archive = tmp_path / "alerts.jsonl"
    delivery = Delivery(lake, [_Broken("broken", batch_size=2), JsonlSink("archive", archive)])
    expected = store_alerts(lake, 5)
    broken, archived = delivery.sync().sinks
    assert broken.error == "RuntimeError: a bug in a sink" and broken.pending == 5
    assert archived.delivered == 5 and _lines(archive) == expected
    assert delivery.pending() == {"broken": 5, "archive": 0}


def test_a_damaged_spool_stops_only_its_own_sink(tmp_path: Path) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    blocked, archive = tmp_path / "blocked.jsonl", tmp_path / "alerts.jsonl"
    blocked.mkdir()  # not a file: its sink fails and keeps its batch
    sinks = [JsonlSink("blocked", blocked, batch_size=2), JsonlSink("archive", archive)]
    delivery = Delivery(lake, sinks)
    first = store_alerts(lake, 2)
    assert delivery.sync().sinks[1].delivered == 2
    (spooled,) = Spool(lake.state / "spool" / "blocked").paths()
    spooled.write_bytes(spooled.read_bytes()[:40])  # damaged on disk
    later = store_alerts(lake, 3, first=10, run="1" * 16)
    delivery = Delivery(lake, sinks)  # the next run
    damaged, archived = delivery.sync().sinks
    assert damaged.error is not None and "spooled batch is unreadable" in damaged.error
    assert damaged.pending == 3 and delivery.pending()["blocked"] == 3
    assert archived.error is None and _lines(archive) == first + later


def test_a_busy_delivery_lock_defers_and_loses_nothing(tmp_path: Path) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    archive = tmp_path / "alerts.jsonl"
    delivery = Delivery(lake, [JsonlSink("archive", archive)])
    expected = store_alerts(lake, 4)
    with FileLock(lake.locks / "deliver.lock", purpose="alert delivery"):
        report = delivery.sync(lock_wait_s=0.0)
    assert report.skipped is not None and "another alert delivery" in report.skipped
    assert not report.complete and report.waiting == ["archive"] and not archive.exists()
    assert delivery.sync().complete and _lines(archive) == expected


def test_detect_delivers_to_the_configured_sinks(tmp_path: Path, receiver: Receiver) -> None:
    events = tmp_path / "okta.jsonl"
    events.write_text("".join(_okta_failure(START.replace(hour=9, minute=m), "eve@example.com", f"e{m}") + "\n"
                              for m in range(3)))
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "okta.yml").write_text(RULES)
    lake = LakePaths.at(tmp_path / "lake")
    config = tmp_path / "auditlake.toml"
    config.write_text(f"""
[[sinks]]
type = "jsonl"
path = "out/alerts.jsonl"

[[sinks]]
type = "webhook"
url = "{receiver.url}"
secret = "{SECRET.decode()}"
max_attempts = 2
backoff_s = 0.01
""")
    ingest([events], lake, workers=1)
    receiver.stop()
    args = ["detect", "--rules", str(rules), "--lake", str(lake.root), "--config", str(config), "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 4, result.output  # stored, but some alerts wait in a spool
    printed = [json.loads(line)["alert_id"] for line in result.stdout.splitlines()]
    count = len(printed)
    assert count >= 1  # at least the correlation of the three failures
    assert f"sink jsonl: {count:,} alerts delivered" in result.stderr
    assert "sink webhook: not delivered" in result.stderr
    assert f"{count:,} alerts wait in its spool" in result.stderr
    assert _lines(tmp_path / "out" / "alerts.jsonl") == printed

    receiver.start()
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and again.stdout == ""
    assert f"sink webhook: {count:,} alerts delivered" in again.stderr
    assert receiver.exactly_once() == set(printed)

    bad = tmp_path / "bad.toml"
    bad.write_text('[[sinks]]\ntype = "jsonl"\n')
    failed = CliRunner().invoke(main, [*args[:-3], "--config", str(bad)])
    assert failed.exit_code == 1 and "`path` is missing" in failed.stderr


def test_a_spool_the_disk_refuses_leaves_the_alerts_for_the_next_delivery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Queueing into a sink's spool is refused (the kernel's file-size limit standing in for a
    full disk): the delivery reports it for the sink instead of raising, and the next one
    queues and delivers every alert exactly once."""
    from tests.lake.helpers import file_size_limit

    from auditlake.sinks.outbox import Outbox

    lake = LakePaths.at(tmp_path / "lake")
    archive = tmp_path / "alerts.jsonl"
    delivery = Delivery(lake, [JsonlSink("archive", archive)])
    expected = store_alerts(lake, 5)
    original = Outbox.take

    def on_a_full_disk(self: Outbox, *args: Any) -> int:
        with file_size_limit(0):
            return original(self, *args)

    monkeypatch.setattr(Outbox, "take", on_a_full_disk)
    report = delivery.sync()
    (status,) = report.sinks
    assert status.error is not None and "new alerts not queued" in status.error
    assert "could not write: File too large" in status.error and "stay in the alert store" in status.error
    assert not report.complete and _lines(archive) == []
    monkeypatch.undo()
    assert delivery.sync().complete
    assert sorted(_lines(archive)) == sorted(expected)
