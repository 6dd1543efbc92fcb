"""Pretty-printed objects among JSON Lines, each taken as one record rather than one per line.

A JSON Lines log sometimes holds an object written over several lines (`jq .` output appended
to it, a record pasted in by hand). Read a line at a time, each of its lines would be
quarantined on its own, in pieces no reader can put back together. An object that opens with a
line `{` and closes with a line `}`, both at the start of their lines (as `json.dumps(indent=…)`,
`jq` and PowerShell's `ConvertTo-Json` write them), is one record instead: its lines as written,
read like any record when it is valid JSON, quarantined whole when it is not. Only a block of
lines holding a line `{` takes this path (`opens_object`); JSON Lines proper never does.

>>> lines = [b'{"a": 1}', b"{", b'  "b": {', b'    "c": 2', b"  }", b"}", b'{"d": 3}']
>>> joined(lines, 1)
([b'{"a": 1}', b'{\\n  "b": {\\n    "c": 2\\n  }\\n}', b'{"d": 3}'], [1, 2, 7])
"""

from __future__ import annotations

MAX_OBJECT_BYTES = 1 << 20
"""Longest text of an object still open at the end of a read that is held back to be joined
with the rest of it; a longer one is read as lines, so memory stays bounded."""


def opens_object(lines: list[bytes]) -> bool:
    """Whether a line of `lines` is `{` alone: a pretty-printed object may start there."""
    return b"{" in lines or b"{\r" in lines


def joined(lines: list[bytes], first: int) -> tuple[list[bytes], list[int]]:
    """The non-blank lines of `lines` (the first numbered `first`), stripped, each object
    written over several lines joined into one record; and each record's line number."""
    raws: list[bytes] = []
    numbers: list[int] = []
    at = 0
    while at < len(lines):
        end = _closing(lines, at) if lines[at].rstrip(b"\r") == b"{" else None
        raw = lines[at].strip() if end is None else b"\n".join(lines[at : end + 1]).strip()
        if raw:
            raws.append(raw)
            numbers.append(first + at)
        at = at + 1 if end is None else end + 1
    return raws, numbers


def held_back(lines: list[bytes], tail: bytes, *, more: bool) -> tuple[list[bytes], bytes]:
    """`lines` less an object still open at their end, and `tail` (the start of the next
    line) with that object's lines before it, to be completed by the next read; as they are
    when no object is open, no `more` input follows, or the object's text would be over
    `MAX_OBJECT_BYTES` (its lines are then read as lines)."""
    start = next((k for k in range(len(lines) - 1, -1, -1) if lines[k][:1] in (b"{", b"}")), None)
    if start is None or lines[start].rstrip(b"\r") != b"{":
        return lines, tail
    if not more or sum(map(len, lines[start:])) + len(tail) > MAX_OBJECT_BYTES:
        return lines, tail
    return lines[:start], b"\n".join([*lines[start:], tail])


def _closing(lines: list[bytes], opening: int) -> int | None:
    """The line `}` that closes the object opened by the line `{` at `opening`; None when a
    line starting with `{` or the end of `lines` comes first."""
    for at in range(opening + 1, len(lines)):
        if lines[at][:1] == b"{":
            return None
        if lines[at].rstrip(b"\r") == b"}":
            return at
    return None
