"""Windows `.evtx` files into frames, with every record the parser cannot read accounted for.

The `evtx` package (pyevtx-rs) renders each record as evtx_dump-style JSON, which becomes the
frame's raw text. Its error reporting is uneven: a corrupt chunk raises `RuntimeError` for the
whole chunk and iteration goes on, but a truncated chunk, or a chunk whose record headers are
damaged, just yields fewer records without any error. So this module also reads the chunk
headers itself (`evtx_layout`: each lists the record ids it holds) and turns every listed
record the parser did not return into an error frame that carries the record's own bytes, so
a damaged file shows up in quarantine instead of shrinking, and nothing it holds is lost.

The parser skips a chunk shorter than 64 KiB, so a file cut inside its last chunk (a copy
interrupted, a disk full) would lose every record of that chunk, whole or not. That chunk is
handed over zero-filled from the first record the cut reaches: the parser reads the records
before it, and only those the cut reached are lost.

A chunk whose checksum fails is still read: the parser would drop it whole, intact records
with it, and a checksum cannot tell which record changed. What does not parse is quarantined
as above; when every record of it does, one quarantine note keeps the chunk's bytes, since a
record edited in place (or damage the parser cannot see) reads just like an intact one.

>>> sniff(b"ElfFile\\x00" + bytes(8)), sniff(b'{"Event": {}}')
(True, False)
"""

from __future__ import annotations

import bisect
import io
import re
from collections.abc import Iterator
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO

from evtx import PyEvtxParser, PyRecordsIterator

from auditlake.sources.base import Frame
from auditlake.sources.compression import open_input
from auditlake.sources.evtx_layout import (
    CHUNK_HEADER_SIZE,
    CHUNK_SIZE,
    EVTX_MAGIC,
    FILE_HEADER_SIZE,
    Chunk,
    Cut,
    Fault,
    locate,
    read_chunk,
    read_inventory,
    records_end,
)

__all__ = ["CHUNK_SIZE", "FILE_HEADER_SIZE", "evtx_frames", "sniff"]

MAX_CONSECUTIVE_ERRORS = 10_000
"""Errors in a row after which the parser is taken to be stuck rather than moving on."""

_ERROR_SCOPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"record IDs (\d+)\.\.(\d+)"), "ids"),
    (re.compile(r"record number (\d+)"), "id"),
    (re.compile(r"chunk number (\d+)"), "chunk"),
)
"""How pyevtx-rs 0.14 names the place of an error; an unmatched message stands on its own."""


def sniff(head: bytes) -> bool:
    """True when the content starts with the EVTX file magic."""
    return head.startswith(EVTX_MAGIC)


def evtx_frames(path: Path) -> Iterator[Frame]:
    """One frame per record of an EVTX file, then one error frame per lost record or fault."""
    name = path.name
    inventory = read_inventory(path)
    ledger = Ledger(inventory.chunks)
    faults: list[Fault] = []
    for record_id, data, error in _parse(path, inventory.cut):
        if error is not None:
            faults.append(_parser_fault(f"{name}:error {len(faults) + 1}", error))
        elif record_id is not None and data is not None:
            ledger.mark(record_id)
            yield Frame(data.encode("utf-8"), f"{name}:record {record_id}")
    yield from _losses(path, ledger, faults + inventory.damage)
    yield from _altered(path, ledger, inventory.altered)


class Ledger:
    """Which records announced by chunk headers the parser returned: one byte per record.

    A set of ids would cost ~60 bytes per record; a large log has millions of them.
    """

    def __init__(self, chunks: list[Chunk]) -> None:
        self.chunks = sorted(chunks, key=lambda c: c.first_id)
        self.starts = [c.first_id for c in self.chunks]
        self.returned = [bytearray(c.last_id - c.first_id + 1) for c in self.chunks]

    def mark(self, record_id: int) -> None:
        at = bisect.bisect_right(self.starts, record_id) - 1
        if at >= 0 and record_id <= self.chunks[at].last_id:
            self.returned[at][record_id - self.starts[at]] = 1

    def missing(self) -> Iterator[tuple[Chunk, int]]:
        for chunk, returned in zip(self.chunks, self.returned, strict=True):
            for offset in (i for i, flag in enumerate(returned) if not flag):
                yield chunk, chunk.first_id + offset

    def complete(self, index: int) -> bool:
        """Whether the parser returned every record of the chunk in slot `index`."""
        return all(all(returned) for chunk, returned in zip(self.chunks, self.returned, strict=True)
                   if chunk.index == index)


def _parse(path: Path, cut: Cut | None) -> Iterator[tuple[int | None, str | None, str | None]]:
    """(record id, JSON text, None) per record and (None, None, message) per parser error."""
    try:
        handle = open_input(path)
    except OSError as exc:
        yield None, None, f"cannot open EVTX file: {exc}"
        return
    with handle:
        try:
            # Checksums are checked by `evtx_layout` instead: the parser would drop a whole
            # chunk whose checksum fails, intact records and all (see `_altered`).
            parser = PyEvtxParser(_completed(handle, cut), number_of_threads=1, indent=False,
                                  separate_json_attributes=False, validate_checksums=False)
            records = parser.records_json()
        except (OSError, RuntimeError, ValueError) as exc:
            yield None, None, f"not a readable EVTX file: {exc}"
            return
        yield from _drain(records)


def _completed(handle: BinaryIO, cut: Cut | None) -> BinaryIO:
    """`handle`, its cut last chunk zero-filled to full size from the first record the cut reaches."""
    if cut is None:
        return handle
    start = FILE_HEADER_SIZE + cut.index * CHUNK_SIZE
    return io.BufferedReader(_ZeroFilled(handle, start + cut.keep, start + CHUNK_SIZE))


class _ZeroFilled(io.RawIOBase):
    """The first `keep` bytes of a seekable stream, then zeros up to `size`."""

    def __init__(self, stream: BinaryIO, keep: int, size: int) -> None:
        self.stream, self.keep, self.size, self.at = stream, keep, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.at

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.at, io.SEEK_END: self.size}[whence]
        self.at = max(0, base + offset)
        return self.at

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), max(0, self.size - self.at))
        if self.at < self.keep:
            self.stream.seek(self.at)
            data = self.stream.read(min(want, self.keep - self.at))
        else:
            data = bytes(want)
        buffer[: len(data)] = data
        self.at += len(data)
        return len(data)


def _drain(records: PyRecordsIterator) -> Iterator[tuple[int | None, str | None, str | None]]:
    """Pull records one by one; an error costs one record or chunk, not the rest of the file."""
    consecutive = 0
    while consecutive < MAX_CONSECUTIVE_ERRORS:
        try:
            record = next(records)
        except StopIteration:
            return
        except BaseException as exc:  # a Rust panic arrives as pyo3's PanicException
            if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit | MemoryError):
                raise
            consecutive += 1
            yield None, None, f"{type(exc).__name__}: {exc}"
            continue
        consecutive = 0
        fields = record if isinstance(record, dict) else {}
        record_id, data = fields.get("event_record_id"), fields.get("data")
        if isinstance(record_id, int) and isinstance(data, str):
            yield record_id, data, None
        else:
            yield None, None, f"parser returned a record without id or data: {record!r:.200}"
    yield None, None, f"parser gave up after {MAX_CONSECUTIVE_ERRORS} errors in a row"


def _parser_fault(where: str, message: str) -> Fault:
    """A parser error, scoped to the records or chunk its message names."""
    text = f"EVTX parse error: {message}"
    for pattern, scope in _ERROR_SCOPES:
        match = pattern.search(message)
        if match is None:
            continue
        if scope == "ids":
            return Fault(where, text, int(match[1]), int(match[2]))
        if scope == "id":
            return Fault(where, text, int(match[1]), int(match[1]))
        return Fault(where, text, chunk=int(match[1]))
    return Fault(where, text)


def _losses(path: Path, ledger: Ledger, faults: list[Fault]) -> Iterator[Frame]:
    """An error frame per announced record the parser did not return, then per untold fault."""
    told: set[int] = set()
    for chunk, missing in groupby(ledger.missing(), key=itemgetter(0)):
        block = read_chunk(path, chunk.index)
        for record_id, raw, kept in _lost_bytes(block, chunk, [i for _, i in missing]):
            cause = next((i for i, f in enumerate(faults) if f.covers(chunk, record_id)), None)
            if cause is None:
                reason = (f"record {record_id} is listed in chunk {chunk.index}'s header but the "
                          "parser returned nothing for it (corrupt or truncated chunk)")
            else:
                told.add(cause)
                reason = f"record {record_id} could not be read: {faults[cause].message}"
            yield Frame(raw, f"{path.name}:record {record_id}", error=reason + kept)
    for number, fault in enumerate(faults):
        if number not in told:
            raw = b"" if fault.chunk is None else read_chunk(path, fault.chunk)
            yield Frame(raw, fault.where, error=fault.message)


def _lost_bytes(block: bytes, chunk: Chunk, ids: list[int]) -> Iterator[tuple[int, bytes, str]]:
    """(id, bytes, what the bytes are) per lost record of a chunk.

    A record found by its header keeps its own bytes (those before the cut, if the file was cut
    inside it). The others lie in the gaps between found records, in id order: the first lost
    record of a gap keeps the whole gap.
    """
    spans = locate(block, chunk)
    found = sorted((record_id, start, end) for record_id, (start, end) in spans.items())
    ids_found = [record_id for record_id, _, _ in found]
    last = max([records_end(block)] + [end for _, end in spans.values()])
    holder: dict[int, int] = {}  # gap start → the record that keeps the gap
    for record_id in ids:
        if record_id in spans:
            start, end = spans[record_id]
            yield record_id, block[start:end], _cut_short(len(block[start:end]), end - start)
            continue
        at = bisect.bisect_left(ids_found, record_id)
        gap_start = found[at - 1][2] if at else CHUNK_HEADER_SIZE
        gap_end = found[at][1] if at < len(found) else last
        raw = block[gap_start:min(gap_end, len(block))]
        if not raw:
            yield record_id, b"", "; none of its bytes are in the file"
        elif gap_start in holder:
            yield record_id, b"", f"; its bytes are among those kept with record {holder[gap_start]}"
        else:
            holder[gap_start] = record_id
            yield record_id, raw, "; its start is unknown, so the unread bytes around it are kept here"


def _cut_short(held: int, size: int) -> str:
    """What a lost record's entry says of its bytes, when the file holds only some of them."""
    return "" if held == size else f"; {held} of its {size} bytes are in the file and kept here"


def _altered(path: Path, ledger: Ledger, altered: list[int]) -> Iterator[Frame]:
    """A note per chunk whose checksum fails although all its records were read.

    The records are kept: a checksum cannot tell which record changed, and most of them are
    usually intact. The note keeps the chunk's bytes, so that the change (damage, or a record
    edited in place) can be looked into. A chunk that lost records shows its damage already.
    """
    for index in altered:
        if ledger.complete(index):
            reason = (f"chunk {index}'s checksum does not match its bytes: its records were read, "
                      "but some may hold altered values; the chunk's bytes are kept here")
            yield Frame(read_chunk(path, index), f"{path.name}:chunk {index}", error=reason)
