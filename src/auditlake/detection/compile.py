"""Compile a Sigma rule collection once; bind it to any partition schema afterwards.

`compile_rules(paths)` parses rules with pySigma, applies the `auditlake` pipeline, converts
every condition to the rule IR and routes each rule to the lake sources of its logsource. A
rule that cannot be compiled becomes a `CompileFailure` with a reason code from
`FAILURE_REASONS`; it never becomes a rule that quietly matches nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.conversion.state import ConversionState
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.rule import SigmaRule

from auditlake.detection import ir
from auditlake.detection.backend import PolarsBackend, RuleRejected
from auditlake.detection.correlation_plan import CorrelationPlan
from auditlake.detection.correlation_reader import pysigma_compatible
from auditlake.detection.logsources import Alternative, route
from auditlake.detection.pipeline import auditlake_pipeline
from auditlake.detection.references import unresolved, without
from auditlake.detection.routing import routed_condition
from auditlake.errors import AuditlakeError
from auditlake.folder_walk import files_under
from auditlake.tables import unique_table

FAILURE_REASONS: Mapping[str, str] = dict(
    unique_table(
        [
            ("pysigma", "pySigma itself rejects the rule (invalid Sigma)"),
            ("placeholder", "an |expand placeholder has no configured values"),
            ("regex", "a regex uses a construct Polars' regex engine cannot run"),
            ("query-expression", "a query expression is text for another query language"),
            ("value", "a value type this backend does not know"),
            ("correlation", "a correlation this engine cannot honour (see the message)"),
            ("logsource", "text output under the auditlake pipeline: no lake source for the logsource"),
        ],
        what="compile failure reasons",
    )
)


@dataclass(frozen=True)
class CompiledRule:
    """A detection rule ready to bind: its metadata, IR and lake routes."""

    id: str
    name: str | None
    title: str
    level: str | None
    status: str | None
    author: str | None
    tags: tuple[str, ...]
    logsource: tuple[str | None, str | None, str | None]
    description: str | None
    falsepositives: tuple[str, ...]
    references: tuple[str, ...]
    path: str | None
    condition: ir.Node
    """OR of the rule's conditions, in Sigma field names (after the pipeline)."""
    selections: Mapping[str, ir.Node]
    """Each named detection on its own, for `explain`."""
    routes: tuple[Alternative, ...]
    output: bool = True
    """False for rules only referenced by correlations (`generate: false`)."""
    fingerprint: str | None = field(default=None, compare=False)
    """Names the rule's content for caches of what is derived from it (`plancache`): its rule
    file's cache key and its place in the file, set by `rulecache`; None when compiled
    uncached (nothing derived from it is then kept)."""
    _routed: dict[str | None, RoutedCondition] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """`routed` per source, made once: every batch of every run asks again."""

    @cached_property
    def sources(self) -> frozenset[str]:
        """The lake sources the rule routes to (asked of every rule for every batch)."""
        return frozenset(alt.source for alt in self.routes)

    def routed(self, source: str | None = None) -> ir.Node:
        """The condition restricted to the rule's lake sources (or to `source` only)."""
        return self._routed_condition(source).node

    def reads(self, source: str | None = None) -> tuple[frozenset[str], bool]:
        """The field names `routed(source)` reads, and whether it holds a keyword (which
        reads the whole record)."""
        routed = self._routed_condition(source)
        return routed.fields, routed.has_keyword

    def _routed_condition(self, source: str | None) -> RoutedCondition:
        found = self._routed.get(source)
        if found is None:
            node = routed_condition(self.condition, self.routes, source)
            has_keyword = any(isinstance(n, ir.Keyword) for n in ir.walk(node))
            found = self._routed[source] = RoutedCondition(node, ir.fields(node), has_keyword)
        return found


@dataclass(frozen=True)
class RoutedCondition:
    """A rule's condition routed to a source, with what `CompiledRule.reads` tells of it."""

    node: ir.Node
    fields: frozenset[str]
    has_keyword: bool


@dataclass(frozen=True)
class CorrelationMeta:
    """What alerts say about a correlation rule (the plan itself holds no metadata)."""

    key: str
    id: str
    title: str
    level: str | None
    tags: tuple[str, ...]
    author: str | None
    path: str | None


@dataclass(frozen=True)
class CompileFailure:
    """A rule that did not compile, and why."""

    path: str | None
    rule_id: str | None
    title: str | None
    reason: str
    message: str


@dataclass(frozen=True)
class RuleSet:
    """Compiled detection rules, correlation plans and the rules that failed."""

    rules: tuple[CompiledRule, ...]
    correlations: tuple[CorrelationPlan, ...] = ()
    failures: tuple[CompileFailure, ...] = ()
    by_id: Mapping[str, CompiledRule] = field(default_factory=dict)
    correlation_meta: Mapping[str, CorrelationMeta] = field(default_factory=dict)
    """Plan key → metadata."""

    def for_source(self, source: str) -> tuple[CompiledRule, ...]:
        return tuple(rule for rule in self.rules if source in rule.sources)


def compile_rules(
    paths: Iterable[str | Path], *, placeholders: Mapping[str, Sequence[str]] | None = None
) -> RuleSet:
    """Compile every rule file under `paths` (files or directories of `.yml`)."""
    files = sorted(rule_files(paths))
    plain = [f for f in files if not _has_correlation(f)]
    unreadable: list[CompileFailure] = []
    collections = [_load_files(plain, unreadable)]
    raw_correlations: dict[str, Mapping[str, Any]] = {}
    for path in sorted(set(files) - set(plain)):
        collections.append(_load_with_correlations(path, raw_correlations, unreadable))
    # Resolved in `compile_collection`, which sets aside correlations naming a missing rule.
    collection = SigmaCollection.merge(collections, resolve_references=False)
    ruleset = compile_collection(
        collection, placeholders=placeholders, raw_correlations=raw_correlations
    )
    return replace(ruleset, failures=(*unreadable, *ruleset.failures)) if unreadable else ruleset


def compile_collection(
    collection: SigmaCollection,
    *,
    placeholders: Mapping[str, Sequence[str]] | None = None,
    raw_correlations: Mapping[str, Mapping[str, Any]] | None = None,
) -> RuleSet:
    """Compile a pySigma collection; references between rules are resolved first.

    `raw_correlations` (rule id or name → the YAML document) gives correlations their exact
    thresholds and ranges, which pySigma alone truncates or rejects. A correlation naming a
    rule the collection lacks fails on its own (reason `reference`); the others compile.
    """
    backend = PolarsBackend(auditlake_pipeline(placeholders), collect_errors=True)
    backend.raw_correlations = dict(raw_correlations or {})
    backend.init_processing_pipeline("ir")
    dangling = unresolved(collection.rules)
    set_aside = {str(key) for rule, _ in dangling for key in (rule.id, rule.name) if key}
    failures = [_failure(rule, "reference", _missing_message(missing, set_aside)) for rule, missing in dangling]
    if dangling:
        collection = without(collection, [rule for rule, _ in dangling])
    try:
        collection.resolve_rule_references()
    except SigmaError as error:
        return RuleSet((), (), (*failures, CompileFailure(None, None, None, "pysigma", str(error))))
    rules: list[CompiledRule] = []
    correlations: list[CorrelationPlan] = []
    meta: dict[str, CorrelationMeta] = {}
    for rule in collection.rules:
        if rule.errors:
            failures.append(_failure(rule, "pysigma", "; ".join(str(e) for e in rule.errors)))
            continue
        if isinstance(rule, SigmaCorrelationRule):
            plan = _compile_correlation(backend, rule, failures)
            if plan is not None:
                correlations.append(plan)
                meta[plan.key] = _correlation_meta(plan, rule)
            continue
        compiled = _compile_rule(backend, rule, failures)
        if compiled is not None:
            rules.append(compiled)
    return RuleSet(
        tuple(rules), tuple(correlations), tuple(failures), {r.id: r for r in rules}, meta
    )


def _compile_rule(
    backend: PolarsBackend, rule: SigmaRule, failures: list[CompileFailure]
) -> CompiledRule | None:
    errors_before = len(backend.errors)
    backend.convert_rule(rule, "ir")
    if len(backend.errors) > errors_before:
        _, error = backend.errors[-1]
        failures.append(_failure(rule, getattr(error, "reason", "pysigma"), str(error)))
        return None
    conditions = [q for q in rule.get_conversion_result() if isinstance(q, ir.NODE_TYPES)]
    logsource = rule.logsource
    return CompiledRule(
        id=str(rule.id) if rule.id else str(rule.title),
        name=rule.name,
        title=rule.title,
        level=rule.level.name.lower() if rule.level else None,
        status=rule.status.name.lower() if rule.status else None,
        author=rule.author,
        tags=tuple(str(t) for t in rule.tags),
        logsource=(logsource.product, logsource.category, logsource.service),
        description=rule.description,
        falsepositives=tuple(rule.falsepositives or ()),
        references=tuple(rule.references or ()),
        path=str(rule.source.path) if rule.source and rule.source.path else None,
        condition=ir.any_of(conditions),
        selections=_selections(backend, rule),
        routes=route(logsource.product, logsource.category, logsource.service),
        output=bool(rule._output),
    )


def _selections(backend: PolarsBackend, rule: SigmaRule) -> Mapping[str, ir.Node]:
    """Each named detection converted alone, so `explain` can say which ones matched."""
    out: dict[str, ir.Node] = {}
    state = ConversionState()
    for name, detection in rule.detection.detections.items():
        try:
            tree = detection.postprocess(rule.detection)
            out[name] = backend.convert_condition(tree, state)
        except (SigmaError, RuleRejected):  # pragma: no cover - the whole rule compiled
            continue
    return out


def _compile_correlation(
    backend: PolarsBackend, rule: SigmaCorrelationRule, failures: list[CompileFailure]
) -> CorrelationPlan | None:
    try:
        plans = backend.convert_correlation_rule(rule, "ir")
    except (SigmaError, AuditlakeError, ValueError) as error:
        failures.append(_failure(rule, getattr(error, "reason", "correlation"), str(error)))
        return None
    return plans[0] if plans else None


def _correlation_meta(plan: CorrelationPlan, rule: SigmaCorrelationRule) -> CorrelationMeta:
    return CorrelationMeta(
        key=plan.key,
        id=str(rule.id) if rule.id else plan.key,
        title=rule.title,
        level=rule.level.name.lower() if rule.level else None,
        tags=tuple(str(t) for t in rule.tags),
        author=rule.author,
        path=str(rule.source.path) if rule.source and rule.source.path else None,
    )


def _failure(rule: SigmaRule | SigmaCorrelationRule, reason: str, message: str) -> CompileFailure:
    path = str(rule.source.path) if rule.source and rule.source.path else None
    return CompileFailure(path, str(rule.id) if rule.id else None, rule.title, reason, message)


def _missing_message(missing: Sequence[str], set_aside: set[str]) -> str:
    """What a correlation misses: rules no file given defines, or correlations that failed
    for the same reason before it."""
    absent = [name for name in missing if name not in set_aside]
    failed = [name for name in missing if name in set_aside]
    parts = []
    if absent:
        parts.append(
            f"the correlation refers to {', '.join(repr(n) for n in absent)}, which no rule given "
            "defines (by id or name): pass the file that defines it too, or correct the reference"
        )
    if failed:
        parts.append(
            f"the correlation reads {', '.join(repr(n) for n in failed)}, a correlation that does "
            "not compile either (see its own failure)"
        )
    return "; ".join(parts)


def _load_files(files: Sequence[Path], unreadable: list[CompileFailure]) -> SigmaCollection:
    """Rule files without correlations as one collection; a file pySigma cannot load at all
    goes to `unreadable` (pySigma lets some YAML errors escape its error collection)."""
    collection, errors = _loaded_apart(
        list(files), lambda some: SigmaCollection.load_ruleset([str(f) for f in some], collect_errors=True)
    )
    unreadable += [_unreadable_file(files[index], error) for index, error in errors]
    return collection


def _loaded_apart(
    items: list[Any], load: Callable[[list[Any]], SigmaCollection]
) -> tuple[SigmaCollection, list[tuple[int, Exception]]]:
    """`load(items)`; when it raises, each item loaded alone: the collection of those that
    load (references unresolved) and, by index, the error of each that does not. pySigma and
    PyYAML raise many kinds of error on malformed input, rather than collecting them."""
    try:
        return load(items), []
    except Exception:  # one of the items; find which below
        pass
    parts: list[SigmaCollection] = []
    errors: list[tuple[int, Exception]] = []
    for index, item in enumerate(items):
        try:
            parts.append(load([item]))
        except Exception as error:  # as above
            errors.append((index, error))
    return SigmaCollection.merge(parts, resolve_references=False), errors


def _unreadable_file(path: Path, error: Exception) -> CompileFailure:
    if isinstance(error, yaml.YAMLError):
        return CompileFailure(str(path), None, None, "yaml", f"the file is not valid YAML: {error}")
    return CompileFailure(str(path), None, None, "pysigma", f"pySigma cannot load the file ({type(error).__name__}: {error})")


def _has_correlation(path: Path) -> bool:
    return "correlation:" in path.read_text(encoding="utf-8", errors="replace")


def _load_with_correlations(
    path: Path, raw_correlations: dict[str, Mapping[str, Any]], unreadable: list[CompileFailure]
) -> SigmaCollection:
    """Load a file holding correlation rules, keeping each correlation's own YAML; the
    documents pySigma cannot read at all go to `unreadable`.

    pySigma rejects two-sided ranges and truncates float thresholds, so each correlation
    document is narrowed for pySigma and its original kept for the plan.
    """
    try:
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except yaml.YAMLError as error:
        unreadable.append(_unreadable_file(path, error))
        return SigmaCollection.merge([], resolve_references=False)
    narrowed: list[Any] = []
    for document in documents:
        if isinstance(document, dict) and isinstance(document.get("correlation"), dict):
            for key in (document.get("id"), document.get("name")):
                if key:
                    raw_correlations[str(key)] = document
            narrowed.append(pysigma_compatible(document))
        else:
            narrowed.append(document)
    collection, errors = load_documents(narrowed, path)
    for index, problem in errors:
        document = documents[index] if isinstance(documents[index], dict) else {}
        rule_id, title = document.get("id"), document.get("title")
        unreadable.append(CompileFailure(
            str(path), str(rule_id) if rule_id else None, str(title) if title else None, "pysigma",
            _unreadable_message(problem),
        ))
    return collection


def load_documents(documents: Sequence[Any], path: Path) -> tuple[SigmaCollection, list[tuple[int, Exception]]]:
    """One file's documents as pySigma rules, references left unresolved (a correlation may
    name another file's rule), and the documents pySigma cannot read at all, by index.

    pySigma keeps most errors on the rule they concern, but raises on some malformed
    correlations (a `correlation:` that is not a mapping, `rules:` not a list, a value count
    without its field); one such document would stop every rule of the run from loading.
    """
    source = SigmaRuleLocation(path)
    return _loaded_apart(
        list(documents),
        lambda some: SigmaCollection.from_dicts(some, collect_errors=True, source=source, resolve_references=False),
    )


def _unreadable_message(error: Exception) -> str:
    """Why pySigma could not read a document, and what to check."""
    return (
        f"pySigma cannot read this document ({type(error).__name__}: {error}): check its "
        "`correlation:` against the Sigma correlation specification (type, rules as a list, "
        "timespan, group-by, and a condition with its field where the type needs one)"
    )


RULE_SUFFIXES = (".yml", ".yaml")


def rule_files(paths: Iterable[str | Path]) -> Iterable[Path]:
    """The `.yml`/`.yaml` files under `paths` (files are taken as given), found as
    `folder_walk.walk` finds them: a linked folder (a SigmaHQ checkout linked into `rules/`) is
    read, a hidden one (`.github/`) is not."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from (p for p in files_under(path) if p.suffix in RULE_SUFFIXES and p.is_file())
        else:
            yield path
