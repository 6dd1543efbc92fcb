"""The webhook sink against a real HTTP receiver on 127.0.0.1: signature, retries, backoff."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
from tests.sinks.helpers import SECRET, Receiver

from auditlake.sinks.base import Batch, SinkError
from auditlake.sinks.webhook import WebhookSink, sign, verify

ALERTS = [{"alert_id": f"id-{n}", "level": "high"} for n in range(3)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def _sink(url: str, *, max_attempts: int = 4, backoff_s: float = 0.01, backoff_max_s: float = 0.05) -> WebhookSink:
    return WebhookSink("soc", url, SECRET, max_attempts=max_attempts, backoff_s=backoff_s,
                       backoff_max_s=backoff_max_s, timeout_s=2.0)


def test_a_batch_is_one_signed_post(receiver: Receiver) -> None:
    _sink(receiver.url).send(Batch("batch-1", ALERTS), threading.Event())
    assert receiver.requests == 1 and receiver.bad == 0
    assert receiver.exactly_once() == {"id-0", "id-1", "id-2"}
    assert receiver.batches == {"batch-1": 1}


def test_the_signature_covers_the_exact_body() -> None:
    body = _sink("http://127.0.0.1:1/").body(Batch("b", ALERTS), 1_700_000_000)
    assert json.loads(body) == {"sink": "soc", "batch_id": "b", "timestamp": 1_700_000_000, "alerts": ALERTS}
    assert verify(SECRET, body, sign(SECRET, body))
    assert not verify(SECRET, body + b" ", sign(SECRET, body))
    assert not verify(b"other", body, sign(SECRET, body))
    assert not verify(SECRET, body, None)


def test_a_wrong_secret_is_refused_and_not_retried(receiver: Receiver) -> None:
    sink = WebhookSink("soc", receiver.url, b"wrong", max_attempts=4, backoff_s=0.01)
    with pytest.raises(SinkError, match=r"HTTP 401 .* \(after 1 attempt\)"):
        sink.send(Batch("b", ALERTS), threading.Event())
    assert receiver.requests == 1 and not receiver.counts


def test_a_batch_too_large_for_the_receiver_is_split_until_accepted(receiver: Receiver) -> None:
    receiver.max_alerts = 2
    alerts = [{"alert_id": f"id-{n}", "level": "high"} for n in range(7)]
    _sink(receiver.url).send(Batch("big", alerts), threading.Event())
    assert receiver.exactly_once() == {a["alert_id"] for a in alerts}
    assert receiver.order == [a["alert_id"] for a in alerts]  # still oldest first
    assert set(receiver.batches) == {"big.1.1", "big.1.2", "big.2.1", "big.2.2"}


def test_a_single_alert_too_large_stays_undelivered(receiver: Receiver) -> None:
    receiver.max_alerts = 0
    with pytest.raises(SinkError, match=r"HTTP 413"):
        _sink(receiver.url).send(Batch("big", ALERTS[:2]), threading.Event())
    assert not receiver.counts and receiver.requests == 2  # the pair, then its first half alone


def test_server_errors_are_retried_until_accepted(receiver: Receiver) -> None:
    receiver.fail_next = 2
    _sink(receiver.url).send(Batch("b", ALERTS), threading.Event())
    assert receiver.requests == 3
    assert receiver.exactly_once() == {"id-0", "id-1", "id-2"}


def test_giving_up_after_max_attempts(receiver: Receiver) -> None:
    receiver.status = 503
    started = time.monotonic()
    with pytest.raises(SinkError, match=r"HTTP 503 .* \(after 4 attempts\)"):
        _sink(receiver.url).send(Batch("b", ALERTS), threading.Event())
    assert receiver.requests == 4 and not receiver.counts
    assert time.monotonic() - started < 1.0


def test_after_a_failed_batch_a_try_is_one_request_until_one_goes_out(receiver: Receiver) -> None:
    receiver.status = 503
    sink = _sink(receiver.url)
    with pytest.raises(SinkError, match=r"\(after 4 attempts\)"):
        sink.send(Batch("b", ALERTS), threading.Event())
    for _ in range(2):  # still down: one request per try, however many retries are allowed
        with pytest.raises(SinkError, match=r"\(after 1 attempt; it had failed at the last try too\)"):
            sink.send(Batch("b", ALERTS), threading.Event())
    assert receiver.requests == 6 and not receiver.counts
    receiver.status = None
    sink.send(Batch("b", ALERTS), threading.Event())
    assert receiver.exactly_once() == {"id-0", "id-1", "id-2"}
    receiver.status, receiver.requests = 503, 0  # down again after a success: full retries
    with pytest.raises(SinkError, match=r"\(after 4 attempts\)"):
        sink.send(Batch("c", ALERTS), threading.Event())
    assert receiver.requests == 4


def test_an_unreachable_receiver_is_retried() -> None:
    down = Receiver().start()
    down.stop()  # the port is known and nothing listens on it
    with pytest.raises(SinkError, match=r"cannot reach .* \(after 2 attempts\)"):
        _sink(down.url, max_attempts=2).send(Batch("b", ALERTS), threading.Event())


def test_backoff_is_exponential_capped_and_jittered() -> None:
    sink = WebhookSink("soc", "http://127.0.0.1:1/", SECRET, backoff_s=1.0, backoff_max_s=5.0, jitter=lambda: 1.0)
    assert [sink.delay(n) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    low = WebhookSink("soc", "http://127.0.0.1:1/", SECRET, backoff_s=1.0, backoff_max_s=5.0, jitter=lambda: 0.0)
    assert [low.delay(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert low.delay(1, retry_after=3.0) == 3.0 and low.delay(1, retry_after=60.0) == 5.0


def test_stop_ends_the_retries(receiver: Receiver) -> None:
    receiver.status = 503
    stop = threading.Event()
    sink = _sink(receiver.url, max_attempts=50, backoff_s=0.2, backoff_max_s=0.2)
    threading.Timer(0.1, stop.set).start()
    started = time.monotonic()
    with pytest.raises(SinkError, match="stopped"):
        sink.send(Batch("b", ALERTS), stop)
    assert time.monotonic() - started < 1.0
