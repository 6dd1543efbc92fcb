"""The first bytes of an input, and bounded reads that keep what a damaged input gave."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from auditlake.sources.compression import open_input

HEAD_BYTES = 64 << 10
"""The first (decompressed) bytes read to tell an input's framing and source."""


def read_head(path: Path, size: int = HEAD_BYTES) -> bytes:
    """The first `size` bytes of the (decompressed) content, for sniffing."""
    with open_input(path) as handle:
        return read_upto(handle, size)[0]


def read_upto(handle: BinaryIO, size: int) -> tuple[bytes, str | None]:
    """Up to `size` bytes, and why reading stopped early on a damaged input (else None).

    Reads piecewise so that a truncated gzip stream still hands over what it decompressed
    before the damage, instead of losing the whole read to the `EOFError`.
    """
    read = getattr(handle, "read1", handle.read)
    pieces: list[bytes] = []
    got = 0
    while got < size:
        try:
            piece = read(size - got)
        except (OSError, EOFError) as exc:
            return b"".join(pieces), f"input ends early: {exc}"
        if not piece:
            break
        pieces.append(piece)
        got += len(piece)
    return b"".join(pieces), None
