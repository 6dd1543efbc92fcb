"""Tests for `auditlake.sources.timeparse`: every spelling of a time to aware UTC, or a reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from auditlake.errors import RecordError
from auditlake.sources.timeparse import EARLIEST, LATEST, parse_time, to_micros

T = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)  # 1709287200 seconds since the epoch


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-01T10:00:00Z", T),
        ("2024-03-01T10:00:00z", T),
        ("2024-03-01T10:00:00+00:00", T),
        ("2024-03-01T12:00:00+02:00", T),
        ("2024-03-01T04:30:00-05:30", T),
        ("2024-03-01T10:00:00.5Z", T + timedelta(milliseconds=500)),
        ("2024-03-01T10:00:00.123456789Z", T + timedelta(microseconds=123456)),  # ns truncated
        ("2024-03-01T11:00:00.1234567+01:00", T + timedelta(microseconds=123456)),
        ("2024-03-01T10:00Z", T),
        ("  2024-03-01T10:00:00Z\n", T),
        ("2024-03-01 10:00:00", T),  # no zone: taken as UTC
        ("2024-03-01 10:00:00.250", T + timedelta(milliseconds=250)),
        ("2024-03-01", T - timedelta(hours=10)),
    ],
)
def test_text_times(value: str, expected: datetime) -> None:
    moment = parse_time(value)

    assert moment == expected
    assert moment.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1709287200, T),  # seconds
        (1709287200000, T),  # milliseconds
        (1709287200000000, T),  # microseconds
        (1709287200.25, T + timedelta(milliseconds=250)),
        (1709287200123.0, T + timedelta(milliseconds=123)),
        ("1709287200", T),
        ("1709287200000", T),
        ("1709287200.5", T + timedelta(milliseconds=500)),
        (0, EARLIEST),
        (10**11, datetime(1973, 3, 3, 9, 46, 40, tzinfo=UTC)),  # the first value read as ms
    ],
)
def test_epoch_numbers(value: float | str, expected: datetime) -> None:
    moment = parse_time(value)

    assert moment == expected
    assert moment.tzinfo is not None and moment.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "missing timestamp"),
        ("", "missing timestamp"),
        (True, "timestamp is a boolean, not a time"),
        (False, "timestamp is a boolean, not a time"),
        ("redacted", "unparsable timestamp 'redacted'"),
        ("...", "unparsable timestamp '...'"),
        ("nan", "unparsable timestamp 'nan'"),
        ("2024-02-30T00:00:00Z", "unparsable timestamp"),
        ("2024-03-01T10:00:00+25:00", "unparsable timestamp"),
        (float("nan"), "timestamp nan is not a finite number"),
        (float("inf"), "timestamp inf is not a finite number"),
        (float("-inf"), "timestamp -inf is not a finite number"),
        ("9" * 400, "timestamp inf is not a finite number"),
        (-1, "timestamp -1 is outside 1970..2200"),
        ("-1", "timestamp '-1' is outside 1970..2200"),
        (99_999_999_999, "is outside 1970..2200"),  # seconds, in year 5138
        ("1969-12-31T23:59:59Z", "is outside 1970..2200"),
        ("2200-01-01T00:00:00Z", "is outside 1970..2200"),
        ("0001-01-01T00:00:00Z", "is outside 1970..2200"),
        ("9999-12-31T23:59:59-01:00", "is out of range"),
        ("0001-01-01T00:00:00+01:00", "is out of range"),
        (10**30, "is out of range"),
        (10**400, "is out of range"),
        (1e300, "is out of range"),
        ({"seconds": 1}, "timestamp has type dict, not a time"),
        ([1709287200], "timestamp has type list, not a time"),
        (b"2024-03-01", "timestamp has type bytes, not a time"),
    ],
)
def test_unreadable_times_raise_record_error(value: Any, reason: str) -> None:
    with pytest.raises(RecordError) as info:
        parse_time(value)

    assert reason in info.value.message


def test_the_error_names_the_field() -> None:
    with pytest.raises(RecordError, match=r"^missing eventTime$"):
        parse_time(None, what="eventTime")
    with pytest.raises(RecordError, match=r"^unparsable eventTime 'soon'$"):
        parse_time("soon", what="eventTime")


def test_range_ends() -> None:
    assert parse_time("1970-01-01T00:00:00Z") == EARLIEST
    last = parse_time("2199-12-31T23:59:59.999999Z")
    assert last == LATEST - timedelta(microseconds=1)


@pytest.mark.parametrize(
    "moment",
    [
        EARLIEST,
        T,
        T + timedelta(microseconds=123457),
        datetime(2199, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2024, 3, 1, 12, 0, 0, 1, tzinfo=UTC).astimezone(),  # any zone
    ],
)
def test_to_micros_round_trips(moment: datetime) -> None:
    micros = to_micros(moment)

    assert micros == round((moment - EARLIEST) / timedelta(microseconds=1))
    assert parse_time(micros) == moment  # an int this large is read as microseconds
    assert parse_time(moment.isoformat()) == moment


def test_to_micros_values() -> None:
    assert to_micros(EARLIEST) == 0
    assert to_micros(T) == 1_709_287_200_000_000
    assert to_micros(parse_time("2024-03-01T10:00:00.123456789Z")) == 1_709_287_200_123_456
    assert parse_time(1_709_287_200_123_456) == T + timedelta(microseconds=123456)
