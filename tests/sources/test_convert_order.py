"""A chunk converted partly by a source's batch path and partly record by record keeps the
order of its records, so an input in time order reaches the lake writer in time order."""

from __future__ import annotations

import json

from auditlake.sources import cloudtrail
from auditlake.sources.base import Frame
from auditlake.sources.convert import convert_chunk


def _record(uid: str, time: str, **fields: object) -> bytes:
    return json.dumps({"eventID": uid, "eventName": "GetObject", "eventTime": time, **fields}).encode()


def test_rows_made_one_by_one_keep_their_place_among_the_batch_rows() -> None:
    frames = [
        Frame(_record("a", "2024-05-01T09:00:00Z"), "f:1"),
        Frame(_record("b", "2024-05-01T11:00:00+02:00"), "f:2"),  # an offset: left to `normalize`
        Frame(_record("c", "2024-05-01T09:30:00Z"), "f:3"),
        Frame(b'{"eventName": ', "f:4"),  # refused by both: no row, no place taken
        Frame(_record("d", "2024-05-01T12:00:00+02:00"), "f:5"),
        Frame(_record("e", "2024-05-01T10:30:00Z"), "f:6"),
    ]
    assert cloudtrail.SPEC.batch is not None and cloudtrail.SPEC.batch(frames).declined[:2] == [1, 3]

    chunk = convert_chunk(cloudtrail.SPEC, frames)

    assert chunk.table is not None
    assert chunk.table.column("event_uid").to_pylist() == ["a", "b", "c", "d", "e"]
    assert [r.location for r in chunk.rejected] == ["f:4"]
