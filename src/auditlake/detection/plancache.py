"""Rule plans kept on disk between runs, so a scheduled run of an unchanged rule set does not
plan it again.

Planning (`prefilter.plan_rules`) finds each rule's necessary atom sets on a source's columns:
0.2-0.3 s for the 2,800 SigmaHQ Windows rules, paid by every `detect` process before its first
batch, where loading the plans takes 10 ms. A plan follows from the rules, the source, the
frame's schema and the code that plans, so the entry's key is made of the rules' fingerprints
(their rule file's cache key and place, see `CompiledRule.fingerprint`), the source, the schema
and a digest of this package's source files. Rules compiled without the rule cache have no
fingerprint and are planned every time.

Entries live beside the compiled rules (`rulecache.default_cache_dir() / "plans"`), readable
by the user only; the newest `KEPT` are kept. An unreadable entry is planned again, never an
error.

What a run's first large batch judged is kept there too (`load_judged`, `store_judged`): the
sets its sample showed worth searching and whether each searched column's values repeat. They
follow from the data as well, but only steer the search (whatever they say, a rule's candidates
hold all its matches), and a source's batches hold the same kinds of values run after run: a
scheduled run starts with the last run's judgements instead of sampling again (0.2-0.4 s of a
Windows run).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

import polars as pl

from auditlake.detection.atoms import Atoms, Columns
from auditlake.detection.cache_files import collection_paused, load, store
from auditlake.detection.compile import CompiledRule
from auditlake.detection.prefilter import RulePlan, plan_rules
from auditlake.detection.rulecache import default_cache_dir

PLAN_FORMAT = 1
KEPT = 64
"""Plan entries kept: one per rule set, source and schema seen recently."""

Stored = list[tuple[tuple[Atoms, ...] | None, Atoms | None]]
"""Each rule's `RulePlan.sets` and `scope`, in the order of the rules."""


def planned(
    rules: Sequence[CompiledRule], columns: Columns, source: str, *, cache_dir: Path | None = None
) -> list[RulePlan]:
    """`plan_rules(rules, columns, source)`, from the cache when an earlier run stored it."""
    key = plan_key(rules, columns, source)
    if key is None:
        return plan_rules(rules, columns, source)
    folder = (cache_dir or default_cache_dir()) / "plans"
    path = folder / f"{key}.pickle"
    stored = _load(path, len(rules))
    if stored is not None:
        return [RulePlan(rule, sets, scope) for rule, (sets, scope) in zip(rules, stored, strict=True)]
    plans = plan_rules(rules, columns, source)
    store(path, [(plan.sets, plan.scope) for plan in plans])
    _prune(folder)
    return plans


def plan_key(rules: Sequence[CompiledRule], columns: Columns, source: str) -> str | None:
    """The cache key of these rules' plans on `columns`; None when a rule has no fingerprint."""
    fingerprints = [rule.fingerprint or "" for rule in rules]
    if not all(fingerprints):
        return None
    digest = hashlib.sha256(f"{PLAN_FORMAT}\0{_code_digest()}\0{pl.__version__}\0{source}\0".encode())
    digest.update("\0".join(f"{name}:{dtype}" for name, dtype in columns.schema.items()).encode() + b"\1")
    options = (columns.opaque, columns.json_arrays, columns.json_objects)
    digest.update(f"{columns.json_fallback}\0{[sorted(o) for o in options]}\1".encode())
    arrays = None if columns.array_columns is None else sorted(columns.array_columns)
    flags = (columns.keyword_columns, columns.native_arrays, columns.raw_is_json, arrays)
    digest.update(f"{flags}\1".encode())
    digest.update("\0".join(fingerprints).encode())
    return digest.hexdigest()[:32]


@cache
def _code_digest() -> str:
    """A digest of the detection package's source files: what plans rules, and how."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.iterdir()):
        if path.suffix in (".py", ".toml"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


JUDGED_FORMAT = 1
Judged = tuple[pl.DataFrame, dict[str, bool]]
"""The atoms worth searching (`prefilter.searched_atoms`) and whether each column's values
repeat (`prefilter.candidate_pairs`' `repeating`)."""


def judged_key(
    rules: Sequence[CompiledRule], columns: Columns, source: str, late: Iterable[str]
) -> str | None:
    """The key of the judgements on these rules' plans, as `late` columns spare them (see
    `evaluate`); None when a rule has no fingerprint."""
    key = plan_key(rules, columns, source)
    if key is None:
        return None
    return hashlib.sha256(f"{JUDGED_FORMAT}\0{key}\0{sorted(late)}".encode()).hexdigest()[:32]


def load_judged(key: str, *, cache_dir: Path | None = None) -> Judged | None:
    """The judgements an earlier run stored under `key`, if readable."""
    path = (cache_dir or default_cache_dir()) / "plans" / f"{key}.judged.pickle"
    stored = load(path)
    if not (isinstance(stored, tuple) and len(stored) == 2):
        return None
    atoms, repeating = stored
    if not isinstance(atoms, pl.DataFrame) or not isinstance(repeating, dict):
        return None
    with contextlib.suppress(OSError):
        os.utime(path)
    return atoms, repeating


def store_judged(key: str, judged: Judged, *, cache_dir: Path | None = None) -> None:
    folder = (cache_dir or default_cache_dir()) / "plans"
    store(folder / f"{key}.judged.pickle", judged)
    _prune(folder)


def _load(path: Path, count: int) -> Stored | None:
    with collection_paused():  # thousands of small sets, none of them garbage
        stored = load(path)
    if not isinstance(stored, list) or len(stored) != count:
        return None
    with contextlib.suppress(OSError):  # a cache that cannot be written is still read
        os.utime(path)  # recently used: kept by `_prune`
    return stored


def _prune(folder: Path) -> None:
    """Keep the `KEPT` most recently used entries."""
    try:
        entries = sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in entries[KEPT:]:
            stale.unlink(missing_ok=True)
    except OSError:
        pass
