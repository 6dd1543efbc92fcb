"""Compressed inputs, told by their first bytes rather than their names: gzip (CloudTrail's
delivery files, rotated logs), zstd (what Vector and Fluent Bit can write, in frames back to
back), bzip2 and xz (archived logs). A damaged or cut stream raises `OSError` or `EOFError`
where its damage is reached, after everything before it was handed over. `open_input` also
reads text written with a byte order mark as UTF-8 (`text_encoding`).

>>> import tempfile, pathlib, lzma
>>> p = pathlib.Path(tempfile.mkdtemp()) / "audit.log.xz"
>>> _ = p.write_bytes(lzma.compress(b'{"a": 1}\\n'))
>>> with open_input(p) as handle:
...     handle.read()
b'{"a": 1}\\n'
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
from pathlib import Path
from typing import Any, BinaryIO, cast

import pyarrow as pa

from auditlake.sources.text_encoding import as_utf8

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BZIP2_MAGIC = b"BZh"
BZIP2_BLOCK = b"\x31\x41\x59\x26\x53\x59"
"""A bzip2 stream's first block, after `BZh` and its block size: a text that merely starts
with `BZh` is not taken for one."""
XZ_MAGIC = b"\xfd7zXZ\x00"


PIECE_BYTES = 16 << 10
"""Most text asked of Arrow's zstd stream at once: asked for more than a cut stream still
holds, it raises without handing over what it did decompress."""


class _InPieces(io.RawIOBase):
    """A stream read `PIECE_BYTES` at most at a time, so a cut one yields all but its last piece."""

    def __init__(self, stream: pa.NativeFile) -> None:
        self.stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.stream.read(min(len(buffer), PIECE_BYTES))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.stream.close()
        super().close()


def compression_of(path: Path) -> str | None:
    """The compression of the file at `path` (`gzip`, `zstd`, `bzip2`, `xz`), None for none."""
    with path.open("rb") as handle:
        return _kind(handle.read(10))


def _kind(magic: bytes) -> str | None:
    if magic.startswith(GZIP_MAGIC):
        return "gzip"
    if magic.startswith(ZSTD_MAGIC):
        return "zstd"
    if magic.startswith(BZIP2_MAGIC) and magic[3:4] in b"123456789" and magic[4:10] == BZIP2_BLOCK:
        return "bzip2"
    if magic.startswith(XZ_MAGIC):
        return "xz"
    return None


def open_input(path: Path) -> BinaryIO:
    """Open a file for reading its text: decompressed when its content is compressed, past a
    byte order mark, and in UTF-8 when the mark declares UTF-16."""
    return as_utf8(open_decompressed(path))


def open_decompressed(path: Path) -> BinaryIO:
    """Open a file for reading, transparently decompressing when its content is compressed."""
    handle = path.open("rb")
    kind = _kind(handle.peek(10)[:10])
    if kind == "gzip":
        return cast(BinaryIO, gzip.open(handle, "rb"))
    if kind == "zstd":
        handle.close()  # Arrow reads the file itself, and decodes frames written back to back
        stream = pa.CompressedInputStream(pa.OSFile(str(path)), "zstd")
        return cast(BinaryIO, io.BufferedReader(_InPieces(stream), PIECE_BYTES))
    if kind == "bzip2":
        return cast(BinaryIO, bz2.open(handle, "rb"))
    if kind == "xz":
        return cast(BinaryIO, lzma.open(handle, "rb"))
    return handle
