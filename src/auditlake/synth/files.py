"""Native files on disk: JSON Lines, CloudTrail's gzip `{"Records": [...]}`, raw audit.log text.

Records arrive as encoded bytes and are written in batches, so a day's file streams straight to
disk. Gzip output fixes the header's mtime and name, which keeps reruns byte-identical.
"""

from __future__ import annotations

import gzip
import itertools
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

BATCH = 2048
GZIP_LEVEL = 1


@dataclass(frozen=True, slots=True)
class FileFormat:
    """How records are framed in one file: extension, container bytes, and compression."""

    ext: str
    header: bytes = b""
    separator: bytes = b""
    footer: bytes = b""
    gzip: bool = False


FORMATS: dict[str, FileFormat] = {
    "jsonl": FileFormat("jsonl"),
    "cloudtrail": FileFormat("json.gz", b'{"Records":[', b",", b"]}\n", gzip=True),
    "auditd": FileFormat("log"),
}


def day_path(out_dir: Path, source: str, day: str, file_format: str) -> Path:
    """`out_dir/<source>/<YYYY-MM-DD>.<ext>`."""
    return out_dir / source / f"{day}.{FORMATS[file_format].ext}"


def write_records(path: Path, file_format: str, records: Iterable[bytes]) -> tuple[int, int]:
    """Write encoded records into `path`; return (records, uncompressed bytes)."""
    fmt = FORMATS[file_format]
    path.parent.mkdir(parents=True, exist_ok=True)
    count = size = 0
    with path.open("wb") as raw, _maybe_gzip(raw, fmt.gzip) as out:
        out.write(fmt.header)
        stream = iter(records)
        while batch := list(itertools.islice(stream, BATCH)):
            size += _flush(out, batch, fmt.separator, first=count == 0)
            count += len(batch)
        out.write(fmt.footer)
    return count, size + len(fmt.header) + len(fmt.footer)


def _flush(out: BinaryIO, batch: list[bytes], separator: bytes, *, first: bool) -> int:
    data = separator.join(batch)
    if not first:
        data = separator + data
    out.write(data)
    return len(data)


def _maybe_gzip(raw: BinaryIO, compress: bool) -> AbstractContextManager[BinaryIO]:
    """Gzip with a fixed header (no name, mtime 0), or the raw file left for its owner to close."""
    if not compress:
        return nullcontext(raw)
    return gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL)  # type: ignore[return-value]
