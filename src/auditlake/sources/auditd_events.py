"""auditd's record lines reassembled into one frame per event.

The kernel writes an event as several records (SYSCALL, EXECVE, CWD, PATH, PROCTITLE, EOE)
that share the stamp `msg=audit(<epoch>.<millis>:<serial>)` and may interleave with other
events' records; `frame_lines` joins them in a bounded window and yields each event's lines as
one frame, in the order of its first line. A line that is not an audit record becomes an error
frame of its own.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from auditlake.sources.base import Frame
from auditlake.sources.compression import open_input
from auditlake.sources.records import MAX_RECORD_BYTES

STALE_AFTER_LINES = 4096
"""An event without EOE is complete once this many lines of other events have followed it.

Records of concurrent syscalls interleave, and one busy second can put hundreds of lines between
an event's first record and its EOE; a window this wide rejoins them while holding at most a
few thousand lines (and never more than `MAX_HELD_BYTES`)."""
MAX_HELD_BYTES = 2 * MAX_RECORD_BYTES
"""Records held for reassembly beyond this many bytes send the oldest event out unfinished."""
MAX_EVENT_RECORDS = 10_000
"""More records than this under one stamp is a stamp collision or a loop: close the event."""

_HEADER = re.compile(rb"(?:node=(\S*) )?type=([A-Za-z0-9_]+(?:\[\d+\])?) msg=audit\(([^)]*)\)")
_STAMP = re.compile(rb"\d{1,12}\.\d{1,9}:\d{1,20}")
_SNIFF = re.compile(rb"(?:node=\S+ )?type=[A-Z0-9_]+(?:\[\d+\])? msg=audit\(\d+\.\d+:\d+\)")
RECORD_SHAPE = "expected 'type=<TYPE> msg=audit(<epoch>.<millis>:<serial>): key=value ...'"


@dataclass(slots=True)
class _Pending:
    """An event being reassembled (or a broken line waiting its turn, with `error` set)."""

    key: bytes | None
    first: int
    last: int
    lines: list[bytes] = field(default_factory=list)
    size: int = 0
    error: str | None = None
    done: bool = False


class _Line(NamedTuple):
    """A well-formed record line: its event key, record type, and where its fields start."""

    key: bytes
    type: bytes
    body: int


def sniff(head: bytes) -> bool:
    """The first non-blank line is an audit record: `[node=… ]type=… msg=audit(…:…)`."""
    for line in head.splitlines():
        if line.strip():
            return _SNIFF.match(line) is not None
    return False


def frames(path: Path) -> Iterator[Frame]:
    """One frame per audit event of `path` (gzip or plain), streaming line by line.

    Each input is framed on its own: ingest hands a source one path at a time, in name order
    (`audit.log` before the older `audit.log.1`), and converts the chunks of each in parallel,
    so rejoining an event that rotation cut in two would need state shared across inputs and
    workers. Each piece becomes a row of its own instead: both land, with different
    `auditd.event_uid`s and the same `correlation_id` (see `auditd.event_uid`).
    """
    with open_input(path) as handle:
        yield from frame_lines(handle, path.name)


def frame_lines(lines: Iterable[bytes], name: str, *, stale_after: int = STALE_AFTER_LINES
                ) -> Iterator[Frame]:
    """Reassemble records into events and yield them in the order of their first line.

    An event is complete at its EOE record, at once when it is a record that stands alone
    (a user-space message or an auditd daemon record), once `stale_after` lines of other events
    followed it, or at the end of input; only events not yet yielded are held in memory, and
    never more than `MAX_HELD_BYTES` of them. A line that is not an audit record becomes an
    error frame of its own, in its place in the order.
    """
    window = _Window(name)
    number = 0
    try:
        for number, line in enumerate(lines, start=1):
            window.take(line, number, number - 1 - stale_after)
            yield from window.ready(number - stale_after)
    except (OSError, EOFError) as exc:
        yield from window.ready(None)
        yield Frame(b"", f"{name}:{number + 1}", error=f"input ends early: {exc}")
        return
    yield from window.ready(None)


@dataclass(slots=True)
class _Window:
    """The events of one input still being reassembled, oldest first, and where each stands."""

    name: str
    queue: deque[_Pending] = field(default_factory=deque)
    active: dict[bytes, _Pending] = field(default_factory=dict)
    held: int = 0
    """Bytes of the records in `queue`."""

    def take(self, line: bytes, number: int, stale_before: int) -> None:
        """Route one input line to its event (opening a new one), or queue it as an error."""
        record = line.rstrip(b"\r\n")
        if not record.strip():
            return
        checked = _check_line(record, complete=line.endswith(b"\n"))
        if isinstance(checked, str):
            self.queue.append(_Pending(None, number, number, [record], len(record) + 1, error=checked, done=True))
            self.held += len(record) + 1
            return
        event = self.active.get(checked.key)
        if event is None or event.done or event.last <= stale_before:
            if event is not None:
                event.done = True
            event = self.active[checked.key] = _Pending(checked.key, number, number)
            self.queue.append(event)
        event.lines.append(record)
        event.last = number
        event.size += len(record) + 1
        self.held += len(record) + 1
        too_big = len(event.lines) >= MAX_EVENT_RECORDS or event.size > MAX_RECORD_BYTES
        alone = len(event.lines) == 1 and _stands_alone(record, checked)
        event.done = checked.type == b"EOE" or too_big or alone

    def ready(self, stale_upto: int | None) -> Iterator[Frame]:
        """Yield finished events from the front; `stale_upto=None` flushes everything.

        Past `MAX_HELD_BYTES` the oldest event goes out unfinished: should its missing records
        come later, they make an event of their own, which lands beside it (see `auditd.event_uid`).
        """
        while self.queue:
            front = self.queue[0]
            stale = stale_upto is None or front.last <= stale_upto
            if not (front.done or stale or self.held > MAX_HELD_BYTES):
                return
            self.queue.popleft()
            self.held -= front.size
            if front.key is not None and self.active.get(front.key) is front:
                del self.active[front.key]
            yield Frame(b"\n".join(front.lines), f"{self.name}:{front.first}", error=front.error)


def _check_line(record: bytes, *, complete: bool) -> _Line | str:
    """Event key and role of a well-formed record line, else the reason it is not one."""
    if not record.isascii() and (bad := _invalid_utf8(record)):
        return bad
    header = _HEADER.match(record)
    if header is None:
        missing = "audit record without a msg=audit(...) stamp"
        what = missing if record.startswith((b"type=", b"node=")) else "not an audit record"
        return f"{what}; {RECORD_SHAPE}"
    node, record_type, stamp = header.groups()
    if not _STAMP.fullmatch(stamp):
        shown = stamp[:40].decode("utf-8", "replace")
        return f"unparsable stamp msg=audit({shown}); expected <epoch>.<millis>:<serial>"
    if not complete and record_type != b"EOE":
        return "truncated record: the input ends without a final newline inside this line"
    if record.count(b'"') % 2 or _open_nested_msg(record):
        return "unbalanced quotes: the record is truncated or corrupt"
    return _Line((node or b"") + b" " + stamp, record_type, header.end())


def _stands_alone(record: bytes, line: _Line) -> bool:
    """A record that is a whole event when it opens one, so it need not wait for more.

    auditd's own DAEMON_* records, and user-space messages (PAM, sudo, useradd), which the
    kernel relays as `pid=… uid=… auid=… ses=… [subj=…] msg='…'`: the `msg='` comes before any
    double quote, where a kernel record can only carry it inside a quoted value. Should more
    records of the stamp follow after all, they become an event of their own, which lands.
    """
    if line.type.startswith(b"DAEMON_"):
        return True
    start = record.find(b"msg='", line.body)
    return start >= 0 and record.find(b'"', line.body, start) < 0


def _invalid_utf8(record: bytes) -> str | None:
    try:
        record.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"invalid UTF-8 at byte {exc.start}; auditd writes ASCII, check the file's encoding"
    return None


def _open_nested_msg(record: bytes) -> bool:
    start = _nested_msg_start(record)
    return start >= 0 and record.find(b"'", start + 5) < 0


def _nested_msg_start(record: bytes) -> int:
    """Where a user-space message's `msg='` opens, or -1; never inside a double-quoted value.

    auditd quotes an EXECVE argument or a file name that holds `'` instead of hex-encoding it,
    so `grep "msg='op=login" audit.log` writes `a1="msg='op=login"`: that is no nested message.
    """
    start = record.find(b"msg='")
    while start >= 0 and record.count(b'"', 0, start) % 2:
        start = record.find(b"msg='", start + 1)
    return start
