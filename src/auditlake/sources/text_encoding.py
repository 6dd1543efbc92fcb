"""Text written in UTF-16 or UTF-32, or with a byte order mark, read as the UTF-8 text it holds.

Records are UTF-8, JSON's own encoding, but Windows tools often write otherwise: Notepad and
PowerShell 7's `-Encoding utf8BOM` put a UTF-8 byte order mark first, Windows PowerShell 5.1's
`Out-File` and `>` write UTF-16LE after its mark, and .NET's `Encoding.Unicode.GetBytes` or a
`StreamWriter` told not to write one give UTF-16 without a mark. A UTF-8 mark is passed over,
and UTF-16 or UTF-32 (either byte order) is turned into UTF-8 as it is read, so that framing,
detection and each record's `raw` see the text itself, as if it had been written in UTF-8.
Without a mark the encoding is told as RFC 4627 §3 tells it for JSON: a text's first two
characters are ASCII (`{`, `[`, whitespace; auditd's `type=`), so which of its first four
bytes are zero shows UTF-16 or UTF-32 and the byte order. Text starting otherwise is taken for
UTF-8.

>>> import io
>>> with as_utf8(io.BufferedReader(io.BytesIO('\\ufeff{"a": "é"}'.encode("utf-16-le")))) as handle:
...     handle.read().decode()
'{"a": "é"}'
>>> encoding_of('[{"a": 1}]'.encode("utf-16-be"))
Encoding(name='UTF-16BE without BOM', codec='utf-16-be', mark=0)
"""

from __future__ import annotations

import codecs
import io
from typing import Any, BinaryIO, NamedTuple, cast


class Encoding(NamedTuple):
    """How a text is written: its name as `auditlake sources PATH` shows it, the codec that
    turns it into UTF-8 (None: it is UTF-8), and the bytes of its byte order mark."""

    name: str
    codec: str | None
    mark: int


BYTE_ORDER_MARKS = {
    codecs.BOM_UTF32_LE: ("UTF-32LE", "utf-32-le"),  # before UTF-16LE's mark, which it starts with
    codecs.BOM_UTF32_BE: ("UTF-32BE", "utf-32-be"),
    codecs.BOM_UTF8: ("UTF-8 with BOM", None),
    codecs.BOM_UTF16_LE: ("UTF-16LE", "utf-16-le"),
    codecs.BOM_UTF16_BE: ("UTF-16BE", "utf-16-be"),
}
"""Byte order mark → the encoding it declares, and its codec."""
ZERO_BYTES: dict[tuple[bool, ...], tuple[str, str]] = {
    (True, True, True, False): ("UTF-32BE", "utf-32-be"),
    (False, True, True, True): ("UTF-32LE", "utf-32-le"),
    (True, False, True, False): ("UTF-16BE", "utf-16-be"),
    (False, True, False, True): ("UTF-16LE", "utf-16-le"),
}
"""Which of the first four bytes are zero → the encoding of a text starting with two ASCII
characters (RFC 4627 §3)."""
PIECE_BYTES = 1 << 20
"""UTF-16 or UTF-32 bytes decoded at a time."""


def encoding_of(head: bytes) -> Encoding | None:
    """The encoding of a text starting with `head` (four bytes tell it), or None for UTF-8
    without a mark (or too short a text to tell)."""
    for mark, (name, codec) in BYTE_ORDER_MARKS.items():
        if head.startswith(mark):
            return Encoding(name, codec, len(mark))
    found = ZERO_BYTES.get(tuple(byte == 0 for byte in head[:4])) if len(head) >= 4 else None
    return None if found is None else Encoding(f"{found[0]} without BOM", found[1], 0)


def as_utf8(handle: BinaryIO) -> BinaryIO:
    """`handle`'s bytes past a leading byte order mark, UTF-16 turned into UTF-8.

    A handle without a mark is returned as it is (a cost of one peek). One that fails on that
    first peek (a compressed stream cut in its header) is replaced by one that fails the same
    way on every read, so the failure is reported where reading is, not taken for an empty input.
    """
    peek = getattr(handle, "peek", None)
    if peek is None:
        return handle
    try:
        encoding = encoding_of(peek(4)[:4])
    except (OSError, EOFError) as exc:
        handle.close()
        return cast(BinaryIO, io.BufferedReader(_Failing(exc)))
    if encoding is None:
        return handle
    handle.read(encoding.mark)
    if encoding.codec is None:  # UTF-8 after its mark
        return handle
    return cast(BinaryIO, io.BufferedReader(_Transcoded(handle, encoding), PIECE_BYTES))


class _Transcoded(io.RawIOBase):
    """The UTF-8 text of a UTF-16 or UTF-32 stream. A lone surrogate is kept (as the bytes
    UTF-8 would give it, which are not valid UTF-8), so the record holding it is quarantined,
    not altered; a cut last character ends reading with `OSError`, as a cut stream does."""

    def __init__(self, source: BinaryIO, encoding: Encoding) -> None:
        assert encoding.codec is not None
        self.source = source
        self.encoding = encoding.name
        self.decoder = codecs.getincrementaldecoder(encoding.codec)("surrogatepass")
        self.pending = b""
        self.at = 0
        self.done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self.at >= len(self.pending) and not self.done:
            data = self.source.read(PIECE_BYTES)
            try:
                text = self.decoder.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                self.done = True
                raise OSError(f"input ends inside a character of its {self.encoding} text: {exc.reason}") from exc
            self.pending, self.at, self.done = text.encode("utf-8", "surrogatepass"), 0, not data
        size = min(len(buffer), len(self.pending) - self.at)
        buffer[:size] = self.pending[self.at : self.at + size]
        self.at += size
        return size

    def close(self) -> None:
        self.source.close()
        super().close()


class _Failing(io.RawIOBase):
    """A stream whose every read raises `error`."""

    def __init__(self, error: OSError | EOFError) -> None:
        self.error = error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise self.error
