"""Tests for `auditlake.sources.table`: rows to an Arrow table with the lake's column contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pyarrow as pa
import pytest

from auditlake.errors import SourceParseError
from auditlake.schema import CANONICAL, PARTITION_COLUMNS, STORED_COLUMNS, stored_schema
from auditlake.sources.table import rows_to_table

WHEN = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
WHEN_MICROS = 1_709_287_200_000_000


def _rows() -> list[dict[str, Any]]:
    return [
        {
            "time": WHEN,
            "class_uid": 3002,
            "activity_id": 1,
            "auth_mfa": True,
            "actor_roles": ["admin", "dev"],
            "event_hash": bytes(range(32)),
            "severity_id": 3,
            "zeta": "z",
            "alpha.beta": "ab",
        },
        {"time": WHEN, "actor_name": None, "alpha.beta": None, "Mixed": "m"},
        {"time": WHEN},
    ]


def test_canonical_columns_come_first_with_the_schema_types() -> None:
    table = rows_to_table(_rows())

    assert table.column_names[: len(STORED_COLUMNS)] == list(STORED_COLUMNS)
    for name in STORED_COLUMNS:
        assert table.schema.field(name).type == CANONICAL[name].type, name
    assert not set(PARTITION_COLUMNS) & set(table.column_names)
    assert table.num_rows == 3


def test_canonical_values_and_nulls() -> None:
    table = rows_to_table(_rows())

    assert table.column("class_uid").to_pylist() == [3002, None, None]
    assert table.column("auth_mfa").to_pylist() == [True, None, None]
    assert table.column("actor_roles").to_pylist() == [["admin", "dev"], None, None]
    assert table.column("event_hash").to_pylist() == [bytes(range(32)), None, None]
    assert table.column("actor_name").to_pylist() == [None, None, None]


def test_native_columns_follow_sorted_as_strings() -> None:
    table = rows_to_table(_rows())

    natives = table.column_names[len(STORED_COLUMNS) :]
    assert natives == ["Mixed", "alpha.beta", "zeta"]
    assert all(table.schema.field(n).type == pa.string() for n in natives)
    assert table.column("alpha.beta").to_pylist() == ["ab", None, None]
    assert table.column("Mixed").to_pylist() == [None, "m", None]


def test_times_in_other_zones_are_stored_as_the_same_utc_instant() -> None:
    plus2 = timezone(timedelta(hours=2))
    minus530 = timezone(-timedelta(hours=5, minutes=30))
    rows = [
        {"time": datetime(2024, 3, 1, 12, 0, tzinfo=plus2), "source_logged_at": WHEN},
        {"time": datetime(2024, 3, 1, 4, 30, 0, 7, tzinfo=minus530), "ingested_at": WHEN},
        {"time": WHEN},
    ]

    table = rows_to_table(rows)

    assert table.schema.field("time").type == pa.timestamp("us", tz="UTC")
    assert table.column("time").cast(pa.int64()).to_pylist() == [
        WHEN_MICROS, WHEN_MICROS + 7, WHEN_MICROS,
    ]
    assert table.column("source_logged_at").cast(pa.int64()).to_pylist() == [WHEN_MICROS, None, None]
    assert table.column("time").to_pylist()[1] == WHEN + timedelta(microseconds=7)


def test_native_types_override_the_string_default() -> None:
    rows = [{"time": WHEN, "EventID": 4624, "Channel": "Security"}, {"time": WHEN, "EventID": None}]

    table = rows_to_table(rows, {"EventID": pa.int64(), "absent": pa.int32()})

    assert table.schema.field("EventID").type == pa.int64()
    assert table.column("EventID").to_pylist() == [4624, None]
    assert table.schema.field("Channel").type == pa.string()
    assert "absent" not in table.column_names


def test_no_rows_give_the_stored_schema() -> None:
    table = rows_to_table([])

    assert table.num_rows == 0
    assert table.schema == stored_schema()


@pytest.mark.parametrize(
    ("column", "value", "shown"),
    [
        ("time", "2024-03-01T10:00:00Z", "str"),
        ("class_uid", "3002", "str"),
        ("class_uid", 2**40, "int 1099511627776"),
        ("severity_id", 300, "int 300"),
        ("event_hash", b"short", "bytes"),
        ("auth_mfa", "yes", "str 'yes'"),
        ("actor_roles", "admin", "str 'admin'"),  # not a list of characters
        ("src_ip_chain", ["10.0.0.1", 7], "list"),
        ("actor_name", {"first": "a"}, "dict"),
        ("target_id", 5, "int 5"),
    ],
)
def test_a_wrong_typed_canonical_value_names_the_column(column: str, value: Any, shown: str) -> None:
    rows = [{"time": WHEN}, {"time": WHEN, column: value}]

    with pytest.raises(SourceParseError) as info:
        rows_to_table(rows)

    message = info.value.message
    assert message.startswith(f"column {column!r} expects {CANONICAL[column].type}, got ")
    assert shown in message
    assert info.value.hint and "normalize()" in info.value.hint


def test_a_wrong_typed_native_value_names_the_column() -> None:
    rows = [{"time": WHEN, "eventName": "x"}, {"time": WHEN, "eventName": 5}]

    with pytest.raises(SourceParseError, match=r"column 'eventName' expects string, got int 5"):
        rows_to_table(rows)


def test_a_native_type_override_is_enforced() -> None:
    rows = [{"time": WHEN, "EventID": "4624"}]

    with pytest.raises(SourceParseError, match=r"column 'EventID' expects int64, got str '4624'"):
        rows_to_table(rows, {"EventID": pa.int64()})


def test_a_long_bad_value_is_shortened_in_the_message() -> None:
    with pytest.raises(SourceParseError) as info:
        rows_to_table([{"time": WHEN, "class_uid": "x" * 10_000}])

    assert len(info.value.message) < 200
