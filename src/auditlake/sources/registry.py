"""The table of log sources, looked up by name or alias, and content-based detection.

Adding a source is one module in this package and one row here (STYLE.md §5.3).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from auditlake.errors import RecordError, UnknownSourceError
from auditlake.sources import (
    auditd,
    cloudtrail,
    gateway,
    gcp,
    github,
    kubernetes,
    okta,
    windows,
)
from auditlake.sources.base import Frame, Row, SourceSpec
from auditlake.sources.fields import JsonObject, load_json
from auditlake.sources.framing import is_blank, json_frames
from auditlake.sources.input_head import read_head

SAFE_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
"""What a source name may look like: it becomes a directory name in the lake."""


def _registry(specs: Iterable[SourceSpec]) -> dict[str, SourceSpec]:
    """Index specs by name and alias, refusing duplicates and unsafe names."""
    table: dict[str, SourceSpec] = {}
    for spec in specs:
        if not SAFE_NAME.fullmatch(spec.name) or ".." in spec.name:
            raise ValueError(f"source name {spec.name!r} is not a safe directory name")
        for key in (spec.name, *spec.aliases):
            if key in table:
                raise ValueError(f"source name or alias {key!r} is registered twice")
            table[key] = spec
    return table


SOURCES: tuple[SourceSpec, ...] = (
    cloudtrail.SPEC,
    okta.SPEC,
    github.SPEC,
    gcp.SPEC,
    kubernetes.SPEC,
    gateway.SPEC,
    windows.SPEC,
    auditd.SPEC,
)
"""Registered sources, in auto-detection order (most specific first)."""

_BY_NAME = _registry(SOURCES)


def names() -> list[str]:
    """Canonical names of all registered sources."""
    return [spec.name for spec in SOURCES]


def lookup(name: str) -> SourceSpec:
    """The source called `name` (or one of its aliases)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        known = ", ".join(sorted(_BY_NAME))
        raise UnknownSourceError(
            f"unknown source {name!r}", hint=f"use one of: {known}, or 'auto'"
        ) from None


def _no_frames(path: Path) -> Iterator[Frame]:
    return iter(())


def _no_row(frame: Frame) -> Row:
    raise RecordError("an input of no records has no record to read")


NO_RECORDS = SourceSpec(
    name="none",
    reads="inputs of no records: empty, or blanks only (compressed or not)",
    raw_format="none",
    frames=_no_frames,
    normalize=_no_row,
)
"""What reads an input of no records (a rotated log left empty, a compressed empty file):
nothing, and no error. It is not in `SOURCES`: no name looks it up."""


def detect_path(path: Path, *, sample: int = 5, first: Sequence[SourceSpec] = ()) -> SourceSpec:
    """Which source wrote `path`, judged from its content (not its name); `NO_RECORDS` when
    it holds nothing but blanks. The sources `first` (a generic mapping whose `[detect]`
    names the paths its records hold) are asked before the built-in ones."""
    head = read_head(path)
    if not head.strip() and is_blank(path):
        return NO_RECORDS
    for spec in SOURCES:
        if spec.sniff is not None and spec.sniff(head):
            return spec
    frames = _first_frames(path, sample)
    for raw in frames:
        found = _detect_record(raw, (*first, *SOURCES))
        if found is not None:
            return found
    seen = _described(frames[0] if frames else head)
    raise UnknownSourceError(
        f"no registered source recognises this input, {seen}",
        where=str(path),
        hint="name the source with --source, or map it with a generic JSON mapping",
    )


def _described(first: bytes, keys: int = 8) -> str:
    """What the input starts with, so that its owner sees why nothing took it: the first
    record's top-level keys, or its first bytes when it is not a JSON object."""
    try:
        document = json.loads(first)
    except ValueError:
        document = None
    if isinstance(document, dict) and document:
        names = list(document)
        more = f", and {len(names) - keys} more" if len(names) > keys else ""
        return f"whose first record's keys are {', '.join(names[:keys])}{more}"
    if not first.strip():
        return "which holds no record"
    return f"which starts with {first[:60]!r}"


def _detect_record(raw: bytes, sources: Sequence[SourceSpec] = SOURCES) -> SourceSpec | None:
    """The first of `sources` whose `detect` accepts this record, or None.

    A function of its own so the parsed document is released before the next record is
    parsed: the simdjson parser refuses to parse again while a document of it is alive.
    """
    try:
        doc = load_json(raw)
    except RecordError:  # a broken record just is not evidence
        return None
    if not isinstance(doc, JsonObject):
        return None
    return next((s for s in sources if s.detect is not None and s.detect(doc)), None)


def _first_frames(path: Path, count: int) -> list[bytes]:
    frames: list[bytes] = []
    for frame in json_frames(path):
        if frame.error is None:
            frames.append(frame.raw)
        if len(frames) >= count:
            break
    return frames
