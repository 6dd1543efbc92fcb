"""Compiled rules cached per rule file, keyed by the file's content.

Parsing a few thousand Sigma rules with pySigma takes seconds; a scheduled `detect` over an
unchanged rule set should start at once. Each file's compiled rules are stored under a key made
of the file's bytes and path, the placeholder values and the versions of auditlake, pySigma and
Polars, so a changed rule recompiles only its own file and an upgrade recompiles everything.

Rules with correlations are cached with the file that holds them; a correlation that refers to
a rule in another file makes the whole set compile together, uncached, as references must
resolve within one collection.

The cache lives in `$AUDITLAKE_CACHE_DIR`, else `$XDG_CACHE_HOME/auditlake`, else
`~/.cache/auditlake`, readable by the user only. Entries are pickles: the cache directory must
be as trusted as the code (it is the user's own).
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import importlib.metadata
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import yaml

from auditlake.detection.cache_files import collection_paused, load, store
from auditlake.detection.compile import (
    CompiledRule,
    CompileFailure,
    CorrelationMeta,
    RuleSet,
    compile_rules,
    rule_files,
)
from auditlake.detection.correlation_plan import CorrelationPlan
from auditlake.detection.logsources import route

CACHE_FORMAT = 3


@dataclasses.dataclass(frozen=True)
class _Entry:
    """One file's compiled output, routes left out (they are recomputed from the table)."""

    rules: tuple[CompiledRule, ...]
    correlations: tuple[CorrelationPlan, ...]
    meta: tuple[CorrelationMeta, ...]
    failures: tuple[CompileFailure, ...]


def default_cache_dir() -> Path:
    if os.environ.get("AUDITLAKE_CACHE_DIR"):
        return Path(os.environ["AUDITLAKE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "auditlake"


def compile_rules_cached(
    paths: Iterable[str | Path],
    *,
    placeholders: Mapping[str, Sequence[str]] | None = None,
    cache_dir: Path | None = None,
) -> RuleSet:
    """`compile_rules`, reusing each unchanged file's compiled rules from the cache."""
    files = sorted({p.resolve() for p in rule_files(paths)})
    if _crosses_files(files):
        return compile_rules(files, placeholders=placeholders)
    folder = (cache_dir or default_cache_dir()) / "rules"
    salt = _salt(placeholders)
    keys = {f: _key(f, salt) for f in files}
    entries: dict[Path, _Entry] = {}
    with collection_paused():
        for file, key in keys.items():
            entry = _load(folder / f"{key}.pickle")
            if entry is not None:
                entries[file] = entry
    missing = [f for f in files if f not in entries]
    if missing:
        fresh = _split(compile_rules(missing, placeholders=placeholders), missing)
        for file, entry in fresh.items():
            _store(folder / f"{keys[file]}.pickle", entry)
        entries.update(fresh)
    return _merge(_ready(entries[f], keys[f]) for f in files)


def frozen_for_the_run(ruleset: RuleSet) -> RuleSet:
    """`ruleset`, with every object alive now (the rules among them) kept out of the cycle
    collector's walks for the rest of the process (`gc.freeze`).

    A command's rules live as long as its process, and every full collection would walk their
    hundreds of thousands of objects again: 0.16 s of a 1M-event run of the Windows rules.
    Objects still die when their last reference goes; only cycles among them are left.
    """
    gc.freeze()
    return ruleset


def _salt(placeholders: Mapping[str, Sequence[str]] | None) -> bytes:
    versions = [importlib.metadata.version(p) for p in ("auditlake", "pysigma", "polars")]
    body = {"format": CACHE_FORMAT, "versions": versions, "placeholders": placeholders or {}}
    return json.dumps(body, sort_keys=True, default=list).encode()


def _key(file: Path, salt: bytes) -> str:
    digest = hashlib.sha256(salt)
    digest.update(str(file).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:32]


def _load(path: Path) -> _Entry | None:
    entry = load(path)  # absent or unreadable: recompile, never fail because of the cache
    return entry if isinstance(entry, _Entry) else None


def _ready(entry: _Entry, key: str) -> _Entry:
    """The entry's rules routed (routes are not stored: they come from the routing table) and
    named by their file's key and their place in it, so what is derived from a rule (its
    plan, `plancache`) may be cached under that name."""
    rules = tuple(
        dataclasses.replace(r, routes=route(*r.logsource), fingerprint=f"{key}:{n}") for n, r in enumerate(entry.rules)
    )
    return dataclasses.replace(entry, rules=rules)


def _store(path: Path, entry: _Entry) -> None:
    bare = dataclasses.replace(
        entry, rules=tuple(dataclasses.replace(r, routes=(), fingerprint=None) for r in entry.rules)
    )
    store(path, bare)


def _split(ruleset: RuleSet, files: list[Path]) -> dict[Path, _Entry]:
    """One entry per file, from a rule set compiled from all of them together."""
    rules: dict[Path | None, list[CompiledRule]] = {}
    metas: dict[Path | None, list[CorrelationMeta]] = {}
    failures: dict[Path | None, list[CompileFailure]] = {}
    for rule in ruleset.rules:
        rules.setdefault(_resolved(rule.path), []).append(rule)
    for meta in ruleset.correlation_meta.values():
        metas.setdefault(_resolved(meta.path), []).append(meta)
    for failure in ruleset.failures:
        failures.setdefault(_resolved(failure.path), []).append(failure)
    out: dict[Path, _Entry] = {}
    for file in files:
        keys = {m.key for m in metas.get(file, ())}
        out[file] = _Entry(
            rules=tuple(rules.get(file, ())),
            correlations=tuple(p for p in ruleset.correlations if p.key in keys),
            meta=tuple(metas.get(file, ())),
            failures=tuple(failures.get(file, ())),
        )
    return out


def _resolved(path: str | None) -> Path | None:
    return Path(path).resolve() if path else None


def _merge(entries: Iterable[_Entry]) -> RuleSet:
    rules: list[CompiledRule] = []
    correlations: list[CorrelationPlan] = []
    meta: dict[str, CorrelationMeta] = {}
    failures: list[CompileFailure] = []
    for entry in entries:
        rules += entry.rules
        correlations += entry.correlations
        meta.update({m.key: m for m in entry.meta})
        failures += entry.failures
    return RuleSet(tuple(rules), tuple(correlations), tuple(failures), {r.id: r for r in rules}, meta)


def _crosses_files(files: list[Path]) -> bool:
    """Whether some correlation refers to a rule defined in another file."""
    for file in files:
        text = file.read_text(encoding="utf-8", errors="replace")
        if "correlation:" not in text:
            continue
        try:
            documents = [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
        except yaml.YAMLError:
            continue
        defined = {str(d.get(k)) for d in documents for k in ("id", "name") if d.get(k)}
        for document in documents:
            section = document.get("correlation")
            if isinstance(section, dict) and any(str(r) not in defined for r in section.get("rules") or []):
                return True
    return False
