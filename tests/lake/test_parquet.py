"""Writing several data files of one commit side by side gives what writing them one by one does."""

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
