"""Activity shape: people work in their working hours on weekdays; machines run all the time."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from tests.synth.helpers import id_and_time, records, source_files

from auditlake.synth import build_org, generate
from auditlake.synth.activity import Ctx, Job, cohorts, day_plans, job_ticks, session_starts
from auditlake.synth.clock import DAY_US, HOUR_US, day_start_us


@pytest.fixture(scope="module")
def okta_week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("okta-week")
    generate(out, days=7, scale=0.5, sources=["okta.system"])
    return out


def _human_hours(out: Path, office: str) -> Counter[tuple[int, int]]:
    """(weekday, UTC hour) of human Okta events by people of one office."""
    org = build_org(7)
    emails = {p.email for p in org.people if p.office.code == office and p.shift_h == 0}
    hours: Counter[tuple[int, int]] = Counter()
    for path in source_files(out, "okta.system"):
        for rec in records(path):
            if rec["actor"]["alternateId"] in emails:
                moment = id_and_time("okta.system", rec)[1]
                hours[(moment.weekday(), moment.hour)] += 1
    return hours


def test_people_work_days_not_nights(okta_week: Path) -> None:
    hours = _human_hours(okta_week, "lon")  # London: UTC+0, so UTC hours are local hours
    day = sum(hours[(d, h)] for d in range(5) for h in range(9, 17))
    night = sum(hours[(d, h)] for d in range(5) for h in range(0, 6))
    assert day / (5 * 8) > 10 * night / (5 * 6)  # hourly rate by day at least 10 times the night's


def test_lunch_dip_and_quiet_weekends(okta_week: Path) -> None:
    hours = _human_hours(okta_week, "lon")
    lunch = sum(hours[(d, 12)] for d in range(5))
    late_morning = sum(hours[(d, h)] for d in range(5) for h in (10, 11)) / 2
    assert lunch < 0.75 * late_morning
    weekday = sum(n for (d, _), n in hours.items() if d < 5) / 5
    weekend = sum(n for (d, _), n in hours.items() if d >= 5) / 2
    assert weekend < 0.2 * weekday


def test_offices_follow_their_own_clock(okta_week: Path) -> None:
    """Bengaluru (UTC+5:30) peaks hours before San Francisco (UTC-8) in UTC."""
    blr, sfo = _human_hours(okta_week, "blr"), _human_hours(okta_week, "sfo")
    peak = {name: max(range(24), key=lambda h, c=c: sum(c[(d, h)] for d in range(5))) for name, c in (("blr", blr), ("sfo", sfo))}
    assert peak["blr"] < 12 < peak["sfo"]


def test_machine_jobs_run_every_hour_of_every_day() -> None:
    ctx = Ctx(build_org(7), random.Random(1), scale=1.0, day0_us=day_start_us(date(2026, 3, 7)))
    job = Job("bot", 600, lambda c, t, a: a)
    per_hour = [sum(1 for _ in job_ticks(ctx, [job], ctx.day0_us + h * HOUR_US)) for h in range(24)]
    assert per_hour == [6] * 24


def test_day_plans_are_ordered_and_inside_the_day() -> None:
    org = build_org(7)
    ctx = Ctx(org, random.Random(3), scale=2.0, day0_us=day_start_us(date(2026, 3, 3)))
    groups = cohorts(org.people)

    def plan_hour(c: Ctx, hour_us: int) -> list[tuple[int, int, object, object]]:
        out = []
        for ts, person in session_starts(c, groups, hour_us, 0.5):
            out += [c.plan(ts + k * 20 * 60 * 1_000_000, lambda *_: None, person) for k in range(5)]
        return out

    times = [p[0] for p in day_plans(ctx, plan_hour)]
    assert times == sorted(times) and len(times) > 100
    assert ctx.day0_us <= times[0] and times[-1] < ctx.day0_us + DAY_US


def test_leavers_stop_starting_sessions() -> None:
    org = build_org(7)
    groups = cohorts(org.people)
    day0 = day_start_us(date(2026, 3, 3))
    leavers = {p.login: day0 for p in org.people}
    ctx = Ctx(org, random.Random(5), scale=3.0, day0_us=day0, leavers=leavers)
    assert session_starts(ctx, groups, day0 + 10 * HOUR_US, 1.0) == []
