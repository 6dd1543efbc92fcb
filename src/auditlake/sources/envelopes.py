"""CloudWatch Logs envelopes around audit events, taken off so the events are read as any input's.

EKS writes its clusters' Kubernetes audit log only to CloudWatch Logs, and CloudTrail can deliver
there too; such logs leave CloudWatch in one of two wrappings:

- a subscription's payload (to Firehose, Lambda or S3): `{"messageType": "DATA_MESSAGE",
  "logGroup": ..., "logStream": ..., "logEvents": [{"id", "timestamp", "message"}, ...]}`,
  usually gzip, and as Firehose writes them several back to back with nothing between them.
  `CONTROL_MESSAGE` envelopes (CloudWatch checking the destination) hold no events;
- the output of `aws logs filter-log-events` or `get-log-events`: `{"events": [{"timestamp",
  "message", ...}, ...], ...}`.

Each log event's `message` is one event's own text (a Kubernetes audit event, a CloudTrail
record), so it becomes one frame, located as `<input>:<line> envelope <k> logEvents[<n>]`, and
the sources read it as they read the same event from a file; a log event without a text message
is quarantined with the reason. A file is taken for envelopes from its first bytes
(`envelope_of`); an object in it that is not an envelope is passed on as it is.

What only the envelope says (its log group and stream, the log event's id and timestamp) is not
kept: an event's row and `raw` are the event's own. For EKS the log group names the cluster
(`/aws/eks/<cluster>/cluster`), which the audit events do not; keep one cluster's logs per
input folder to tell clusters apart.

>>> head = b'{"messageType":"DATA_MESSAGE","owner":"111122223333","logGroup":"/aws/eks/c/cluster",'
>>> envelope_of(head + b'"logEvents":[{"id":"1","timestamp":1,"message":"{}"}]}')
'cloudwatch subscription'
>>> envelope_of(b'{"events": [{"logStreamName": "s", "timestamp": 1, "message": "{}", "ingestionTime": 2}]}')
'cloudwatch events'
>>> envelope_of(b'{"Records": [{"eventName": "x"}]}') is None
True
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from auditlake.sources.base import Frame

_SUBSCRIPTION = re.compile(rb'\s*\{\s*"messageType"\s*:\s*"(DATA|CONTROL)_MESSAGE"')
_EVENTS = re.compile(rb'\s*\{\s*"events"\s*:\s*\[\s*(\]|\{)')
_LOG_EVENT_KEYS = (b'"ingestionTime"', b'"logStreamName"', b'"eventId"')
"""Keys `filter-log-events` and `get-log-events` give each log event besides its message."""


def envelope_of(head: bytes) -> str | None:
    """The kind of CloudWatch Logs envelope an input starting with `head` holds, or None."""
    if _SUBSCRIPTION.match(head):
        return "cloudwatch subscription"
    if _EVENTS.match(head) and any(key in head for key in _LOG_EVENT_KEYS):
        return "cloudwatch events"
    return None


def unwrapped(frames: Iterator[Frame]) -> Iterator[Frame]:
    """The log events inside each envelope of `frames`, one frame each; a frame that is not
    an envelope (or is damaged) as it is."""
    envelopes = 0
    for frame in frames:
        if frame.error is not None:
            yield frame
            continue
        try:
            document = json.loads(frame.raw)
        except ValueError:
            yield frame  # the reader of the frame says what is wrong with it
            continue
        events = _log_events(document)
        if events is None:
            yield frame
            continue
        envelopes += 1  # Firehose writes several on one line: the line alone does not say which
        for number, event in enumerate(events):
            yield _message_frame(event, f"{frame.location} envelope {envelopes} logEvents[{number}]")


def _log_events(document: Any) -> list[Any] | None:
    """The log events of an envelope (none for a control message); None for anything else."""
    if not isinstance(document, dict):
        return None
    if document.get("messageType") == "CONTROL_MESSAGE":
        return []
    events = document.get("logEvents") if "messageType" in document else document.get("events")
    return events if isinstance(events, list) else None


def _message_frame(event: Any, location: str) -> Frame:
    message = event.get("message") if isinstance(event, dict) else None
    if not isinstance(message, str):
        text = json.dumps(event, ensure_ascii=False).encode("utf-8", "replace")
        return Frame(text, location, error="CloudWatch log event without a text message")
    try:
        return Frame(message.strip().encode("utf-8"), location)
    except UnicodeEncodeError:
        return Frame(message.encode("utf-8", "replace"), location, error="message is not valid Unicode text")
