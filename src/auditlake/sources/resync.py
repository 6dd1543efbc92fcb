"""Where framing resumes after a damaged record, so that the damage costs that record only.

`framing` decodes arrays and back-to-back objects record by record; a record that does not
decode is quarantined, and framing goes on where the next record starts. That place is found
from how the records stand (`Layout`):

- records that start their lines (a pretty-printed array, evtx_dump's objects): the next line
  that opens an object after the records' indent (a nested object stands deeper);
- records that do not (an array on one line, as CloudTrail delivers it): the end of the damaged
  record, matched bracket for bracket, when a record, the end of the array or a glued object
  follows it; that holds for any damage that leaves the brackets whole (a raw control
  character, a bad escape, number or literal, a missing comma, invalid UTF-8). Otherwise the
  next `}` or `,` before an object that opens with the records' first key, the place
  `one_line.one_line_members` splits an array at.

>>> class Text:  # what a `framing._TextStream` offers, all of the input read
...     def __init__(self, text: str) -> None:
...         self.text, self.pos = text, 0
...     def fill(self) -> bool:
...         return False
>>> text = '{"a": "tab\\there", "b": [1]},{"a": "next"}]}'
>>> text[: damaged_stop(Text(text), Layout(None, "a"), 1 << 20)]
'{"a": "tab\\there", "b": [1]}'
>>> text = '{"a": "cut short, {"a": "next"}]}'
>>> text[: damaged_stop(Text(text), Layout(None, "a"), 1 << 20)]
'{"a": "cut short'
"""

from __future__ import annotations

import json
import re
from typing import NamedTuple, Protocol


class Stream(Protocol):
    """A window of decoded text over an input (`framing._TextStream`): the damaged record
    starts at `pos`; `fill` reads more (the text then starts at the old `pos`, now 0)."""

    text: str
    pos: int

    def fill(self) -> bool: ...


class Layout(NamedTuple):
    """How records stand, to tell where the one after a damaged record starts."""

    indent: str | None
    """The blanks before a record on its line; None when records do not start lines."""
    key: str | None
    """The first key of the records (CloudTrail's `eventVersion`), when known."""


_DECODER = json.JSONDecoder()
TOKEN_SLACK = 16
"""Characters before the end of the text read within which a decoding error may be the end
of the text cutting a token short, rather than damage."""
_KEY_OPENING = re.compile(rb'\{[ \t\r\n]*"((?:[^"\\]|\\.)*)"[ \t\r\n]*:')


def first_key(raw: bytes) -> str | None:
    """The first key of the JSON object `raw`, or None."""
    found = _KEY_OPENING.match(raw)
    return found[1].decode("utf-8", "surrogateescape") if found else None


def damaged_stop(stream: Stream, layout: Layout, limit: int) -> int:
    """Where the damaged text at `stream.pos` ends: before the next record (after the `}` or
    the line break before it, the `,` left), at most `limit` on, or the end of the input.

    A damaged record whose brackets are whole is taken whole up to twice `limit` (an oversized
    record too, quarantined in one piece rather than cut).
    """
    stop = _bracket_stop(stream, 2 * limit, limit) if layout.indent is None else None
    return stop if stop is not None else _marker_stop(stream, _marker(layout), limit)


def _marker(layout: Layout) -> re.Pattern[str] | None:
    """Where a record starts: a line opening an object after the records' indent, or `}` or
    `,` before an object (`record`) opening with the records' first key."""
    if layout.indent is not None:
        return re.compile(re.escape("\n" + layout.indent + "{"))
    if layout.key is not None:
        key = re.escape(layout.key)
        return re.compile(r'(?:\}[ \t\r\n]*,?|,)[ \t\r\n]*(?P<record>\{)[ \t\r\n]*"' + key + r'"[ \t\r\n]*:')
    return None


MARKER_OVERLAP = 4096
"""Text searched again for a marker after more is read, which may complete one."""


def _marker_stop(stream: Stream, marker: re.Pattern[str] | None, limit: int) -> int:
    """Before the next `marker` (after its `}` or line break) whose `record`, if it names one,
    decodes where records go on (`_record_at`); at most `limit` on, or the end of the input.

    Offsets count from `stream.pos`, which `fill` moves (the text then starts there)."""
    rel = 0
    while True:
        found = None if marker is None else marker.search(stream.text, stream.pos + rel)
        if found is not None:
            stop = found.start() + (stream.text[found.start()] != ",") - stream.pos
            record = found.start("record") - stream.pos if "record" in found.re.groupindex else None
            rel = found.end() - stream.pos
            if record is None or _record_at(stream, record, limit):
                return stream.pos + max(stop, 1)  # past one character at least: framing goes on
            continue
        if len(stream.text) - stream.pos > limit:
            return stream.pos + limit
        searched = len(stream.text) - stream.pos
        if not stream.fill():
            return len(stream.text)
        rel = max(rel, searched - MARKER_OVERLAP)


_STRUCTURE = re.compile(r'["\[\]{}]')


def _bracket_stop(stream: Stream, limit: int, record_limit: int) -> int | None:
    """The end of the object or array at the cursor, matched bracket for bracket (strings
    passed over) within `limit`, when records go on after it (`_goes_on`); None otherwise."""
    if stream.text[stream.pos : stream.pos + 1] not in ("{", "["):
        return None
    depth, at = 0, stream.pos
    while True:
        found = _STRUCTURE.search(stream.text, at)
        if found is not None and found[0] == '"':
            at = _string_end(stream.text, found.start())
            if at >= 0:
                continue
            at = found.start()  # the string goes on past the text read so far
        elif found is not None:
            depth += 1 if found[0] in ("{", "[") else -1
            if depth == 0:
                end = found.end() - stream.pos
                return stream.pos + end if _goes_on(stream, end, record_limit) else None
            at = found.end()
            continue
        else:
            at = len(stream.text)
        offset = at - stream.pos
        if offset > limit or not stream.fill():
            return None
        at = stream.pos + offset


def _string_end(text: str, start: int) -> int:
    """The end of the JSON string opening at `start`, or -1 when `text` ends first."""
    at = start + 1
    while True:
        quote = text.find('"', at)
        if quote < 0:
            return -1
        escapes = 0
        while text[quote - 1 - escapes] == "\\":
            escapes += 1
        if escapes % 2 == 0:
            return quote + 1
        at = quote + 1


def _goes_on(stream: Stream, rel: int, limit: int) -> bool:
    """Whether records go on after offset `rel`: a record that decodes (after a `,`, or glued
    on), or the end of the records' array."""
    char, rel = _next_character(stream, rel)
    if char == ",":
        char, rel = _next_character(stream, rel + 1)
    if char == "]":
        return _array_ends(stream, rel + 1)
    return char == "{" and _record_at(stream, rel, limit)


def _record_at(stream: Stream, rel: int, limit: int) -> bool:
    """Whether a JSON value decodes at offset `rel` (reading up to `limit` more), followed by
    a `,`, an object, the end of the records' array or the end of the input."""
    while True:
        try:
            _, end = _DECODER.raw_decode(stream.text, stream.pos + rel)
        except json.JSONDecodeError as exc:
            cut = exc.msg.startswith("Unterminated string") or exc.pos >= len(stream.text) - TOKEN_SLACK
            if not cut or len(stream.text) - stream.pos - rel > limit or not stream.fill():
                return False
            continue
        char, after = _next_character(stream, end - stream.pos)
        return _array_ends(stream, after + 1) if char == "]" else char in (",", "{", "")


def _array_ends(stream: Stream, rel: int) -> bool:
    """Whether the `]` before offset `rel` closes the records' array: the wrapper's `}`, the
    next page's `[` or the end of the input follows (a nested array goes on otherwise)."""
    return _next_character(stream, rel)[0] in ("}", "[", "")


_NEXT_CHARACTER = re.compile(r"[ \t\r\n]*([^ \t\r\n])")


def _next_character(stream: Stream, rel: int) -> tuple[str, int]:
    """The next character from offset `rel` on but blanks ('' at the end of the input), and
    its offset."""
    while True:
        found = _NEXT_CHARACTER.match(stream.text, stream.pos + rel)
        if found is not None:
            return found[1], found.start(1) - stream.pos
        if not stream.fill():
            return "", len(stream.text) - stream.pos
