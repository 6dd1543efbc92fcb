"""A stopped delivery returns within seconds, even with a request in flight to a receiver that
never answers, and the batch stays in the spool for the next delivery."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.sinks.helpers import SECRET, Hang, Receiver, store_alerts

from auditlake.lake.lock import FileLock
from auditlake.lake.paths import LakePaths
from auditlake.sinks.deliver import Delivery, DeliveryReport
from auditlake.sinks.webhook import WebhookSink

PROMPT_S = 6.0
"""Generous for a busy machine (a stopped delivery waits a second for requests in flight); the
receiver below would hold a delivery for minutes."""


@pytest.fixture
def hang() -> Iterator[Hang]:
    server = Hang()
    yield server
    server.close()


def _in_thread(delivery: Delivery, **kwargs: float) -> tuple[threading.Thread, list[DeliveryReport]]:
    reports: list[DeliveryReport] = []
    thread = threading.Thread(target=lambda: reports.append(delivery.sync(**kwargs)), daemon=True)
    thread.start()
    return thread, reports


def test_a_stop_gives_up_a_request_in_flight_and_keeps_its_batch(hang: Hang, tmp_path: Path) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    sink = WebhookSink("soc", hang.url, SECRET, timeout_s=60.0, max_attempts=5)
    delivery = Delivery(lake, [sink])
    ids = store_alerts(lake, 7)
    thread, reports = _in_thread(delivery)
    assert hang.requested.wait(30)
    stopped = time.monotonic()
    delivery.stop.set()
    thread.join(PROMPT_S)
    assert not thread.is_alive() and time.monotonic() - stopped < PROMPT_S
    (status,) = reports[0].sinks
    assert status.error == "stopped while a request was in flight" and status.pending == len(ids)
    assert reports[0].waiting == ["soc"]

    receiver = Receiver().start()
    try:
        again = Delivery(lake, [WebhookSink("soc", receiver.url, SECRET)]).sync()
        assert again.complete and receiver.exactly_once() == set(ids)
    finally:
        receiver.stop()


def test_a_stop_ends_the_wait_for_the_delivery_lock(tmp_path: Path) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    delivery = Delivery(lake, [WebhookSink("soc", "http://127.0.0.1:9/x", SECRET)])
    store_alerts(lake, 2)
    with FileLock(lake.locks / "deliver.lock", purpose="alert delivery"):
        thread, reports = _in_thread(delivery, lock_wait_s=120.0)
        time.sleep(0.1)
        stopped = time.monotonic()
        delivery.stop.set()
        thread.join(PROMPT_S)
        assert not thread.is_alive() and time.monotonic() - stopped < PROMPT_S
    assert reports[0].skipped is not None and "another alert delivery is running" in reports[0].skipped
