"""Correlations that name a rule the collection does not hold.

pySigma resolves a correlation's `rules:` when a collection is built and raises at the first
name it cannot find, so one mistyped name would stop every rule of a run from compiling. The
correlations found here are set aside with what they miss; the rest of the collection resolves
and compiles. A correlation naming one set aside misses it in turn.

>>> from sigma.collection import SigmaCollection
>>> docs = [
...     {"title": "t", "name": "seen", "logsource": {"product": "okta"},
...      "detection": {"sel": {"a": 1}, "condition": "sel"}},
...     {"title": "c1", "name": "c1", "correlation": {"type": "event_count",
...      "rules": ["seen", "unseen"], "timespan": "1h", "condition": {"gte": 2}}},
...     {"title": "c2", "correlation": {"type": "event_count", "rules": ["c1"],
...      "timespan": "1h", "condition": {"gte": 2}}},
... ]
>>> collection = SigmaCollection.from_dicts(docs, resolve_references=False)
>>> sorted((c.title, missing) for c, missing in unresolved(collection.rules))
[('c1', ('unseen',)), ('c2', ('c1',))]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import UUID

from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRuleBase


def unresolved(rules: Iterable[SigmaRuleBase]) -> list[tuple[SigmaCorrelationRule, tuple[str, ...]]]:
    """Each correlation among `rules` with a reference no rule answers (looked up as pySigma
    does: a reference that reads as a UUID is an id, any other a name), and those references,
    in the order the rules come."""
    rules = list(rules)
    dropped: dict[int, tuple[SigmaCorrelationRule, tuple[str, ...]]] = {}
    while True:
        kept = [rule for rule in rules if id(rule) not in dropped]
        ids = {rule.id for rule in kept if rule.id is not None}
        names = {rule.name for rule in kept if rule.name is not None}
        newly = {
            id(rule): (rule, missing)
            for rule in kept
            if isinstance(rule, SigmaCorrelationRule)
            and (missing := tuple(r for r in references(rule) if not _answered(r, ids, names)))
        }
        if not newly:
            return [dropped[id(rule)] for rule in rules if id(rule) in dropped]
        dropped.update(newly)


def without(collection: SigmaCollection, rules: Sequence[SigmaRuleBase]) -> SigmaCollection:
    """`collection` without `rules`, its references not resolved yet."""
    gone = {id(rule) for rule in rules}
    return SigmaCollection(
        init_rules=[r for r in [*collection.rules, *collection.filters] if id(r) not in gone],
        errors=list(collection.errors),
        resolve_references=False,
    )


def references(correlation: SigmaCorrelationRule) -> list[str]:
    """The rules a correlation names: its `rules:`, or those its extended condition names."""
    if correlation.rules is not None:
        return [reference.reference for reference in correlation.rules]
    named = getattr(correlation.condition, "get_referenced_rules", None)
    return list(named()) if named is not None else []


def _answered(reference: str, ids: set[UUID], names: set[str]) -> bool:
    try:
        return UUID(reference) in ids
    except ValueError:
        return reference in names
