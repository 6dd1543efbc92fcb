"""Text written with a byte order mark, read as the UTF-8 text it holds.

Records are UTF-8, JSON's own encoding, but Windows tools often write otherwise: Notepad and
PowerShell 7's `-Encoding utf8BOM` put a UTF-8 byte order mark first, and Windows PowerShell
5.1's `Out-File` and `>` write UTF-16LE after its mark. A UTF-8 mark is passed over, and UTF-16
(little- or big-endian, told by its mark) is turned into UTF-8 as it is read, so that framing,
detection and each record's `raw` see the text itself, as if it had been written in UTF-8.
Text in UTF-16 without a mark is not recognised: nothing tells it apart from binary data.

>>> import io
>>> with as_utf8(io.BufferedReader(io.BytesIO('\\ufeff{"a": "é"}'.encode("utf-16-le")))) as handle:
...     handle.read().decode()
'{"a": "é"}'
"""

from __future__ import annotations

import codecs
import io
from typing import Any, BinaryIO, cast

BYTE_ORDER_MARKS = {
    codecs.BOM_UTF8: "UTF-8 with BOM",
    codecs.BOM_UTF16_LE: "UTF-16LE",
    codecs.BOM_UTF16_BE: "UTF-16BE",
}
"""Byte order mark → the encoding it declares, as `auditlake sources PATH` names it."""
_CODECS = {"UTF-16LE": "utf-16-le", "UTF-16BE": "utf-16-be"}
"""The encodings turned into UTF-8 as they are read (a UTF-8 mark is only passed over)."""
PIECE_BYTES = 1 << 20
"""UTF-16 bytes decoded at a time."""


def marked_encoding(head: bytes) -> str | None:
    """The encoding that the byte order mark `head` starts with declares, or None (no mark)."""
    return next((name for mark, name in BYTE_ORDER_MARKS.items() if head.startswith(mark)), None)


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
        encoding = marked_encoding(peek(4)[:4])
    except (OSError, EOFError) as exc:
        handle.close()
        return cast(BinaryIO, io.BufferedReader(_Failing(exc)))
    if encoding is None:
        return handle
    if encoding not in _CODECS:  # UTF-8
        handle.read(len(codecs.BOM_UTF8))
        return handle
    handle.read(len(codecs.BOM_UTF16))
    return cast(BinaryIO, io.BufferedReader(_Transcoded(handle, encoding), PIECE_BYTES))


class _Transcoded(io.RawIOBase):
    """The UTF-8 text of a UTF-16 stream. A lone surrogate is kept (as the bytes UTF-8 would
    give it, which are not valid UTF-8), so the record holding it is quarantined, not altered;
    an odd last byte ends reading with `OSError`, as a cut stream does."""

    def __init__(self, source: BinaryIO, encoding: str) -> None:
        self.source = source
        self.encoding = encoding
        self.decoder = codecs.getincrementaldecoder(_CODECS[encoding])("surrogatepass")
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
                raise OSError(f"input ends inside a {self.encoding} character: {exc.reason}") from exc
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
