"""Windows `.evtx` files into frames, with every record the parser cannot read accounted for.

The `evtx` package (pyevtx-rs) renders each record as evtx_dump-style JSON, which becomes the
frame's raw text. Its error reporting is uneven: a corrupt chunk raises `RuntimeError` for the
whole chunk and iteration goes on, but a truncated chunk, or a chunk whose record headers are
damaged, just yields fewer records without any error. So this module also reads the chunk
headers itself (each lists the record ids it holds) and turns every listed record the parser did
not return into an error frame, so a damaged file shows up in quarantine instead of shrinking.

File layout: a 4096-byte file header (`ElfFile\\0`), then 65536-byte chunks (`ElfChnk\\0`),
each with its first and last record id at bytes 24..40 of its header.

>>> sniff(b"ElfFile\\x00" + bytes(8)), sniff(b'{"Event": {}}')
(True, False)
"""

from __future__ import annotations

import bisect
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from evtx import PyEvtxParser, PyRecordsIterator

from auditlake.sources.base import Frame
from auditlake.sources.compression import open_input

EVTX_MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
FILE_HEADER_SIZE = 4096
CHUNK_SIZE = 65536
CHUNK_HEADER_SIZE = 512
MAX_RECORDS_PER_CHUNK = (CHUNK_SIZE - CHUNK_HEADER_SIZE) // 24
"""A record takes at least 24 bytes, so a header claiming more records than this is corrupt."""
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


@dataclass(frozen=True, slots=True)
class Chunk:
    """What a chunk header promises: its slot number and the record ids it holds."""

    index: int
    first_id: int
    last_id: int


@dataclass(frozen=True, slots=True)
class Fault:
    """Something wrong with the file: a parser error or damage seen in the headers.

    `first_id..last_id` or `chunk` say which records it explains, when that is known; a
    missing record is reported with the first fault that explains it.
    """

    where: str
    message: str
    first_id: int | None = None
    last_id: int | None = None
    chunk: int | None = None

    def covers(self, chunk: Chunk, record_id: int) -> bool:
        if self.first_id is not None and self.last_id is not None:
            return self.first_id <= record_id <= self.last_id
        return self.chunk == chunk.index


def evtx_frames(path: Path) -> Iterator[Frame]:
    """One frame per record of an EVTX file, then one error frame per lost record or fault."""
    name = path.name
    chunks, damage = read_inventory(path)
    ledger = Ledger(chunks)
    faults: list[Fault] = []
    for record_id, data, error in _parse(path):
        if error is not None:
            faults.append(_parser_fault(f"{name}:error {len(faults) + 1}", error))
        elif record_id is not None and data is not None:
            ledger.mark(record_id)
            yield Frame(data.encode("utf-8"), f"{name}:record {record_id}")
    yield from _losses(name, ledger, faults + damage)


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


def _parse(path: Path) -> Iterator[tuple[int | None, str | None, str | None]]:
    """(record id, JSON text, None) per record and (None, None, message) per parser error."""
    try:
        handle = open_input(path)
    except OSError as exc:
        yield None, None, f"cannot open EVTX file: {exc}"
        return
    with handle:
        try:
            parser = PyEvtxParser(handle, number_of_threads=1, indent=False,
                                  separate_json_attributes=False)
            records = parser.records_json()
        except (OSError, RuntimeError, ValueError) as exc:
            yield None, None, f"not a readable EVTX file: {exc}"
            return
        yield from _drain(records)


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


def read_inventory(path: Path) -> tuple[list[Chunk], list[Fault]]:
    """The chunks the headers announce, and the damage seen in the file's layout."""
    chunks: list[Chunk] = []
    damage: list[Fault] = []
    name = path.name
    index = 0
    try:
        with open_input(path) as handle:
            header = handle.read(FILE_HEADER_SIZE)
            if len(header) < FILE_HEADER_SIZE:
                return [], []  # the parser refuses the file and says why
            declared = struct.unpack_from("<H", header, 42)[0]
            while block := handle.read(CHUNK_SIZE):
                _check_chunk(f"{name}:chunk {index}", index, block, chunks, damage)
                index += 1
    except (OSError, EOFError) as exc:
        damage.append(Fault(f"{name}:chunk {index}", f"EVTX file cannot be read to the end: {exc}"))
        return chunks, damage
    if declared > index:
        reason = f"file header lists {declared} chunks but the file holds {index} (truncated file)"
        damage.append(Fault(f"{name}:header", reason))
    return chunks, damage


def _check_chunk(where: str, index: int, block: bytes, chunks: list[Chunk], damage: list[Fault]) -> None:
    """Add the chunk to `chunks` if its header is readable, and what is wrong with it to `damage`."""
    if len(block) < CHUNK_SIZE:
        reason = f"file ends {len(block)} bytes into chunk {index} (truncated file)"
        damage.append(Fault(where, reason, chunk=index))
    if len(block) < 40 or not block.startswith(CHUNK_MAGIC):
        return  # an unused slot is all zeros; the parser reports other damage itself
    first_id, last_id = struct.unpack_from("<QQ", block, 24)
    if last_id < first_id:
        return  # a chunk with no records yet
    if last_id - first_id >= MAX_RECORDS_PER_CHUNK:
        damage.append(Fault(where, f"chunk header claims impossible record ids {first_id}..{last_id}"))
        return
    chunks.append(Chunk(index, first_id, last_id))


def _losses(name: str, ledger: Ledger, faults: list[Fault]) -> Iterator[Frame]:
    """An error frame per announced record the parser did not return, then per untold fault."""
    told: set[int] = set()
    for chunk, record_id in ledger.missing():
        cause = next((i for i, f in enumerate(faults) if f.covers(chunk, record_id)), None)
        if cause is None:
            reason = (f"record {record_id} is listed in chunk {chunk.index}'s header but the "
                      "parser returned nothing for it (corrupt or truncated chunk)")
        else:
            told.add(cause)
            reason = f"record {record_id} could not be read: {faults[cause].message}"
        yield Frame(b"", f"{name}:record {record_id}", error=reason)
    for number, fault in enumerate(faults):
        if number not in told:
            yield Frame(b"", fault.where, error=fault.message)
