"""Writing a lake's data files: side by side as one by one, and each column encoded as its values
call for."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auditlake.lake import parquet
from auditlake.lake.parquet import write_parquet, write_parquet_files


def _tables() -> list[pa.Table]:
    return [
        pa.table({"raw": [f"{k}-{i}" for i in range(1000 * (k + 1))], "n": list(range(1000 * (k + 1)))})
        for k in range(3)
    ]


def test_files_written_side_by_side_equal_files_written_one_by_one(tmp_path: Path) -> None:
    tables = _tables()
    together = write_parquet_files([(t, tmp_path / "a" / f"{k}.parquet") for k, t in enumerate(tables)])
    alone = [write_parquet(t, tmp_path / "b" / f"{k}.parquet") for k, t in enumerate(tables)]
    assert together == alone  # same bytes, digests in the order given
    for k, table in enumerate(tables):
        path = tmp_path / "a" / f"{k}.parquet"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == together[k]
        assert pq.read_table(path).equals(table)


def test_a_failed_write_is_raised_after_the_others_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[Path] = []
    real = parquet.write_parquet

    def flaky(table: pa.Table, path: Path) -> str:
        if path.name == "1.parquet":
            raise OSError("disk full")
        digest = real(table, path)
        written.append(path)
        return digest

    monkeypatch.setattr(parquet, "write_parquet", flaky)
    with pytest.raises(OSError, match="disk full"):
        write_parquet_files([(t, tmp_path / f"{k}.parquet") for k, t in enumerate(_tables())])
    assert sorted(p.name for p in written) == ["0.parquet", "2.parquet"]


def test_dictionaries_only_where_values_may_repeat(tmp_path: Path) -> None:
    """Repeating text gets a dictionary; times and the columns unique per row are written plain."""
    count = 5000
    times = pa.array([1_700_000_000_000_000 + 1000 * (i // 3) for i in range(count)], pa.timestamp("us", tz="UTC"))
    table = pa.table({
        "action": [("read", "write", "delete")[i % 3] for i in range(count)],
        "time": times,
        "event_uid": [f"e{i}" for i in range(count)],
        "raw": [f'{{"n":{i}}}' for i in range(count)],
    })
    write_parquet(table, tmp_path / "f.parquet")
    columns = pq.read_metadata(tmp_path / "f.parquet").row_group(0)
    encodings = {columns.column(i).path_in_schema: columns.column(i).encodings for i in range(columns.num_columns)}
    assert "RLE_DICTIONARY" in encodings["action"]
    for name in ("time", "event_uid", "raw"):
        assert "RLE_DICTIONARY" not in encodings[name], name
    assert pq.read_table(tmp_path / "f.parquet").equals(table)


def test_ids_written_with_their_lengths_apart_read_back_the_same(tmp_path: Path) -> None:
    table = pa.table({
        "event_uid": [f"{i:08x}-0000-4000-8000-{i:012x}" if i % 7 else None for i in range(3000)],
        "raw": [f'{{"n":{i}}}' for i in range(3000)],
    })
    write_parquet(table, tmp_path / "f.parquet", separate_lengths=["event_uid", "absent"])
    columns = pq.read_metadata(tmp_path / "f.parquet").row_group(0)
    encodings = {columns.column(i).path_in_schema: columns.column(i).encodings for i in range(columns.num_columns)}
    assert parquet.SEPARATE_LENGTHS in encodings["event_uid"]
    assert parquet.SEPARATE_LENGTHS not in encodings["raw"]
    assert pq.read_table(tmp_path / "f.parquet").equals(table)


def test_only_columns_without_a_dictionary_take_separate_lengths(tmp_path: Path) -> None:
    table = pa.table({"action": ["read", "write"]})
    with pytest.raises(ValueError, match="without a dictionary"):
        write_parquet(table, tmp_path / "f.parquet", separate_lengths=["action"])
