"""Write a synthetic organisation's audit logs, with injected attacks and their ground truth.

`generate()` writes, for each source and each UTC day, one native file
(`out_dir/<source>/<YYYY-MM-DD>.<ext>`), then `ground_truth.jsonl`, `ground_truth.parquet` and
`manifest.json`. It streams: one source-day at a time, an hour of plans at a time, so memory
does not grow with `days` or `scale`. Every random choice comes from RNGs seeded by
(seed, source, day) or (seed, scenario), so the same arguments write byte-identical files.

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> summary = generate(out, days=1, scale=0.01, sources=["aws.cloudtrail"])
>>> sorted(p.name for p in (out / "aws.cloudtrail").iterdir())
['2026-03-02.json.gz']
>>> summary.total_events > 0
True
"""

from __future__ import annotations

import heapq
import operator
import random
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

from auditlake.synth.activity import Ctx, day_plans
from auditlake.synth.clock import DAY_US, US, Stamps, day_start_us
from auditlake.synth.files import day_path, write_records
from auditlake.synth.org import Org, build_org
from auditlake.synth.registry import GENERATORS
from auditlake.synth.scenarios import schedule
from auditlake.synth.sourcegen import Encoder, SourceGen
from auditlake.synth.truth import Tag, TruthLog, write_truth

DEFAULT_START = date(2026, 3, 2)
"""A Monday, so a default week has five working days and a weekend."""

Item = tuple[int, Any, Tag | None]
JOSTLE_US = 60 * US


@dataclass(frozen=True, slots=True)
class SynthSummary:
    """What was written: events per source and day, the scenarios, and how long it took."""

    out_dir: Path
    seed: int
    start: date
    days: int
    scale: float
    counts: Mapping[str, Mapping[str, int]]
    scenarios: tuple[str, ...]
    truth_steps: int
    elapsed_s: float = field(compare=False)

    @property
    def total_events(self) -> int:
        return sum(n for per_day in self.counts.values() for n in per_day.values())

    @property
    def events_per_s(self) -> float:
        return self.total_events / self.elapsed_s if self.elapsed_s else 0.0


def generate(
    out_dir: Path,
    *,
    seed: int = 7,
    start: date = DEFAULT_START,
    days: int = 7,
    scale: float = 1.0,
    sources: Iterable[str] | None = None,
    workers: int = 1,
) -> SynthSummary:
    """Generate `days` days from `start` at `scale` times the default volume into `out_dir`.

    `sources` limits generation to some lake sources (all by default); ground truth then lists
    only the steps of those sources. With `workers` > 1, sources are generated in parallel
    processes; the files are byte-identical to a single-process run.
    """
    if days < 1 or scale <= 0 or workers < 1:
        raise ValueError("days and workers must be >= 1 and scale > 0")
    began = time.perf_counter()
    names = [gen.name for gen in _selected(sources)]
    out_dir.mkdir(parents=True, exist_ok=True)
    params = Params(out_dir, seed, start, days, scale)
    job = _prepare(params)
    if workers > 1 and len(names) > 1:
        with ProcessPoolExecutor(min(workers, len(names))) as pool:
            results = list(pool.map(_source_in_worker, [params] * len(names), names))
    else:
        results = [_write_source(job, GENERATORS[name]) for name in names]
    files = [stat for stats, _ in results for stat in stats]
    for _, notes in results:
        job.truth.add_notes(notes)
    rows = [row for row in job.truth.rows() if row["source"] in names]
    write_truth(out_dir, rows)
    counts: dict[str, dict[str, int]] = {}
    for stat in files:
        counts.setdefault(stat.source, {})[stat.day] = stat.events
    summary = SynthSummary(out_dir, seed, start, days, scale, counts, tuple(r.scenario_id for r in job.truth.runs),
                           len(rows), time.perf_counter() - began)
    _write_manifest(summary, files, job.truth)
    return summary


@dataclass(frozen=True, slots=True)
class Params:
    """What `generate` was asked for; enough for a worker process to rebuild everything else."""

    out_dir: Path
    seed: int
    start: date
    days: int
    scale: float


@dataclass(frozen=True, slots=True)
class _Job:
    """One generation: its parameters, the organisation, and the scheduled attacks."""

    params: Params
    org: Org
    truth: TruthLog
    leavers: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class FileStat:
    """One written file: its source and day, path relative to the output, events, raw size."""

    source: str
    day: str
    path: str
    events: int
    uncompressed_bytes: int


def _prepare(params: Params) -> _Job:
    """The organisation and the attack schedule: pure functions of the seed and the period."""
    org = build_org(params.seed)
    start_us = day_start_us(params.start)
    runs = schedule(org, params.seed, start_us, start_us + params.days * DAY_US)
    leavers = {login: ts for run in runs for login, ts in run.outcome.leavers}
    units = {name: gen.time_unit_us for name, gen in GENERATORS.items()}
    return _Job(params, org, TruthLog(runs, units), leavers)


def _source_in_worker(params: Params, name: str) -> tuple[list[FileStat], dict[Tag, list[str]]]:
    """One source in a worker process, which rebuilds the (deterministic) org and schedule."""
    return _write_source(_prepare(params), GENERATORS[name])


def _write_source(job: _Job, gen: SourceGen) -> tuple[list[FileStat], dict[Tag, list[str]]]:
    """Every day of one source, in order; the encoder carries record numbering across days.

    Returns the files written and the native ids of this source's scenario records.
    """
    params = job.params
    encode = gen.encoder(job.org)
    _remove_stale(params, gen)
    stats = []
    for offset in range(params.days):
        day = params.start + timedelta(days=offset)
        rng = random.Random(f"{params.seed}:{gen.name}:{day}")
        ctx = Ctx(job.org, rng, Stamps(), params.scale, day_start_us(day), job.leavers)
        path = day_path(params.out_dir, gen.name, day.isoformat(), gen.file_format)
        events, size = write_records(path, gen.file_format, _encoded(gen, ctx, job.truth, encode))
        stats.append(FileStat(gen.name, day.isoformat(), path.relative_to(params.out_dir).as_posix(), events, size))
    return stats, job.truth.notes(gen.name)


def _remove_stale(params: Params, gen: SourceGen) -> None:
    """Delete this source's day files from an earlier run that this run will not rewrite, so a
    directory never mixes two generations (other files are left alone)."""
    folder = params.out_dir / gen.name
    if not folder.is_dir():
        return
    keep = {day_path(params.out_dir, gen.name, (params.start + timedelta(days=i)).isoformat(), gen.file_format).name
            for i in range(params.days)}
    suffix = day_path(params.out_dir, gen.name, "x", gen.file_format).name[1:]
    for path in folder.iterdir():
        if path.name.endswith(suffix) and _DAY_FILE.fullmatch(path.name[: -len(suffix)]) and path.name not in keep:
            path.unlink()


_DAY_FILE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _selected(sources: Iterable[str] | None) -> list[SourceGen]:
    if sources is None:
        return list(GENERATORS.values())
    wanted = list(sources)
    unknown = [s for s in wanted if s not in GENERATORS]
    if unknown:
        raise ValueError(f"unknown synthetic source(s) {unknown}; known: {sorted(GENERATORS)}")
    return [GENERATORS[s] for s in wanted]


def _encoded(gen: SourceGen, ctx: Ctx, truth: TruthLog, encode: Encoder) -> Iterator[bytes]:
    """The source-day's records in file order, encoded; scenario ids are noted on the way.

    A plan may render to a list of records written together (a process launch is a Sysmon 1
    and a Security 4688 at the same instant).
    """
    injected = truth.items(gen.name, ctx.day0_us, ctx.day0_us + DAY_US)
    plans = day_plans(ctx, gen.plan_hour)
    if not injected and not gen.disorder:
        for ts, render, arg in plans:
            rendered = render(ctx, ts, arg)
            if type(rendered) is list:
                yield from map(encode, rendered)
            else:
                yield encode(rendered)
        return
    stream: Iterator[Item] = ((ts, render(ctx, ts, arg), None) for ts, render, arg in plans)
    if injected:
        stream = heapq.merge(stream, injected, key=_TS)
    if gen.disorder:
        stream = _jostle(stream, random.Random(f"jostle:{ctx.day0_us}:{gen.name}"), gen.disorder)
    native_id = gen.native_id
    for _, rendered, tag in stream:
        for record in rendered if type(rendered) is list else (rendered,):
            data = encode(record)
            if tag is not None:
                truth.note(tag, native_id(record))
            yield data


_TS = operator.itemgetter(0)


def _jostle(items: Iterator[Item], rng: random.Random, share: float) -> Iterator[Item]:
    """Swap a `share` of neighbouring records less than a minute apart: the small disorder of
    real deliveries, never a jump across a quiet stretch."""
    held: Item | None = None
    for item in items:
        if held is not None:
            if item[0] - held[0] <= JOSTLE_US:
                yield item
                yield held
                held = None
                continue
            yield held
            held = None
        if rng.random() < share:
            held = item
        else:
            yield item
    if held is not None:
        yield held


def _write_manifest(summary: SynthSummary, files: list[FileStat], truth: TruthLog) -> None:
    """`manifest.json`: parameters, files with their event counts, and the scenarios."""
    sources: dict[str, dict[str, Any]] = {}
    for stat in files:
        entry = sources.setdefault(stat.source, {"events": 0, "files": {}})
        entry["events"] += stat.events
        entry["files"][stat.day] = {"path": stat.path, "events": stat.events, "uncompressed_bytes": stat.uncompressed_bytes}
    manifest = {
        "generator": "auditlake.synth",
        "seed": summary.seed,
        "start": summary.start.isoformat(),
        "days": summary.days,
        "scale": summary.scale,
        "total_events": summary.total_events,
        "sources": sources,
        "scenarios": [
            {"id": run.scenario_id, "key": run.scenario.key, "name": run.scenario.name,
             "start": Stamps().iso(min(ts for step in run.outcome.steps for ts in truth.times(step)), 6),
             "steps": len(run.outcome.steps)}
            for run in truth.runs
        ],
    }
    path = summary.out_dir / "manifest.json"
    path.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
