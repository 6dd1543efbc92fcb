"""When things happen: people's sessions by working hours, machines' jobs by the clock.

Each source module describes its background as two things: how often a person starts a session
in that system at peak hours (sessions then expand into a burst of events), and which machine
jobs run around the clock (a period, or a mean rate for random arrivals). This module turns those
into an ordered stream of `Plan`s for one UTC day, hour by hour, so memory stays bounded by an
hour's plans whatever the scale.

A plan is `(ts_us, render, arg)`: `render(ctx, ts_us, arg)` builds the native record when
the stream reaches it. Plans are sorted by time only (a stable sort), never by their functions.
"""

from __future__ import annotations

import bisect
import itertools
import math
import operator
import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from auditlake.synth.clock import DAY_US, HOUR_US, US, Stamps, human_weight, poisson
from auditlake.synth.ids import IdPool
from auditlake.synth.org import Org, Person

Render = Callable[["Ctx", int, Any], Any]
Plan = tuple[int, Render, Any]


@dataclass(slots=True)
class Ctx:
    """What renderers and planners share for one source-day (or one scenario).

    `rng` is seeded for exactly this source-day, so days and sources can be generated in any
    order and still be identical; `leavers` maps a login to the instant their account was
    deprovisioned, after which their background activity stops.
    """

    org: Org
    rng: random.Random
    stamps: Stamps = field(default_factory=Stamps)
    scale: float = 1.0
    day0_us: int = 0
    leavers: Mapping[str, int] = field(default_factory=dict)
    ids: IdPool = field(init=False)
    _memo: dict[str, Any] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.ids = IdPool(self.rng)

    def memo(self, key: str, build: Callable[[], Any]) -> Any:
        """`build()` once per context: what a planner derives from the org (cohorts, machine
        jobs) is the same every hour of the day."""
        try:
            return self._memo[key]
        except KeyError:
            value = self._memo[key] = build()
            return value

    def cohorts_of(self, system: str) -> tuple[Cohort, ...]:
        """Cohorts of the people who use `system` (everyone for `*`)."""
        people = self.org.people if system == "*" else self.org.users_of(system)
        return self.memo(f"cohorts:{system}", lambda: cohorts(people))

    def plan(self, ts: int, render: Render, arg: Any) -> Plan:
        return (ts, render, arg)


@dataclass(frozen=True, slots=True)
class Cohort:
    """People who share a local clock (office offset plus personal shift)."""

    offset_h: float
    people: tuple[Person, ...]
    cum_weights: tuple[float, ...]
    total: float


@dataclass(frozen=True, slots=True)
class Job:
    """A machine actor on a clock: every `period_s` seconds at scale 1 (divided by the scale).

    With `poisson=True` arrivals are random at the same mean rate (an API poller vs. a cron).
    With `expands=True`, `render(ctx, ts, actor)` is called at planning time and returns the
    plans of a whole run (a Terraform refresh, a cron job's login-exec-logout), not a record.
    """

    actor: Any
    period_s: float
    render: Render
    phase_s: float = 0.0
    jitter_s: float = 0.0
    poisson: bool = False
    expands: bool = False


def cohorts(people: Iterable[Person]) -> tuple[Cohort, ...]:
    """Group people by local clock, with cumulative activity weights for weighted picks."""
    groups: dict[float, list[Person]] = {}
    for person in people:
        groups.setdefault(person.office.utc_offset + person.shift_h, []).append(person)
    out = []
    for offset, members in sorted(groups.items()):
        cum = tuple(itertools.accumulate(p.activity for p in members))
        out.append(Cohort(offset, tuple(members), cum, cum[-1]))
    return tuple(out)


def session_starts(ctx: Ctx, groups: tuple[Cohort, ...], hour_us: int, rate: float) -> list[tuple[int, Person]]:
    """Sessions started in the hour at `hour_us`: `rate` per person (activity 1) at peak hours."""
    rng = ctx.rng
    out: list[tuple[int, Person]] = []
    for group in groups:
        local_us = hour_us + int(group.offset_h * HOUR_US)
        weekday = (local_us // DAY_US + 3) % 7
        local_hour = (local_us % DAY_US) / HOUR_US
        lam = group.total * rate * human_weight(local_hour, weekday) * ctx.scale
        count = poisson(rng, lam)
        if not count:
            continue
        for person in rng.choices(group.people, cum_weights=group.cum_weights, k=count):
            ts = hour_us + int(rng.random() * HOUR_US)
            gone = ctx.leavers.get(person.login)
            if gone is None or ts < gone:
                out.append((ts, person))
    return out


def job_ticks(ctx: Ctx, jobs: Iterable[Job], hour_us: int) -> Iterator[Plan]:
    """Plans for every tick of every job inside the hour at `hour_us`."""
    for job in jobs:
        for ts in _tick_times(ctx, job, hour_us):
            if job.expands:
                yield from job.render(ctx, ts, job.actor)
            else:
                yield ctx.plan(ts, job.render, job.actor)


def _tick_times(ctx: Ctx, job: Job, hour_us: int) -> Iterator[int]:
    rng = ctx.rng
    period = job.period_s / ctx.scale
    if job.poisson:
        for _ in range(poisson(rng, 3600.0 / period)):
            yield hour_us + int(rng.random() * HOUR_US)
        return
    end_us = hour_us + HOUR_US
    k = math.ceil((hour_us / US - job.phase_s) / period)
    t = job.phase_s + k * period
    while t * US < end_us:
        jitter = rng.random() * job.jitter_s if job.jitter_s else 0.0
        yield int((t + jitter) * US)
        t += period


def spread(ctx: Ctx, start: int, count: int, mean_gap_s: float) -> list[int]:
    """`count` instants from `start`, separated by exponential gaps: a human burst."""
    rng = ctx.rng
    out, t = [], start
    for _ in range(count):
        out.append(t)
        t += int(rng.expovariate(1.0 / mean_gap_s) * US) + 1
    return out


def burst_size(rng: random.Random, mean: float) -> int:
    """A geometric session length with the given mean (at least 1)."""
    return 1 + int(rng.expovariate(1.0 / max(mean - 1, 1e-9)))


def day_plans(ctx: Ctx, plan_hour: Callable[[Ctx, int], Iterable[Plan]]) -> Iterator[Plan]:
    """Every plan of the day in time order; plans spilling past midnight are dropped.

    Sessions started late in an hour run into the next one, so each hour's plans are sorted
    together with what spilled from the previous hour, and only those before the next hour are
    released (plans never start before their hour). Sorting a list by key runs in C, several
    times faster than a heap push and pop per plan.
    """
    pending: list[Plan] = []
    day_end = ctx.day0_us + DAY_US
    for hour in range(24):
        hour_us = ctx.day0_us + hour * HOUR_US
        batch = pending
        batch.extend(plan_hour(ctx, hour_us))
        batch.sort(key=_TS)
        cut = bisect.bisect_left(batch, hour_us + HOUR_US, key=_TS)
        yield from batch[:cut]
        pending = [p for p in batch[cut:] if p[0] < day_end]
    yield from pending


_TS = operator.itemgetter(0)
