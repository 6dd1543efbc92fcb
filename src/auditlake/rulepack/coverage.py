"""`rules coverage`: which ATT&CK techniques and compliance controls the rules cover, per source.

Coverage counts the rule under test of each file, the rule that raises alerts: a correlation
counts, the detection rules that only feed it do not. A rule's sources are the lake sources
its logsource routes to (for a correlation, those of the rules it references). Every lake
source of the layout gets a column, covered or not: a known gap beats an unknown one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from auditlake.detection.compile import RuleSet, compile_rules
from auditlake.errors import AuditlakeError
from auditlake.rulepack.documents import Target, read_documents, target_of
from auditlake.rulepack.judge import find_plan, find_rule
from auditlake.rulepack.layout import SOURCE_FOLDERS, Pack, RuleFile
from auditlake.rulepack.tags import FRAMEWORKS, Control, read_tags


@dataclass(frozen=True, slots=True)
class CoveredRule:
    """What one rule covers, and where it looks."""

    path: str
    id: str | None
    title: str
    kind: str
    level: str | None
    sources: tuple[str, ...]
    techniques: tuple[str, ...]
    tactics: tuple[str, ...]
    controls: tuple[Control, ...]


@dataclass(frozen=True, slots=True)
class Row:
    """One technique or control: the rules that cover it and how many per source."""

    key: str
    """Technique id (`t1562.008`) or control tag (`compliance.pci_dss.10.2.1.6`)."""
    label: str
    """Tactics of a technique, framework name of a control."""
    rules: tuple[CoveredRule, ...]
    per_source: Mapping[str, int]


@dataclass(frozen=True)
class Coverage:
    rules: tuple[CoveredRule, ...]
    sources: tuple[str, ...]
    techniques: tuple[Row, ...]
    controls: tuple[Row, ...]
    skipped: tuple[str, ...] = ()
    """Rule files left out (unreadable or not compiling), with the reason."""


def coverage(pack: Pack) -> Coverage:
    """The coverage matrix of every rule file in `pack`."""
    covered: list[CoveredRule] = []
    skipped: list[str] = []
    for rule in pack.rules:
        try:
            covered.append(covered_rule(rule))
        except AuditlakeError as exc:  # named by its file, whatever the error names
            skipped.append(str(exc) if exc.where else f"{rule.path}: {exc}")
    sources = tuple(
        dict.fromkeys([*SOURCE_FOLDERS.values(), *sorted(s for r in covered for s in r.sources)])
    )
    # a technique's row lists the tactics its rules give it; a control's row its framework
    techniques = _rows(covered, sources, lambda r: [(t, r.tactics) for t in r.techniques])
    controls = _rows(
        covered, sources, lambda r: [(c.tag, [FRAMEWORKS[c.framework].name]) for c in r.controls]
    )
    return Coverage(tuple(covered), sources, techniques, controls, tuple(skipped))


def covered_rule(rule: RuleFile) -> CoveredRule:
    """Tags and sources of the rule under test of `rule`."""
    docs = read_documents(rule.path)
    target = target_of(docs)
    document = docs.documents[-1]
    tags = read_tags(str(t) for t in document.get("tags") or [])
    ruleset = compile_rules([rule.path])
    return CoveredRule(
        str(rule.path),
        target.id,
        target.title or target.label,
        target.kind,
        str(document["level"]) if document.get("level") else None,
        _sources(ruleset, target.kind, target),
        tags.techniques,
        tags.tactics,
        tags.controls,
    )


def _sources(ruleset: RuleSet, kind: str, target: Target) -> tuple[str, ...]:
    if kind == "detection":
        return tuple(sorted(find_rule(ruleset, target).sources))
    plan = find_plan(ruleset, target)
    feeding = [r for r in ruleset.rules if r.id in plan.rules or r.name in plan.rules]
    return tuple(sorted({s for r in feeding for s in r.sources}))


Keys = Callable[[CoveredRule], Iterable[tuple[str, Iterable[str]]]]
"""A rule's row keys, each with the label parts it adds to its row."""


def _rows(rules: Iterable[CoveredRule], sources: tuple[str, ...], keys: Keys) -> tuple[Row, ...]:
    grouped: dict[str, tuple[set[str], list[CoveredRule]]] = {}
    for rule in rules:
        for key, parts in keys(rule):
            labels, members = grouped.setdefault(key, (set(), []))
            labels.update(parts)
            members.append(rule)
    rows = []
    for key in sorted(grouped):
        labels, members = grouped[key]
        per_source = {s: sum(s in r.sources for r in members) for s in sources}
        rows.append(Row(key, ", ".join(sorted(labels)), tuple(members), per_source))
    return tuple(rows)


def to_json(matrix: Coverage) -> dict[str, Any]:
    """The matrix as plain JSON types."""

    def row(r: Row) -> dict[str, Any]:
        return {
            "key": r.key,
            "label": r.label,
            "rules": [{"id": x.id, "title": x.title, "path": x.path} for x in r.rules],
            "sources": {s: n for s, n in r.per_source.items() if n},
        }

    return {
        "sources": list(matrix.sources),
        "techniques": [
            {**row(r), "technique": r.key, "tactics": r.label.split(", ") if r.label else []}
            for r in matrix.techniques
        ],
        "controls": [
            {**row(r), "framework": r.key.split(".")[1], "control": r.key.split(".", 2)[2]}
            for r in matrix.controls
        ],
        "rules": [
            {
                "path": r.path,
                "id": r.id,
                "title": r.title,
                "kind": r.kind,
                "level": r.level,
                "sources": list(r.sources),
                "techniques": list(r.techniques),
                "tactics": list(r.tactics),
                "controls": [c.tag for c in r.controls],
            }
            for r in matrix.rules
        ],
        "uncovered_sources": [
            s for s in matrix.sources if not any(s in r.sources for r in matrix.rules)
        ],
        "skipped": list(matrix.skipped),
    }
