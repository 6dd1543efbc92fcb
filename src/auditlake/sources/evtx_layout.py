"""The layout of a Windows `.evtx` file, read from its headers without the parser.

What the chunk headers promise (the record ids each chunk holds), where each record lies, which
chunks fail their checksums and where a cut file ends: `evtx_frames` holds the parser's output
against this, so a record the parser does not return is reported with its own bytes.

File layout: a 4096-byte file header (`ElfFile\\0`; its last chunk number at bytes 16..24, its
chunk count at 42..44, its flags at 120..124), then 65536-byte chunks (`ElfChnk\\0`), each with
its first and last record id at bytes 24..40 of its header, the end of its records at 48..52
and the checksums of its records and of its header at 52..56 and 124..128. Records (`**\\0\\0`)
follow the 512-byte chunk header, each with its size at bytes 4..8 (repeated in its last 4
bytes) and its id at 8..16.

>>> block = bytearray(1024); chunk = Chunk(0, 7, 7)
>>> block[512:536] = RECORD_MAGIC + (100).to_bytes(4, "little") + (7).to_bytes(8, "little") + bytes(8)
>>> block[608:612] = (100).to_bytes(4, "little")
>>> locate(bytes(block), chunk)
{7: (512, 612)}
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from auditlake.sources.compression import open_input

EVTX_MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
RECORD_MAGIC = b"**\x00\x00"
FILE_HEADER_SIZE = 4096
CHUNK_SIZE = 65536
CHUNK_HEADER_SIZE = 512
RECORD_HEADER_SIZE = 24
MAX_RECORDS_PER_CHUNK = (CHUNK_SIZE - CHUNK_HEADER_SIZE) // RECORD_HEADER_SIZE
"""A record takes at least 24 bytes, so a header claiming more records than this is corrupt."""
DIRTY = 0x1
"""File header flag: the log was not closed (a copy of a live log), so its current chunk's
checksums may lag behind its records."""


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


@dataclass(frozen=True, slots=True)
class Cut:
    """The chunk the file ends in, and how many of its bytes hold whole records (from its start)."""

    index: int
    keep: int


@dataclass(slots=True)
class Inventory:
    """What the headers of a file promise, and what is wrong with its layout."""

    chunks: list[Chunk] = field(default_factory=list)
    damage: list[Fault] = field(default_factory=list)
    altered: list[int] = field(default_factory=list)
    """Chunks whose checksum does not match their bytes."""
    cut: Cut | None = None


def read_inventory(path: Path) -> Inventory:
    """The chunks the headers announce, and the damage seen in the file's layout."""
    inventory = Inventory()
    name = path.name
    index = 0
    try:
        with open_input(path) as handle:
            header = handle.read(FILE_HEADER_SIZE)
            if len(header) < FILE_HEADER_SIZE:
                return inventory  # the parser refuses the file and says why
            last_chunk, declared, flags = _file_header(header)
            current = last_chunk if flags & DIRTY else None
            while block := handle.read(CHUNK_SIZE):
                _check_chunk(f"{name}:chunk {index}", index, block, inventory, current)
                index += 1
    except (OSError, EOFError) as exc:
        reason = f"EVTX file cannot be read to the end: {exc}"
        inventory.damage.append(Fault(f"{name}:chunk {index}", reason))
        return inventory
    if declared > index:
        reason = f"file header lists {declared} chunks but the file holds {index} (truncated file)"
        inventory.damage.append(Fault(f"{name}:header", reason))
    return inventory


def _file_header(header: bytes) -> tuple[int, int, int]:
    """The file header's last chunk number, chunk count and flags."""
    last_chunk = struct.unpack_from("<Q", header, 16)[0]
    declared = struct.unpack_from("<H", header, 42)[0]
    flags = struct.unpack_from("<I", header, 120)[0]
    return last_chunk, declared, flags


def _check_chunk(where: str, index: int, block: bytes, inventory: Inventory, current: int | None) -> None:
    """Add the chunk to the inventory if its header is readable, and what is wrong with it."""
    chunk = _announced(where, index, block, inventory.damage)
    if len(block) < CHUNK_SIZE:
        _check_cut(where, index, block, chunk, inventory)
    elif chunk is not None and index != current and not _checksums_match(block):
        inventory.altered.append(index)
    if chunk is not None:
        inventory.chunks.append(chunk)


def _announced(where: str, index: int, block: bytes, damage: list[Fault]) -> Chunk | None:
    """The chunk as its header describes it; None for an unused slot or an unreadable header."""
    if len(block) < 40 or not block.startswith(CHUNK_MAGIC):
        return None  # an unused slot is all zeros; the parser reports other damage itself
    first_id, last_id = struct.unpack_from("<QQ", block, 24)
    if last_id < first_id:
        return None  # a chunk with no records yet
    if last_id - first_id >= MAX_RECORDS_PER_CHUNK:
        damage.append(Fault(where, f"chunk header claims impossible record ids {first_id}..{last_id}",
                            chunk=index))
        return None
    return Chunk(index, first_id, last_id)


def _check_cut(where: str, index: int, block: bytes, chunk: Chunk | None, inventory: Inventory) -> None:
    """The file ends `len(block)` bytes into this chunk: note what of it the parser can have, and
    report the loss, unless the cut is past the end of the chunk's records (in unused space)."""
    inventory.cut = _whole_records(index, block, chunk)
    if inventory.cut is None or records_end(block) > inventory.cut.keep:
        reason = f"file ends {len(block)} bytes into chunk {index} (truncated file)"
        inventory.damage.append(Fault(where, reason, chunk=index))


def _whole_records(index: int, block: bytes, chunk: Chunk | None) -> Cut | None:
    """The part of a cut chunk that holds whole records; None when its header is cut too."""
    if chunk is None or len(block) < CHUNK_HEADER_SIZE:
        return None
    spans = locate(block, chunk)
    keep = max((end for _, end in spans.values() if end <= len(block)), default=CHUNK_HEADER_SIZE)
    return Cut(index, keep)


def records_end(block: bytes) -> int:
    """Where the chunk's records end, as its header says; the chunk's end when it cannot say."""
    end = struct.unpack_from("<I", block, 48)[0] if len(block) >= 52 else CHUNK_SIZE
    return end if CHUNK_HEADER_SIZE <= end <= CHUNK_SIZE else CHUNK_SIZE


def _checksums_match(block: bytes) -> bool:
    """Whether a whole chunk's header and records still hash to the checksums in its header."""
    records_end, records_crc = struct.unpack_from("<II", block, 48)
    header_crc = struct.unpack_from("<I", block, 124)[0]
    if not CHUNK_HEADER_SIZE <= records_end <= CHUNK_SIZE:
        return False
    header = zlib.crc32(block[128:CHUNK_HEADER_SIZE], zlib.crc32(block[:120]))
    return header == header_crc and zlib.crc32(block[CHUNK_HEADER_SIZE:records_end]) == records_crc


def locate(block: bytes, chunk: Chunk) -> dict[int, tuple[int, int]]:
    """Where each record lies in a chunk's bytes, from the record headers: id → (start, end).

    Walks from record to record by their sizes; past a damaged header it looks for the next
    record magic. `end` passes the end of `block` for the record a cut went through.
    """
    spans: dict[int, tuple[int, int]] = {}
    at = CHUNK_HEADER_SIZE
    while at + RECORD_HEADER_SIZE <= len(block):
        found = _record_at(block, at, chunk)
        if found is None:
            at = block.find(RECORD_MAGIC, at + 1)
            if at < 0:
                break
            continue
        record_id, size = found
        spans.setdefault(record_id, (at, at + size))
        at += size
    return spans


def _record_at(block: bytes, at: int, chunk: Chunk) -> tuple[int, int] | None:
    """(id, size) of the record whose header is at `at`, if the header holds together: a size
    that fits the chunk and is repeated at the record's end, and its magic or an id of the chunk."""
    size, record_id = struct.unpack_from("<IQ", block, at + 4)
    if size < RECORD_HEADER_SIZE + 4 or at + size > CHUNK_SIZE:
        return None
    if block[at : at + 4] != RECORD_MAGIC and not chunk.first_id <= record_id <= chunk.last_id:
        return None
    end = at + size
    if end <= len(block) and struct.unpack_from("<I", block, end - 4)[0] != size:
        return None
    return record_id, size


def read_chunk(path: Path, index: int) -> bytes:
    """The bytes of the chunk in slot `index`: fewer at the end of a cut file, none when the
    file cannot be read that far (the inventory has reported that already)."""
    try:
        with open_input(path) as handle:
            skip = FILE_HEADER_SIZE + index * CHUNK_SIZE
            if handle.seekable():
                handle.seek(skip)
            else:
                while skip > 0 and (step := len(handle.read(min(skip, CHUNK_SIZE)))):
                    skip -= step
            return handle.read(CHUNK_SIZE)
    except (OSError, EOFError):
        return b""
