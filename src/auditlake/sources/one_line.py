"""An array of records written on one line, split into its records without decoding them.

CloudTrail delivers each file as `{"Records":[...]}` on one line; a JSON parser that streams
record by record spends most of its time there. Records start with the same key, so the line is
cut before each `},{"<first key>":` and each piece checked to load as one object.
"""

from __future__ import annotations

import re
from pathlib import Path

import simdjson

from auditlake.sources.compression import open_input
from auditlake.sources.fields import loads_as_object
from auditlake.sources.input_head import read_head, read_upto

MAX_WHOLE_BYTES = 64 << 20
"""Largest input (decompressed) `one_line_members` reads whole; larger ones stream."""
_OPENING = re.compile(rb'[ \t\r]*(?:(\[)|\{[ \t\r]*"Records"[ \t\r]*:[ \t\r]*\[)[ \t\r]*')
_CLOSING = re.compile(rb'[ \t\r]*\][ \t\r]*(\}?)[ \t\r\n]*')
_FIRST_KEY = re.compile(rb'\{"([^"\\]*)":')


def one_line_members(path: Path) -> list[bytes] | None:
    """The objects of an array input written on one line (`[...]` or CloudTrail's
    `{"Records": [...]}`), exactly as `framing`'s streaming parser frames them, found without decoding.

    The array is split before each `{"<key>":` that follows `},`, where `<key>` is the first
    key of the first object (CloudTrail's `eventVersion`); outside strings only, since a quote
    inside a string is escaped. Every piece must then load in simdjson as one object: a split
    inside a record (an object of the same first key nested in an array) leaves two pieces
    that do not, and Python's decoder, which `framing`'s streaming parser uses, reads all JSON simdjson
    does, ending each object where simdjson does. Otherwise (records over several lines,
    members that are not objects or start with another key, anything simdjson refuses, an
    oversized or damaged input) None: the input is left to `framing`'s streaming parser.
    """
    data = _whole_if_one_line(path)
    if data is None:
        return None
    opening = _OPENING.match(data)
    end = data.rfind(b"]")
    closing = _CLOSING.fullmatch(data, end) if opening is not None and end >= 0 else None
    if opening is None or closing is None or (opening[1] is None) != (closing[1] == b"}"):
        return None  # (a bare array has no closing brace, a Records wrapper one)
    start = opening.end()
    while end > start and data[end - 1] in b" \t\r":
        end -= 1
    if data.find(b"\n", start, end) >= 0:
        return None
    if start == end:
        return []
    first = _FIRST_KEY.match(data, start)
    if first is None:
        return None
    return _split_members(data, start, end, b'},{"' + first[1] + b'":')


def _whole_if_one_line(path: Path) -> bytes | None:
    """The whole (decompressed) input, when it is undamaged, of at most `MAX_WHOLE_BYTES`, and
    its head opens an array with no line break after the opening (a pretty-printed array is
    told by its head, without reading it all); else None."""
    head = read_head(path)
    opening = _OPENING.match(head)
    if opening is None or b"\n" in head[opening.end() :].rstrip():
        return None
    with open_input(path) as handle:
        data, error = read_upto(handle, MAX_WHOLE_BYTES + 1)
    return data if error is None and len(data) <= MAX_WHOLE_BYTES else None


MAX_RECORD_TEXT = 1 << 20
"""Longest text taken for one record before `one_line_members` gives up."""


def _split_members(data: bytes, start: int, end: int, separator: bytes) -> list[bytes] | None:
    """`data[start:end]` cut after the `}` of each `separator`, into texts that each load as
    one object; a cut inside a record (its texts do not load) is undone, up to
    `MAX_RECORD_TEXT`."""
    parse = simdjson.Parser().parse
    members: list[bytes] = []
    cut = start
    while start < end:
        found = data.find(separator, cut, end)
        stop = end if found < 0 else found + 1
        record = data[start:stop]
        if loads_as_object(parse, record):
            members.append(record)
            start = cut = stop + 1
        elif found < 0 or stop - start > MAX_RECORD_TEXT:
            return None
        else:  # cut at an object of the same first key nested in the record's arrays
            cut = stop
    return members
