"""Frames in chunks: the unit the ingest converts, and a compact form for JSON Lines.

Making one `Frame` per record, with its location text, costs more than a vectorized source
spends converting the record. A framing that can split its input in bulk (JSON Lines) hands
over `LineChunk`s instead: the records' bytes and line numbers as two lists, which read as a
sequence of frames, each made only if asked for. Vectorized paths take the bytes from
`raws` without making any frame at all.

>>> chunk = LineChunk("a.jsonl", [b'{"a": 1}', b'{"a": 2}'], [1, 3])
>>> chunk[1], len(chunk), raws(chunk)
(Frame(raw=b'{"a": 2}', location='a.jsonl:3', error=None), 2, [b'{"a": 1}', b'{"a": 2}'])
>>> [len(c) for c in frame_chunks(iter([Frame(b"{}", "x:1")] * 5), 2)]
[2, 2, 1]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol, overload, runtime_checkable

from auditlake.sources.base import Frame


class LineChunk(Sequence[Frame]):
    """Error-free frames of one input: `raws[i]` found on line `numbers[i]` of `name`."""

    __slots__ = ("name", "numbers", "raws")

    def __init__(self, name: str, raws: list[bytes], numbers: Sequence[int]) -> None:
        self.name = name
        self.raws = raws
        self.numbers = numbers

    def __len__(self) -> int:
        return len(self.raws)

    @overload
    def __getitem__(self, index: int) -> Frame: ...
    @overload
    def __getitem__(self, index: slice) -> LineChunk: ...
    def __getitem__(self, index: int | slice) -> Frame | LineChunk:
        if isinstance(index, slice):
            return LineChunk(self.name, self.raws[index], self.numbers[index])
        return Frame(self.raws[index], f"{self.name}:{self.numbers[index]}")

    def __iter__(self) -> Iterator[Frame]:
        name = self.name
        for raw, number in zip(self.raws, self.numbers, strict=True):
            yield Frame(raw, f"{name}:{number}")

    def __reduce__(self) -> tuple[type[LineChunk], tuple[str, list[bytes], Sequence[int]]]:
        return LineChunk, (self.name, self.raws, self.numbers)


def raws(frames: Sequence[Frame]) -> list[bytes]:
    """Every frame's bytes, without making the frames of a `LineChunk`."""
    if isinstance(frames, LineChunk):
        return frames.raws
    return [frame.raw for frame in frames]


@runtime_checkable
class BulkFrames(Protocol):
    """Frames of an input that can also be taken in chunks, split in bulk."""

    def chunks(self, size: int) -> Iterator[Sequence[Frame]]:
        """The same frames, in order, as chunks of exactly `size` (the last may be shorter)."""
        ...


def frame_chunks(frames: Iterable[Frame], size: int) -> Iterator[Sequence[Frame]]:
    """`frames` in chunks of `size`, in bulk when they offer it.

    Should reading fail midway with `OSError`, the frames read before it are still yielded,
    then the error is raised.
    """
    if isinstance(frames, BulkFrames):
        yield from frames.chunks(size)
        return
    chunk: list[Frame] = []
    try:
        for frame in frames:
            chunk.append(frame)
            if len(chunk) >= size:
                yield chunk
                chunk = []
    except OSError:
        if chunk:
            yield chunk
        raise
    if chunk:
        yield chunk
