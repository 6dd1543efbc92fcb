"""Parallel conversion is a pure optimisation: same chunks, same order, same tables as inline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditlake.sources import cloudtrail, gateway
from auditlake.sources.base import Frame
from auditlake.sources.chunking import LineChunk
from auditlake.workers import ChunkPool


def _trail(i: int) -> bytes:
    return json.dumps({
        "eventID": f"e{i}", "eventTime": f"2024-03-01T10:{i % 60:02d}:00Z", "eventName": "GetObject",
        "eventSource": "s3.amazonaws.com", "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::1:user/u{i}"},
    }).encode()


def _gateway(i: int) -> bytes:
    """An access-gateway event: a source read record by record (no batch path)."""
    return json.dumps({
        "event": "session.start", "uid": f"u{i}", "time": f"2024-03-01T10:00:{i % 60:02d}Z",
        "user": f"user{i}", "login": "root", "server_hostname": "db1", "addr.remote": "203.0.113.7:5555",
    }).encode()


def _chunks() -> list[tuple[object, str, list[Frame]]]:
    assert gateway.SPEC.batch is None, "the per-record chunks need a source without a batch path"
    chunks = []
    for n in range(6):
        # per-record chunks back to back start the process pool; vectorized ones use threads
        spec, make = (gateway.SPEC, _gateway) if n in (0, 1, 3) else (cloudtrail.SPEC, _trail)
        frames = [Frame(make(n * 100 + i), f"c{n}:{i}") for i in range(50)]
        frames.append(Frame(b"{broken", f"c{n}:bad"))
        chunks.append((spec, f"c{n}", frames))
    return chunks


def _run(workers: int) -> list[tuple[str, object]]:
    out = []
    with ChunkPool(workers) as pool:
        for spec, name, frames in _chunks():
            out += pool.submit(spec, name, frames)
        out += pool.drain()
        if workers > 1:
            assert pool._processes is not None and pool._threads is not None
    return out


@pytest.mark.parametrize("workers", [2, 3])
def test_pool_equals_inline_conversion(workers: int) -> None:
    inline, parallel = _run(1), _run(workers)
    assert [name for name, _ in parallel] == [f"c{n}" for n in range(6)]
    for (name_a, a), (name_b, b) in zip(inline, parallel, strict=True):
        assert name_a == name_b
        assert a.table.equals(b.table)
        assert [r.reason for r in a.rejected] == [r.reason for r in b.rejected]
        assert a.records == b.records == 51


def test_single_per_record_chunk_never_starts_processes(tmp_path: Path) -> None:
    with ChunkPool(2) as pool:
        frames = [Frame(_gateway(1), "x:1")]
        assert list(pool.submit(gateway.SPEC, "x", frames)) == []
        done = list(pool.drain())
        assert pool._processes is None
    assert done[0][1].rows == 1


def test_line_chunks_go_to_worker_processes_whole() -> None:
    """A `LineChunk` of a per-record source is sent as it is; the worker makes its frames."""
    chunks = [LineChunk(f"k{n}", [_gateway(n * 10 + i) for i in range(10)] + [b"{broken"], list(range(1, 12))) for n in range(3)]

    def run(workers: int) -> list[tuple[str, object]]:
        with ChunkPool(workers) as pool:
            out = [done for chunk in chunks for done in pool.submit(gateway.SPEC, chunk.name, chunk)]
            return out + list(pool.drain())

    inline, parallel = run(1), run(2)
    for (name_a, a), (name_b, b) in zip(inline, parallel, strict=True):
        assert name_a == name_b
        assert a.table.equals(b.table)
        assert [(r.location, r.reason) for r in a.rejected] == [(r.location, r.reason) for r in b.rejected]
    assert [r.location for r in inline[0][1].rejected] == ["k0:11"]
