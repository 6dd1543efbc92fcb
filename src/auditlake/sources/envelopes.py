"""Transport envelopes around audit events, taken off so the events are read as any input's.

AWS moves logs in wrappings of its own:

- **CloudWatch Logs.** EKS writes its clusters' Kubernetes audit log only there, and CloudTrail
  can deliver there too. Such logs leave CloudWatch as a subscription's payload (to Firehose,
  Lambda or S3): `{"messageType": "DATA_MESSAGE", "logGroup": ..., "logStream": ...,
  "logEvents": [{"id", "timestamp", "message"}, ...]}`, usually gzip, and as Firehose writes
  them several back to back with nothing between them (`CONTROL_MESSAGE` envelopes, CloudWatch
  checking the destination, hold no events); or as the output of `aws logs filter-log-events`
  or `get-log-events`: `{"events": [{"timestamp", "message", ...}, ...], ...}`. Each log
  event's `message` is one event's own text (a Kubernetes audit event, a CloudTrail record).
- **CloudTrail's event history.** `aws cloudtrail lookup-events` (the last 90 days of
  management events, without a trail) gives `{"Events": [{"EventId", "EventName", ...,
  "CloudTrailEvent": "<the record as JSON text>"}], "NextToken": ...}`; the record is read.
- **EventBridge.** `{"version": "0", "id", "detail-type", "source", "account", "time",
  "region", "resources", "detail": {...}}`, one per event: CloudTrail's "AWS API Call via
  CloudTrail", or Okta's System Log through its partner event source. The `detail` is the
  event, taken as the very bytes it was written with.

Envelopes are told from the first one's members in any order (`jq -S` sorts them), in a JSON
array of them too.

Each event becomes one frame, located as `<input>:<line> envelope <k> logEvents[<n>]` (or
`... envelope <k> detail`; the items of an export or of the event history by their own line),
and the sources read it as they read the same event from a file; an item without its event's
text is quarantined with the reason. Exports and histories are read an item at a time,
whatever their size. A file is taken for envelopes from its first bytes (`envelope_of`); an
object in it that is not an envelope is passed on as it is.

What only the envelope says (a log group and stream, a log event's id and timestamp, an
EventBridge id) is not kept: an event's row and `raw` are the event's own. One exception: an
EKS log group names its cluster (`/aws/eks/<cluster>/cluster`), which the audit events do not,
so the cluster becomes their `source_tenant` (`Frame.tenant`). `filter-log-events` output does
not name its log group; ingest one cluster's exports at a time to tell clusters apart.

>>> head = b'{"messageType":"DATA_MESSAGE","owner":"111122223333","logGroup":"/aws/eks/c/cluster",'
>>> envelope_of(head + b'"logEvents":[{"id":"1","timestamp":1,"message":"{}"}]}')
'cloudwatch subscription'
>>> envelope_of(b'{"events": [{"logStreamName": "s", "timestamp": 1, "message": "{}", "ingestionTime": 2}]}')
'cloudwatch events'
>>> envelope_of(b'{"version":"0","id":"6a7e8feb","detail-type":"SystemLog","source":"aws.partner/okta.com"}')
'eventbridge'
>>> envelope_of(b'{"Events": [{"EventId": "1", "CloudTrailEvent": "{}"}], "NextToken": "x"}')
'cloudtrail lookup'
>>> envelope_of(b'[{"account": "1", "detail": {}, "detail-type": "x", "id": "2", "source": "aws.s3"}]')
'eventbridge'
>>> envelope_of(b'{"Records": [{"eventName": "x"}]}') is None
True
>>> detail_text('{"version": "0", "detail": {"b": 1.50,  "a": [1]}, "x": 2}')
'{"b": 1.50,  "a": [1]}'
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

from auditlake.sources.base import Frame

_SUBSCRIPTION = re.compile(rb'\s*\{\s*"messageType"\s*:\s*"(DATA|CONTROL)_MESSAGE"')
_EVENTS = re.compile(rb'\s*\{\s*"events"\s*:\s*\[\s*(\]|\{)')
_LOG_EVENT_KEYS = (b'"ingestionTime"', b'"logStreamName"', b'"eventId"')
"""Keys `filter-log-events` and `get-log-events` give each log event besides its message."""
_EKS_LOG_GROUP = re.compile(r"/aws/eks/([^/]+)/cluster")
"""Where EKS writes a cluster's control-plane logs: the audit events' tenant, which they do not name."""
_LOOKUP = re.compile(rb'\s*\{\s*"Events"\s*:\s*\[\s*\{')
"""`aws cloudtrail lookup-events` output: each event's record is a JSON text in `CloudTrailEvent`."""
_EVENTBRIDGE = re.compile(rb'\s*\{\s*"version"\s*:\s*"0"\s*,\s*"id"\s*:\s*"[^"]*"\s*,\s*"detail-type"\s*:')
_ARRAY_OPENING = re.compile(rb"\s*\[")
_DECODER = json.JSONDecoder()


def envelope_of(head: bytes) -> str | None:
    """The kind of envelope an input starting with `head` holds, or None."""
    if _EVENTS.match(head) and any(key in head for key in _LOG_EVENT_KEYS):
        return "cloudwatch events"
    if _LOOKUP.match(head) and b'"CloudTrailEvent"' in head:
        return "cloudtrail lookup"
    opening = _ARRAY_OPENING.match(head)  # envelopes in an array: the first one
    return _envelope_kind(head[opening.end() :] if opening else head)


def _envelope_kind(first: bytes) -> str | None:
    """The kind of the subscription payload or EventBridge event `first` starts with: told
    from its first member or two, else from all the members it holds, in any order."""
    if _SUBSCRIPTION.match(first):
        return "cloudwatch subscription"
    if _EVENTBRIDGE.match(first):
        return "eventbridge"
    if b'"messageType"' not in first and b'"detail-type"' not in first:
        return None  # what follows decodes the members: not for every input
    members = leading_members(first.decode("utf-8", "replace"))
    if members.get("messageType") in ("DATA_MESSAGE", "CONTROL_MESSAGE"):
        return "cloudwatch subscription"
    return "eventbridge" if "detail-type" in members and "source" in members else None


def leading_members(text: str) -> dict[str, Any]:
    """The members of the JSON object `text` opens, as far as `text` holds them whole.

    >>> leading_members('{"b": 1, "a": [2], "c": {"cut')
    {'b': 1, 'a': [2]}
    """
    members: dict[str, Any] = {}
    at = _past_space(text, 0) + 1  # past the object's "{"
    try:
        while text[at - 1 : at] in ("{", ","):
            key, at = scanstring(text, _expect(text, at, '"'))
            value, at = _DECODER.raw_decode(text, _past_space(text, _expect(text, at, ":")))
            members[key] = value
            at = _expect(text, at, ",")
    except (ValueError, IndexError):  # the text ends, or is not an object
        pass
    return members


def _expect(text: str, at: int, char: str) -> int:
    """Past `char`, the next character after `at` but blanks; ValueError if another is there."""
    at = _past_space(text, at)
    if text[at : at + 1] != char:
        raise ValueError(f"expected {char!r}")
    return at + 1


def unwrapped(frames: Iterator[Frame]) -> Iterator[Frame]:
    """The events inside each envelope of `frames`, one frame each; a frame that is not an
    envelope (or is damaged) as it is."""
    envelopes = 0
    for frame in frames:
        if frame.error is not None:
            yield frame
            continue
        try:
            text = frame.raw.decode("utf-8")
            document = json.loads(text)
        except ValueError:
            yield frame  # the reader of the frame says what is wrong with it
            continue
        if isinstance(document, dict) and "detail-type" in document and isinstance(document.get("detail"), dict):
            envelopes += 1
            yield Frame(detail_text(text).encode("utf-8"), f"{frame.location} envelope {envelopes} detail")
            continue
        events = _log_events(document)
        if events is None:
            yield frame
            continue
        envelopes += 1  # Firehose writes several on one line: the line alone does not say which
        cluster = _EKS_LOG_GROUP.fullmatch(str(document.get("logGroup", "")))
        tenant = cluster[1] if cluster else None
        for number, event in enumerate(events):
            yield _message_frame(event, f"{frame.location} envelope {envelopes} logEvents[{number}]", tenant)


def log_messages(frames: Iterator[Frame], key: str = "message") -> Iterator[Frame]:
    """The text under `key` of each item of `frames` (an export's log events, one frame each;
    `CloudTrailEvent` for the events of `lookup-events`)."""
    for frame in frames:
        if frame.error is not None:
            yield frame
            continue
        try:
            event = json.loads(frame.raw)
        except ValueError:
            yield frame
            continue
        yield _message_frame(event, frame.location, None, key)


def detail_text(text: str) -> str:
    """The text of the top-level `detail` of the JSON object `text`, as written (its spacing,
    number spellings and key order kept)."""
    at = _past_space(text, 0) + 1  # past the object's "{"
    while True:
        key, at = scanstring(text, _past_space(text, at) + 1)
        start = _past_space(text, _past_space(text, at) + 1)  # past ":"
        _, at = _DECODER.raw_decode(text, start)
        if key == "detail":
            return text[start:at]
        at = _past_space(text, at) + 1  # past ","


def _past_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at


def _log_events(document: Any) -> list[Any] | None:
    """The log events of a subscription's envelope (none for a control message); None for
    anything else."""
    if not isinstance(document, dict) or "messageType" not in document:
        return None
    if document["messageType"] == "CONTROL_MESSAGE":
        return []
    events = document.get("logEvents")
    return events if isinstance(events, list) else None


_WITHOUT_TEXT = {
    "message": "CloudWatch log event without a text message",
    "CloudTrailEvent": "lookup-events item without its CloudTrailEvent text",
}


def _message_frame(event: Any, location: str, tenant: str | None, key: str = "message") -> Frame:
    message = event.get(key) if isinstance(event, dict) else None
    if not isinstance(message, str):
        text = json.dumps(event, ensure_ascii=False).encode("utf-8", "replace")
        return Frame(text, location, error=_WITHOUT_TEXT[key])
    try:
        return Frame(message.strip().encode("utf-8"), location, tenant=tenant)
    except UnicodeEncodeError:
        return Frame(message.encode("utf-8", "replace"), location, error="message is not valid Unicode text")
