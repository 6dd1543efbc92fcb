"""A scan's range bounds as an analyst writes them: datetimes, dates, ISO 8601 text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from tests.lake.helpers import events

from auditlake.lake import LakePaths, LakeWriter, scan_events


@pytest.fixture
def lake(tmp_path):
    lake = LakePaths.at(tmp_path)
    with LakeWriter(lake) as writer:
        writer.commit({"aws.cloudtrail": events(
            ("a", "2024-02-29T23:30:00"), ("b", "2024-03-01T00:00:00"), ("c", "2024-03-01T22:30:00"),
            ("d", "2024-03-02T00:00:00"),
        )})
    return lake


def _uids(lake, **bounds) -> list[str]:
    return sorted(scan_events(lake, **bounds).collect()["event_uid"].to_list())


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC)),
        (datetime(2024, 3, 1), datetime(2024, 3, 2)),  # naive: UTC
        (date(2024, 3, 1), date(2024, 3, 2)),
        ("2024-03-01", "2024-03-02"),
        ("2024-03-01T00:00:00Z", "2024-03-02T00:00:00Z"),
        ("2024-03-01T02:00:00+02:00", "2024-03-01T19:00:00-05:00"),
    ],
)
def test_every_spelling_of_one_day_reads_that_day(lake, start, end) -> None:
    assert _uids(lake, start=start, end=end) == ["b", "c"]


def test_an_offset_moves_the_bound(lake) -> None:
    two_hours_ahead = timezone(timedelta(hours=2))
    # 01:00 two hours east of UTC is 23:00 UTC the day before: its events at 23:30 are in
    assert _uids(lake, start=datetime(2024, 3, 1, 1, 0, tzinfo=two_hours_ahead)) == ["a", "b", "c", "d"]
    assert _uids(lake, end="2024-03-01T01:00:00+01:00") == ["a"]  # midnight UTC, exclusive


def test_text_that_is_no_time_says_what_is_expected(lake) -> None:
    with pytest.raises(ValueError, match=r"not ISO 8601: expected e\.g\. 2024-03-01"):
        scan_events(lake, start="yesterday")
    with pytest.raises(TypeError, match="datetime, a date or ISO 8601 text"):
        scan_events(lake, start=1709251200)  # type: ignore[arg-type]
