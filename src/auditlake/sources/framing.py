"""Split JSON inputs into records without losing a byte.

Audit exports come framed in several ways: JSON Lines, a JSON array (or several back to back,
the pages `gh api --paginate` writes), CloudTrail's `{"Records": [...]}`, an API listing
(`listings`), or several pretty-printed objects back to back (evtx_dump, some SIEM exports),
and in CloudWatch Logs or EventBridge envelopes (`envelopes`); any of them may be compressed
(`compression`) or written with a byte order mark (`text_encoding`). `json_frames` recognises
the framing from the content and yields one `Frame` per record with its verbatim bytes,
streaming so that a large file is never held in memory whole. What cannot be framed (a
truncated tail, garbage between records, a damaged record) becomes a frame with `error` set,
which the caller quarantines; framing goes on at the next record (`resync`).

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "a.json"
>>> _ = p.write_bytes(b'[{"a": 1},\\n {"a": 2}]')
>>> [(f.raw, f.location) for f in json_frames(p)]
[(b'{"a": 1}', 'a.json:1'), (b'{"a": 2}', 'a.json:2')]
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, NamedTuple

from auditlake.sources.base import Frame
from auditlake.sources.chunking import LineChunk, frame_chunks
from auditlake.sources.compression import open_input
from auditlake.sources.envelopes import envelope_of, log_messages, unwrapped
from auditlake.sources.input_head import HEAD_BYTES, read_upto
from auditlake.sources.listings import listing_of
from auditlake.sources.one_line import one_line_members
from auditlake.sources.pretty_lines import held_back, joined, opens_object
from auditlake.sources.records import MAX_RECORD_BYTES
from auditlake.sources.resync import Layout, damaged_stop, first_key

CHUNK = 4 << 20
_RECORDS_WRAPPER = re.compile(r'\s*\{\s*"Records"\s*:\s*\[')
_EVENTS_WRAPPER = re.compile(r'\s*\{\s*"events"\s*:\s*\[')
"""`aws logs filter-log-events` output: its log events, then other members (tokens, streams)."""
_LOOKUP_WRAPPER = re.compile(r'\s*\{\s*"Events"\s*:\s*\[')
"""`aws cloudtrail lookup-events` output: its events, then `NextToken`."""
_WS = " \t\r\n"
_DECODER = json.JSONDecoder()


def json_frames(path: Path) -> JsonFrames:
    """One frame per JSON record of `path`, whatever its framing (read when iterated)."""
    return JsonFrames(path)


class JsonFrames(Iterator[Frame]):
    """The frames of one JSON input, one by one or (`chunks`) in chunks split in bulk.

    Both read the input only when first asked; take the frames one way or the other.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._frames: Iterator[Frame] | None = None

    def __next__(self) -> Frame:
        if self._frames is None:
            self._frames = _framer(self.path)(self.path)
        return next(self._frames)

    def chunks(self, size: int) -> Iterator[Sequence[Frame]]:
        """The frames in chunks of `size`; JSON Lines are split a block at a time, an array of
        records on one line (CloudTrail's delivery files) in one go."""
        framer = _framer(self.path)
        if framer is _line_frames:
            return _line_chunks(self.path, size)
        if framer is _stream_frames:
            members = one_line_members(self.path)
            if members is not None:  # all on line 1
                parts = (members[k : k + size] for k in range(0, len(members), size))
                return (LineChunk(self.path.name, part, [1] * len(part)) for part in parts)
        return frame_chunks(framer(self.path), size)


class Framing(NamedTuple):
    """How an input is framed: in words (`auditlake sources PATH`), and the framer itself."""

    label: str
    read: Callable[[Path], Iterator[Frame]]


def framing_of(path: Path) -> str:
    """In words, how `path` is read as JSON: its framing, and the wrapping taken off."""
    framing = _framing(path)
    if framing.read is _stream_frames and framing.label == "JSON array" and _paged(path):
        return "JSON arrays back to back (pages)"
    return framing.label


def _framer(path: Path) -> Callable[[Path], Iterator[Frame]]:
    return _framing(path).read


def _framing(path: Path) -> Framing:
    """How `path` is framed, recognised from its first bytes past any blanks."""
    head, error = content_head(path)
    if not head:  # nothing to read, or nothing readable (cut in a compressed block)
        if error is None:
            return Framing("no records", _no_frames)
        return Framing(f"unreadable ({error})", lambda p: iter([Frame(b"", f"{p.name}:1", error=error)]))
    return _unwrapping(head) or _plain(head)


def content_head(path: Path, size: int = HEAD_BYTES) -> tuple[bytes, str | None]:
    """The first `size` bytes of the (decompressed) content from its first non-blank byte
    (b"" for a blank input), and why reading stopped early on a damaged input (else None).

    Blanks of any length are passed over, so that records after them are never taken for
    an empty input.
    """
    with open_input(path) as handle:
        while True:
            chunk, error = read_upto(handle, size)
            head = chunk.lstrip()
            if head or error is not None or len(chunk) < size:
                break
        if head and len(head) < size and error is None and len(chunk) == size:
            more, error = read_upto(handle, size - len(head))
            head += more
    return head, error


def is_blank(path: Path) -> bool:
    """Whether `path`'s (decompressed) content is empty or blanks only: an input of no records."""
    head, error = content_head(path)
    return not head and error is None


PAGES_HEAD_BYTES = 4 << 20
"""How far `framing_of` reads to see whether a JSON array is followed by another."""


def _paged(path: Path) -> bool:
    """Whether the JSON array `path` starts with is followed by another (pages of a listing,
    as `gh api --paginate` writes them), as far as its first `PAGES_HEAD_BYTES` tell."""
    head, _ = content_head(path, PAGES_HEAD_BYTES)
    text = head.decode("utf-8", "replace")
    try:
        _, end = _DECODER.raw_decode(text)
    except ValueError:
        return False
    return text[end:].lstrip(_WS)[:1] == "["


def _plain(head: bytes) -> Framing:
    """How an input of records in no envelope is framed, from its first bytes (stripped)."""
    if head[:1] == b"[":
        return Framing("JSON array", _stream_frames)
    if _RECORDS_WRAPPER.match(head.decode("utf-8", "replace")):
        return Framing("CloudTrail Records file", _stream_frames)
    if head[:1] == b"{" and _looks_like_lines(head):
        return Framing("JSON Lines", _line_frames)
    if head[:1] == b"{":
        return Framing("JSON objects back to back", _stream_frames)
    return Framing("lines", _line_frames)


def _unwrapping(head: bytes) -> Framing | None:
    """For an input of CloudWatch Logs or EventBridge envelopes (`envelopes`), or an API
    listing (`listings`), how the records inside are framed; None for any other input."""
    kind = envelope_of(head)
    if kind is None:
        listing = listing_of(head.decode("utf-8", "replace"))
        if listing is None:
            return None
        return Framing(listing.label, lambda p: _stream_frames(p, wrapper=listing.opening))
    if kind == "cloudwatch events":  # one log event at a time: an export may be gigabytes
        return Framing("CloudWatch Logs export", lambda p: log_messages(_stream_frames(p, wrapper=_EVENTS_WRAPPER)))
    if kind == "cloudtrail lookup":
        return Framing("CloudTrail event history (lookup-events)",
                       lambda p: log_messages(_stream_frames(p, wrapper=_LOOKUP_WRAPPER), "CloudTrailEvent"))
    outer = _line_frames if head[:1] != b"[" and _looks_like_lines(head) else _stream_frames
    label = "EventBridge events" if kind == "eventbridge" else "CloudWatch Logs subscription payloads"
    return Framing(label, lambda p: unwrapped(outer(p)))


def _no_frames(path: Path) -> Iterator[Frame]:
    return iter(())


def _looks_like_lines(head: bytes) -> bool:
    """JSON Lines when the first or second non-blank line is a whole JSON object by itself.

    Looking at two lines keeps a JSON Lines file whose first record is broken from being read
    as back-to-back objects (where one bad record swallows the rest); the second line of a
    pretty-printed object starts with a key or a closing brace, so it is never an object.
    """
    lines = [line.strip() for line in head.split(b"\n", 8)[:8]]
    for line in [line for line in lines if line][:2]:
        try:
            if isinstance(json.loads(line), dict):
                return True
        except (ValueError, RecursionError):
            continue
    return False


def _line_frames(path: Path) -> Iterator[Frame]:
    """JSON Lines: each non-blank line is one record; validity is checked by the normalizer.
    An object written over several lines among them is one record (`pretty_lines`).

    A damaged input (truncated gzip) still yields every line read before the damage; the cut
    last line carries the error, so its bytes reach the quarantine too.
    """
    name = path.name
    number, tail = 0, b""
    with open_input(path) as handle:
        pending: tuple[bytes, str | None] | None = None
        while True:
            chunk, error = pending or read_upto(handle, CHUNK)
            pending = None
            lines = (tail + chunk).split(b"\n")
            tail = lines.pop() if chunk and error is None else b""
            cut = lines.pop() if error is not None else None
            if opens_object(lines):  # an object over several lines, maybe open at the end
                lines, tail = held_back(lines, tail, more=bool(chunk) and error is None)
            for raw, at in zip(*_records_of(lines, number + 1), strict=True):
                yield Frame(raw, f"{name}:{at}")
            number += len(lines)
            if cut is not None:
                yield Frame(cut.strip(), f"{name}:{number + 1}", error=error)
            if _too_long(tail):
                long_line, pending = _long_line(handle, tail, f"{name}:{number + 1}")
                yield long_line
                number, tail = number + 1, b""
                continue
            if not chunk or error is not None:
                return


def _line_chunks(path: Path, size: int) -> Iterator[Sequence[Frame]]:
    """`_line_frames` in chunks of `size`, split a block at a time instead of line by line.

    Error-free frames come as `LineChunk`s; a damaged input's last chunk, which holds the
    error frame, as a list. Lines read before an `OSError` are yielded before it is raised.
    """
    name = path.name
    number, tail = 0, b""
    raws: list[bytes] = []
    numbers: list[int] = []
    try:
        with open_input(path) as handle:
            pending: tuple[bytes, str | None] | None = None
            while True:
                chunk, error = pending or read_upto(handle, CHUNK)
                pending = None
                if b"\n" in tail:  # the lines of an object left open by the last block
                    lines = (tail + chunk).split(b"\n")
                else:
                    lines = chunk.split(b"\n")
                    lines[0] = tail + lines[0]  # the tail holds no line break: no copy of the block
                tail = lines.pop() if chunk and error is None else b""
                cut = lines.pop() if error is not None else None
                if opens_object(lines):  # an object over several lines, maybe open at the end
                    lines, tail = held_back(lines, tail, more=bool(chunk) and error is None)
                records, at = _records_of(lines, number + 1)
                raws += records
                numbers += at
                number += len(lines)
                while len(raws) >= size:
                    yield LineChunk(name, raws[:size], numbers[:size])
                    del raws[:size], numbers[:size]
                if cut is not None:
                    bad = Frame(cut.strip(), f"{name}:{number + 1}", error=error)
                    yield from frame_chunks([*LineChunk(name, raws, numbers), bad], size)
                    raws, numbers = [], []
                if _too_long(tail):
                    long_line, pending = _long_line(handle, tail, f"{name}:{number + 1}")
                    yield from frame_chunks([*LineChunk(name, raws, numbers), long_line], size)
                    raws, numbers = [], []
                    number, tail = number + 1, b""
                    continue
                if not chunk or error is not None:
                    break
    except OSError:
        if raws:
            yield LineChunk(name, raws, numbers)
        raise
    if raws:
        yield LineChunk(name, raws, numbers)


def _too_long(tail: bytes) -> bool:
    """Whether the unfinished last line read is longer than a record may be (a log filled with
    NUL bytes after a crash, a stream without line breaks): it is not held to its end."""
    return len(tail) > MAX_RECORD_BYTES and b"\n" not in tail


def _long_line(handle: BinaryIO, start: bytes, location: str) -> tuple[Frame, tuple[bytes, str | None]]:
    """A line found longer than `MAX_RECORD_BYTES` (it begins with `start`) as an error frame
    of its first `MAX_RECORD_BYTES` bytes, read on to its end without holding the rest; and
    what was read after its end (the next read), with why reading stopped early, if it did."""
    size = len(start)
    while True:
        chunk, error = read_upto(handle, CHUNK)
        end = chunk.find(b"\n")
        if end < 0 and chunk and error is None:
            size += len(chunk)
            continue
        size += end if end >= 0 else len(chunk)
        reason = f"line of {size} bytes exceeds {MAX_RECORD_BYTES} (its first {MAX_RECORD_BYTES} kept)"
        after = chunk[end + 1 :] if end >= 0 else b""
        return Frame(start[:MAX_RECORD_BYTES], location, error=reason), (after, error)


def _records_of(lines: list[bytes], first: int) -> tuple[list[bytes], Sequence[int]]:
    """The records of `lines` (the first numbered `first`) and their line numbers: the
    non-blank lines, stripped in bulk; blank lines are counted, not framed. An object written
    over several lines is one record (`pretty_lines`)."""
    if opens_object(lines):
        return joined(lines, first)
    stripped = list(map(bytes.strip, lines))
    numbers = range(first, first + len(lines))
    if all(stripped):
        return stripped, numbers
    return [raw for raw in stripped if raw], [n for n, raw in zip(numbers, stripped, strict=True) if raw]


class _TextStream:
    """A growing window of decoded text over a binary stream, with line bookkeeping.

    Bytes are decoded with `surrogateescape`, so invalid UTF-8 survives into the text and can be
    turned back into the exact original bytes for the quarantine.
    """

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self.text = ""
        self.pos = 0
        self.line = 1
        self.eof = False
        self.read_error: str | None = None
        self.indent: str | None = ""
        """The blanks between the start of the current line and the cursor; None when other
        characters stand there (a record that does not start its line)."""

    def fill(self) -> bool:
        """Read more input; False at the end of it."""
        if self.eof:
            return False
        chunk = b""
        if self.read_error is None:
            chunk, self.read_error = read_upto(self.handle, CHUNK)
        if not chunk:
            self.eof = True
            self.text = self.text[self.pos :] + self.decoder.decode(b"", final=True)
            self.pos = 0
            return False
        self.text = self.text[self.pos :] + self.decoder.decode(chunk)
        self.pos = 0
        return True

    def skip(self, chars: str) -> str:
        """Skip characters in `chars`; return the next character ('' at the end)."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in chars:
                char = self.text[self.pos]
                if char == "\n":
                    self.line += 1
                    self.indent = ""
                elif self.indent is not None:
                    self.indent = self.indent + char if char in " \t" else None
                self.pos += 1
            if self.pos < len(self.text) or not self.fill():
                return self.text[self.pos : self.pos + 1]

    def advance(self, end: int) -> str:
        piece = self.text[self.pos : end]
        lines = piece.count("\n")
        self.line += lines
        if piece:
            last = piece[piece.rfind("\n") + 1 :] if lines else None
            self.indent = last if last is not None and not last.strip(" \t") else None
        self.pos = end
        return piece

    def exhausted(self) -> bool:
        """Whether every character of the input has been consumed."""
        return self.pos >= len(self.text) and not self.fill()

    def rest(self) -> str:
        while self.fill():
            pass
        return self.advance(len(self.text))


def _stream_frames(path: Path, *, wrapper: re.Pattern[str] = _RECORDS_WRAPPER) -> Iterator[Frame]:
    """Arrays (one, or several back to back: the pages of a listing), `{"Records": [...]}`
    (or another `wrapper` of the records' array) and back-to-back objects, decoded record by
    record."""
    name = path.name
    with open_input(path) as handle:
        stream = _TextStream(handle)
        stream.fill()
        in_array, wrapped = _open_container(stream, wrapper)
        record_indent: str | None = None  # how the last whole record stood on its line
        key: str | None = None  # the first key of the first whole record
        while True:
            nxt = stream.skip(_WS + ("," if in_array else ""))
            if nxt == "":
                if in_array or stream.read_error:
                    reason = stream.read_error or "input ends inside a JSON array (truncated file)"
                    yield Frame(b"", f"{name}:{stream.line}", error=reason)
                return
            if in_array and nxt == "]":
                stream.advance(stream.pos + 1)
                if not wrapped and stream.skip(_WS) == "[":  # the next page (`gh api --paginate`)
                    stream.advance(stream.pos + 1)
                    continue
                yield from _trailer(stream, name, wrapped, members=wrapper is not _RECORDS_WRAPPER)
                return
            indent = stream.indent
            frame = _next_record(stream, name, indent if record_indent is None else record_indent, key)
            yield frame
            if frame.error is None:
                record_indent = indent
                key = key or first_key(frame.raw)
            elif stream.exhausted():
                return  # the rest of the input went into that frame


def _open_container(stream: _TextStream, wrapper: re.Pattern[str]) -> tuple[bool, bool]:
    """Consume `[` or the `wrapper` (`{"Records": [`); report (inside an array, inside a wrapper)."""
    first = stream.skip(_WS)
    if first == "[":
        stream.advance(stream.pos + 1)
        return True, False
    match = wrapper.match(stream.text, stream.pos)
    if match:
        stream.advance(match.end())
        return True, True
    return False, False


def _trailer(stream: _TextStream, name: str, wrapped: bool, *, members: bool = False) -> Iterator[Frame]:
    """After the array: the wrapper's closing brace (after other `members` of the wrapper,
    where it may have them), then nothing but whitespace."""
    if wrapped and members and stream.skip(_WS) == ",":
        stream.advance(stream.pos + 1)
        line = stream.line
        rest = "{" + stream.rest()
        try:  # the wrapper's other members and its closing brace, as one object
            _DECODER.decode(rest)
        except ValueError:
            yield Frame(rest.encode("utf-8", "surrogateescape"), f"{name}:{line}",
                        error="unexpected content after the JSON records")
        return
    if wrapped and stream.skip(_WS) == "}":
        stream.advance(stream.pos + 1)
    line = stream.line
    rest = stream.rest().strip()
    if rest:
        raw = rest.encode("utf-8", "surrogateescape")
        yield Frame(raw, f"{name}:{line}", error="unexpected content after the JSON records")


def _next_record(stream: _TextStream, name: str, indent: str | None, key: str | None) -> Frame:
    """Decode one value at the cursor, reading more input while it is incomplete.

    A value that is invalid, not merely cut short by the end of what was read, becomes an
    error frame of its text up to where the next record starts (`_resynced`), where framing
    goes on: one damaged record of a large export costs that record, not the rest of the input
    (nor the memory to hold it)."""
    while True:
        line = stream.line
        try:
            _, end = _DECODER.raw_decode(stream.text, stream.pos)
        except RecursionError:  # nested deeper than the decoder goes: that record alone
            return _resynced(stream, name, line, TOO_DEEP, Layout(indent, key))
        except json.JSONDecodeError as exc:
            # Near the end of what was read, more input may complete a token (`\u00`, `fal`).
            short = _cut_short(stream.text, exc) or len(stream.text) - exc.pos <= TOKEN_SLACK
            if short and not stream.eof and len(stream.text) - stream.pos <= MAX_RECORD_TEXT_READ:
                stream.fill()  # the value may continue in the next chunk (mid-string, ...)
                continue
            if short and stream.eof:
                return _unframeable(stream, name, line, exc)
            too_long = _cut_short(stream.text, exc)  # and no end within MAX_RECORD_TEXT_READ
            reason = f"record longer than {MAX_RECORD_TEXT_READ} bytes" if too_long else f"invalid JSON: {exc.msg}"
            return _resynced(stream, name, line, reason, Layout(indent, key))
        raw = stream.advance(end).encode("utf-8", "surrogateescape")
        return Frame(raw, f"{name}:{line}")


TOO_DEEP = "JSON nested too deeply to read"
TOKEN_SLACK = 16
"""Characters before the end of the text read within which a decoding error may be the end
of the text cutting a token short, rather than damage."""
MAX_RECORD_TEXT_READ = 64 << 20
"""Text read ahead for one value before it is taken as damaged (a record is at most
`records.MAX_RECORD_BYTES`, which the normalizer enforces on what is framed)."""


def _resynced(stream: _TextStream, name: str, line: int, reason: str, layout: Layout) -> Frame:
    """An error frame of the damaged text at the cursor, the cursor left where the next record
    starts (`resync.damaged_stop`), at most `MAX_RECORD_TEXT_READ` on when no such place is
    found."""
    stop = damaged_stop(stream, layout, MAX_RECORD_TEXT_READ)
    raw = stream.advance(stop).rstrip(_WS + ",").encode("utf-8", "surrogateescape")
    return Frame(raw, f"{name}:{line}", error=stream.read_error or reason)


_PARTIAL_TOKEN = re.compile(r"[-+.eE0-9]*|t(?:r(?:u)?)?|f(?:a(?:l(?:s)?)?)?|n(?:u(?:l)?)?")


def _cut_short(text: str, exc: json.JSONDecodeError) -> bool:
    """True when decoding failed only because the text stops (mid-string, -number or -literal)."""
    return exc.msg.startswith("Unterminated string") or bool(
        _PARTIAL_TOKEN.fullmatch(text[exc.pos :].rstrip())
    )


def _unframeable(stream: _TextStream, name: str, line: int, exc: json.JSONDecodeError) -> Frame:
    """The rest of the input cannot be split into records: quarantine it whole, verbatim."""
    if stream.read_error:
        reason = stream.read_error
    elif _cut_short(stream.text, exc):
        reason = "truncated JSON at end of input"
    else:
        reason = f"invalid JSON: {exc.msg}"
    raw = stream.rest().encode("utf-8", "surrogateescape")
    return Frame(raw, f"{name}:{line}", error=reason)
