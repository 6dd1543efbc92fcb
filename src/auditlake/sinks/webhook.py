"""A webhook: each batch is one HTTP POST of JSON, signed with HMAC-SHA256.

The request body is

    {"sink": "<name>", "batch_id": "<id>", "timestamp": <unix seconds>, "alerts": [<alert>, ...]}

with up to `batch_size` alerts (set it to 1 for one alert per request). Headers:

- `X-Auditlake-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes, keyed by the secret>`
- `X-Auditlake-Timestamp: <unix seconds>`, the same value as the body's `timestamp`, so it is
  covered by the signature: a receiver can refuse stale requests (replays).
- `X-Auditlake-Batch: <batch_id>`, stable across retries and restarts.

A 413 (Payload Too Large) splits the batch in halves, each sent as its own request with the
batch id suffixed `.1` / `.2` (again on a 413), down to single alerts; a single alert refused
as too large stays in the spool like any other refusal. When a part fails, the parts before it
were acknowledged: they leave the spool, and the rest stays as a batch of its own (its id
suffixed `+<alerts acknowledged>`), so no alert is sent twice.

Any 2xx acknowledges the batch. Connection errors, timeouts, 408, 425, 429 and 5xx are retried
up to `max_attempts` times with exponential backoff (`backoff_s`, doubling, capped at
`backoff_max_s`, each delay jittered into its upper half so that many senders do not retry in
step; a `Retry-After` in seconds is honoured up to the cap). Other answers (4xx, redirects) are
not retried now: the request would fail the same way. Either way the batch stays in the spool
and is tried again on the next delivery, so nothing is dropped; fix the receiver and it goes
out. Once a batch has failed, later tries make one request each until one succeeds: the
delivery already spaces them (`pause_after`), and a receiver that does not answer would
otherwise hold every delivery round (a `watch` round included) for `max_attempts` timeouts.
Delivery is at least once: a receiver should deduplicate by `alert_id` (or `batch_id`).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urlsplit

import orjson

from auditlake.sinks.base import Batch, Sink, SinkError

SIGNATURE_HEADER = "X-Auditlake-Signature"
TIMESTAMP_HEADER = "X-Auditlake-Timestamp"
BATCH_HEADER = "X-Auditlake-Batch"
RETRYABLE_STATUS = frozenset({408, 425, 429})


def sign(secret: bytes, body: bytes) -> str:
    """The signature header's value for `body`.

    >>> sign(b"secret", b'{"alerts":[]}')
    'sha256=1745765da3451aa4b37c66c165cd80b9a4765574a56eedd22aebc2737ac612c3'
    """
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """Whether `header` is the signature of `body` (a receiver's check, in constant time)."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


TOO_LARGE = 413


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    retryable: bool = False
    error: str = ""
    retry_after: float | None = None
    status: int | None = None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a new place to post signed alerts to."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class WebhookSink(Sink):
    """POSTs batches to `url`; see the module docstring for the protocol and the retries."""

    kind = "webhook"

    def __init__(
        self,
        name: str,
        url: str,
        secret: bytes,
        *,
        timeout_s: float = 10.0,
        max_attempts: int = 5,
        backoff_s: float = 0.5,
        backoff_max_s: float = 30.0,
        batch_size: int = 100,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(name, batch_size=batch_size)
        self.url = url
        self._secret = secret
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self._jitter = jitter
        self._down = False
        """The last batch failed and none has gone out since: the next try is one request."""
        handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
        if _is_loopback(url):  # a local receiver is never reached through a proxy
            handlers.append(urllib.request.ProxyHandler({}))
        self._opener = urllib.request.build_opener(*handlers)
        self._agent = f"auditlake/{_version()}"

    def send(self, batch: Batch, stop: threading.Event) -> None:
        outcome = _Outcome(ok=False, error="not attempted")
        attempts = 1 if self._down else self.max_attempts
        for attempt in range(1, attempts + 1):
            if stop.is_set():
                raise SinkError("stopped before the batch was delivered")
            outcome = self._post(batch)
            if outcome.ok:
                self._down = False
                return
            if outcome.status == TOO_LARGE and len(batch.alerts) > 1:
                self._send_halves(batch, stop)
                return
            if not outcome.retryable or attempt == attempts:
                break
            if stop.wait(self.delay(attempt, outcome.retry_after)):
                raise SinkError("stopped before the batch was delivered")
        still = "; it had failed at the last try too" if self._down else ""
        self._down = True
        raise SinkError(f"{outcome.error} (after {attempt} attempt{'s' if attempt > 1 else ''}{still})")

    def _send_halves(self, batch: Batch, stop: threading.Event) -> None:
        """A batch the receiver finds too large, as two requests. A failure says how many of
        its first alerts were acknowledged all the same (`SinkError.acknowledged`)."""
        middle = len(batch.alerts) // 2
        sent = 0
        for part, alerts in enumerate((batch.alerts[:middle], batch.alerts[middle:]), start=1):
            try:
                self.send(Batch(f"{batch.batch_id}.{part}", alerts), stop)
            except SinkError as exc:
                raise SinkError(str(exc), acknowledged=sent + exc.acknowledged) from exc
            sent += len(alerts)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before attempt `attempt + 1`: exponential, capped, jittered into its upper half."""
        ceiling = min(self.backoff_max_s, self.backoff_s * 2 ** (attempt - 1))
        wait = ceiling * (0.5 + 0.5 * self._jitter())
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.backoff_max_s))
        return wait

    def pause_after(self, failures: int) -> float:
        # Between delivery tries while the receiver stays down: keep doubling, up to the cap.
        return min(self.backoff_max_s, self.backoff_s * 2 ** (self.max_attempts - 1 + failures))

    def body(self, batch: Batch, timestamp: int) -> bytes:
        document = {"sink": self.name, "batch_id": batch.batch_id, "timestamp": timestamp,
                    "alerts": batch.alerts}
        return orjson.dumps(document, default=str)

    def _post(self, batch: Batch) -> _Outcome:
        timestamp = int(time.time())
        body = self.body(batch, timestamp)
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json",
            "User-Agent": self._agent,
            SIGNATURE_HEADER: sign(self._secret, body),
            TIMESTAMP_HEADER: str(timestamp),
            BATCH_HEADER: batch.batch_id,
        })
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                response.read(1 << 16)
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
            retry_after = _seconds(exc.headers.get("Retry-After") if exc.headers else None)
            exc.close()
            retryable = status in RETRYABLE_STATUS or status >= 500
            return _Outcome(False, retryable, f"HTTP {status} from {self.url}", retry_after, status)
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            return _Outcome(False, True, f"cannot reach {self.url}: {reason}")
        if 200 <= status < 300:
            return _Outcome(True)
        return _Outcome(False, False, f"HTTP {status} from {self.url}")


def _seconds(header: str | None) -> float | None:
    """A `Retry-After` given in seconds (its date form is ignored: backoff applies instead)."""
    try:
        return max(0.0, float(header)) if header else None
    except ValueError:
        return None


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _version() -> str:
    try:
        return version("auditlake")
    except PackageNotFoundError:
        return "dev"
