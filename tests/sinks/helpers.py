"""Webhook receivers on 127.0.0.1 (one that checks signatures and counts alerts by id, one that
never answers); stored alerts."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import polars as pl

from auditlake.detection.alert_store import AlertStore
from auditlake.detection.alerts import ALERT_SCHEMA
from auditlake.lake.paths import LakePaths
from auditlake.sinks.webhook import BATCH_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

SECRET = b"test-secret"


class Receiver:
    """Counts every alert id it acknowledged; can be down (not listening) or answer an error."""

    def __init__(self, secret: bytes = SECRET) -> None:
        self.secret = secret
        self.counts: Counter[str] = Counter()
        self.order: list[str] = []
        self.batches: Counter[str] = Counter()
        self.requests = 0
        self.bad = 0
        self.status: int | None = None
        """Answer this status to every request instead of 200 (e.g. 503 while 'down')."""
        self.fail_next = 0
        """Answer 503 to this many requests first."""
        self.max_alerts: int | None = None
        """Answer 413 (Payload Too Large) to a request with more alerts than this."""
        self.down_after: int | None = None
        """Answer 503 to every request once this many requests were acknowledged."""
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(receiver.answer(body, self.headers))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening: connections are refused until `start` again (same port)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def answer(self, body: bytes, headers: Message) -> int:
        with self._lock:
            self.requests += 1
            get = headers.get
            document = json.loads(body)
            if not verify(self.secret, body, get(SIGNATURE_HEADER)) or get(TIMESTAMP_HEADER) != str(document["timestamp"]):
                self.bad += 1
                return 401
            if self.fail_next > 0:
                self.fail_next -= 1
                return 503
            if self.status is not None:
                return self.status
            if self.down_after is not None and sum(self.batches.values()) >= self.down_after:
                return 503
            if self.max_alerts is not None and len(document["alerts"]) > self.max_alerts:
                return 413
            assert get(BATCH_HEADER) == document["batch_id"]
            self.batches[document["batch_id"]] += 1
            for alert in document["alerts"]:
                self.counts[alert["alert_id"]] += 1
                self.order.append(alert["alert_id"])
            return 200

    def exactly_once(self) -> set[str]:
        """The ids received, after checking none came twice."""
        twice = {i for i, n in self.counts.items() if n > 1}
        assert not twice, f"received more than once: {sorted(twice)[:5]}"
        return set(self.counts)


class Hang:
    """A receiver that accepts connections, reads the requests and never answers."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}/hook"
        self.requested = threading.Event()
        self._open: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            self._open.append(connection)
            if connection.recv(65536):
                self.requested.set()

    def close(self) -> None:
        for connection in [*self._open, self._server]:
            with contextlib.suppress(OSError):  # not connected
                connection.shutdown(socket.SHUT_RDWR)  # wakes the thread up from accept or recv
            connection.close()


def stored_ids(lake: LakePaths) -> set[str]:
    return set(AlertStore(lake).scan().select("alert_id").collect()["alert_id"].to_list())


def made_up_alerts(count: int, *, first: int = 0, run: str = "0" * 16) -> pl.DataFrame:
    """`count` made-up detection alerts, ids from `first`, their evidence `first` minutes
    after 2026-03-02."""
    created = datetime(2026, 3, 2, tzinfo=UTC) + timedelta(minutes=first)
    ids = [f"{n:032x}" for n in range(first, first + count)]
    return pl.DataFrame({
        "alert_id": ids,
        "rule_id": ["rule-1"] * count,
        "rule_title": ["A rule"] * count,
        "rule_kind": ["detection"] * count,
        "level": ["high"] * count,
        "tags": [["attack.t1078"]] * count,
        "rule_author": [None] * count,
        "source": ["okta.system"] * count,
        "first_evidence_at": [created] * count,
        "last_evidence_at": [created] * count,
        "evidence_ingested_at": [created] * count,
        "created_at": [created] * count,
        "origin": ["realtime"] * count,
        "run_id": [run] * count,
        "event_uids": [[f"event-{n}"] for n in range(first, first + count)],
        "group": [None] * count,
        "actor": ["mallory@example.com"] * count,
        "src_ip": ["203.0.113.9"] * count,
        "target": [None] * count,
    }, schema=ALERT_SCHEMA)


def store_alerts(lake: LakePaths, count: int, *, first: int = 0, run: str = "0" * 16) -> list[str]:
    """Store `count` made-up detection alerts (ids from `first`) as one run; returns their ids."""
    frame = made_up_alerts(count, first=first, run=run)
    AlertStore(lake).append(frame, run_id=run)
    return list(frame["alert_id"])
