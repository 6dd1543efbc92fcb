"""Frames in chunks: the unit the ingest converts, and a compact form for JSON Lines.

Making one `Frame` per record, with its location text, costs more than a vectorized source
spends converting the record. A framing that can split its input in bulk (JSON Lines) hands
over `LineChunk`s instead: the records' bytes and line numbers as two lists, which read as a
sequence of frames, each made only if asked for. Vectorized paths take the bytes from
`raws` without making any frame at all.

>>> chunk = LineChunk("a.jsonl", [b'{"a": 1}', b'{"a": 2}'], [1, 3])
>>> chunk[1], len(chunk), raws(chunk)
(Frame(raw=b'{"a": 2}', location='a.jsonl:3', error=None, tenant=None), 2, [b'{"a": 1}', b'{"a": 2}'])
>>> [len(c) for c in frame_chunks(iter([Frame(b"{}", "x:1")] * 5), 2)]
[2, 2, 1]
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol, overload, runtime_checkable

from auditlake.sources.base import Frame


class JoinedFrames(list[Frame]):
    """The frames of several small inputs in one chunk (`.evtx` files, pretty-printed JSON),
    each located in its own input: `<input>:<where>`, as every source's frames are."""


class LineChunk(Sequence[Frame]):
    """Error-free frames of one input: `raws[i]` found on line `numbers[i]` of `name`; or of
    several (`join`), the records of each following those of the one before."""

    __slots__ = ("name", "numbers", "parts", "raws")

    def __init__(
        self,
        name: str,
        raws: list[bytes],
        numbers: Sequence[int],
        parts: tuple[tuple[int, str], ...] = (),
    ) -> None:
        self.name = name
        self.raws = raws
        self.numbers = numbers
        self.parts = parts
        """(first record, input name) of each input after the first, in order."""

    @staticmethod
    def join(chunks: Sequence[LineChunk]) -> LineChunk:
        """One chunk of the records of `chunks`, each frame still located in its own input."""
        raws: list[bytes] = []
        numbers: list[int] = []
        parts: list[tuple[int, str]] = []
        for chunk in chunks:
            parts += [(len(raws) + first, name) for first, name in chunk.inputs()]
            raws += chunk.raws
            numbers += chunk.numbers
        first = parts.pop(0)[1] if parts else ""
        return LineChunk(first, raws, numbers, tuple(parts))

    def inputs(self) -> list[tuple[int, str]]:
        """(first record, input name) of each input of the chunk."""
        return [(0, self.name), *self.parts]

    def _name(self, index: int) -> str:
        if not self.parts:
            return self.name
        firsts = [first for first, _ in self.parts]
        part = bisect_right(firsts, index % len(self.raws))
        return self.name if part == 0 else self.parts[part - 1][1]

    def __len__(self) -> int:
        return len(self.raws)

    @overload
    def __getitem__(self, index: int) -> Frame: ...
    @overload
    def __getitem__(self, index: slice) -> LineChunk: ...
    def __getitem__(self, index: int | slice) -> Frame | LineChunk:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self.raws))
            if step != 1:
                raise ValueError("a LineChunk is sliced in one piece")
            name = self._name(start) if start < len(self.raws) else self.name
            later = tuple((first - start, n) for first, n in self.parts if start < first < stop)
            return LineChunk(name, self.raws[start:stop], self.numbers[start:stop], later)
        return Frame(self.raws[index], f"{self._name(index)}:{self.numbers[index]}")

    def __iter__(self) -> Iterator[Frame]:
        bounds = [*self.inputs(), (len(self.raws), "")]
        for (first, name), (end, _) in itertools.pairwise(bounds):
            for raw, number in zip(self.raws[first:end], self.numbers[first:end], strict=True):
                yield Frame(raw, f"{name}:{number}")

    def __reduce__(self) -> tuple[type[LineChunk], tuple[object, ...]]:
        return LineChunk, (self.name, self.raws, self.numbers, self.parts)


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
