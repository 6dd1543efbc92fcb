"""`rules check`: everything about a rule pack that can be judged without running a case.

Every problem is collected (never the first only) as an `Issue` that names the file, the line
when known, what is wrong and what to do about it. The checks, in the order they run per file:

1. layout: the file sits in a known source folder (a built-in one, or one holding the mapping
   of an application's log, which must compile: `mapped_folder`), is named
   `<product>_<what>.yml`, and has a case folder with at least one `match_` and one `miss_`
   case and nothing else;
2. documents: the file is YAML, each document is a rule, the last is the rule under test;
3. required fields and tags (`metadata`, `tags`, `attack`), on the YAML as written;
4. pySigma: parse errors such as unknown modifiers, then its validators (`sigma_checks`),
   offline;
5. compilation with auditlake's compiler, and routing: the rule reads the lake source of its
   folder;
6. the cases, read as `rules test` reads them (`caselake`), without judging them: a case that
   does not ingest cleanly (empty, a line its source cannot read, repeated event ids) is an
   error at its file and line; a field the rule reads that no event of its cases holds
   (`case_fields`, most often a misspelt name) is a warning.

Across the pack: ids and names are unique, and no case folder lacks its rule.
Nothing here touches the network (see `attack` and `sigma_checks`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sigma.collection import SigmaCollection

from auditlake.detection.compile import RuleSet, compile_rules
from auditlake.detection.logsources import unsupported_reason
from auditlake.errors import AuditlakeError
from auditlake.rulepack.attack import AttackCatalog
from auditlake.rulepack.case_fields import UnseenField, unseen_fields
from auditlake.rulepack.caselake import NO_EVENTS, CaseEvents, load_case
from auditlake.rulepack.documents import (
    RuleDocuments,
    kind_of,
    normal_id,
    read_documents,
    target_of,
)
from auditlake.rulepack.layout import SOURCE_FOLDERS, Pack, RuleFile
from auditlake.rulepack.mapped_folder import MAPPING_FILE, mapping_file, stray_mapping
from auditlake.rulepack.metadata import field_problems
from auditlake.rulepack.sigma_checks import Severity, load_collection, parse_problems, validate
from auditlake.rulepack.tags import read_tags
from auditlake.sources.base import SourceSpec
from auditlake.sources.generic import MappingError, load_mapping

RULE_STEM = re.compile(r"[a-z0-9]+(_[a-z0-9]+)+")


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem: where (file and line), what, and how to fix it."""

    path: str
    line: int | None
    message: str
    hint: str
    check: str
    severity: Severity = "error"

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path

    def __str__(self) -> str:
        return f"{self.where}: {self.message} ({self.hint})"


@dataclass(frozen=True)
class CheckReport:
    """The issues of a pack, and how much was looked at."""

    root: Path
    files: int
    documents: int
    issues: tuple[Issue, ...]

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity == "error")

    @property
    def warnings(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity == "warning")

    @property
    def ok(self) -> bool:
        """No errors (warnings are suggestions)."""
        return not self.errors


def check_pack(pack: Pack, *, attack: AttackCatalog | None = None) -> CheckReport:
    """Check every rule file of `pack`; see the module docstring for what is checked."""
    catalog = attack or AttackCatalog.builtin()
    issues: list[Issue] = [
        Issue(
            str(o),
            None,
            "case folder without a rule file",
            f"add {o.name}.yml beside it, or rename the folder to its rule",
            "layout",
        )
        for o in pack.orphans
    ]
    loaded: list[tuple[RuleDocuments, SigmaCollection]] = []
    documents = 0
    folders: dict[Path, SourceFolder] = {}
    for rule in pack.rules:
        folder = folders.get(rule.path.parent)
        if folder is None:  # a folder's own issues are said once, not once per rule in it
            folder = folders[rule.path.parent] = source_folder(rule.path.parent)
            issues += folder.issues
        issues += layout_issues(rule)
        # a broken mapping reads no case: the mapping's issue says why, once
        cases = [load_case(case, folder.mapping) for case in rule.cases] if folder.readable else []
        issues += case_issues(cases)
        try:
            docs = read_documents(rule.path)
        except AuditlakeError as exc:
            issues.append(
                Issue(exc.where or str(rule.path), None, exc.message, exc.hint or "", "yaml")
            )
            continue
        documents += len(docs.documents)
        collection = load_collection(docs)
        if collection is not None:
            loaded.append((docs, collection))
        issues += _prefix_issues(rule, docs)
        issues += _document_issues(docs, catalog)
        parsed = parse_problems(docs, collection) if collection is not None else []
        issues += [Issue(p.path, p.line, p.message, p.hint, "pysigma") for p in parsed]
        ruleset = compile_rules([rule.path])
        issues += _compile_issues(docs, ruleset, {p.message for p in parsed})
        issues += _routing_issues(rule, docs, ruleset, folder.source)
        issues += _field_issues(docs, ruleset, cases)
    issues += [
        Issue(p.path, p.line, p.message, p.hint, "validator", p.severity) for p in validate(loaded)
    ]
    issues += _unique_issues([docs for docs, _ in loaded])
    return CheckReport(pack.root, len(pack.rules), documents, tuple(_sorted(issues)))


@dataclass(frozen=True)
class SourceFolder:
    """What the folder a rule sits in says: the lake source its rules read, how its cases are
    read, and what is wrong with the folder itself."""

    source: str | None
    """The lake source of the folder; None when it is no source folder or its mapping is broken."""
    mapping: SourceSpec | None = None
    """The mapping its cases are read with; None: told by their content."""
    issues: tuple[Issue, ...] = ()
    readable: bool = True
    """False when a broken mapping keeps its cases from being read."""


def source_folder(folder: Path) -> SourceFolder:
    """The source folder `folder` is: built-in (`SOURCE_FOLDERS`), an application's (it holds
    `mapping.toml`, which must compile), or none (reported per rule by `layout_issues`)."""
    if folder.name in SOURCE_FOLDERS:
        stray = stray_mapping(folder)
        issues = () if stray is None else (_stray_mapping_issue(stray, folder.name),)
        return SourceFolder(SOURCE_FOLDERS[folder.name], None, issues)
    path = mapping_file(folder)
    if path is None:
        return SourceFolder(None)
    try:
        mapping = load_mapping(path)
    except MappingError as exc:
        issue = Issue(exc.where or str(path), None, exc.message, exc.hint or "", "mapping")
        return SourceFolder(None, None, (issue,), readable=False)
    return SourceFolder(mapping.name, mapping)


def _stray_mapping_issue(path: Path, folder: str) -> Issue:
    """A mapping in a built-in folder would leave its cases read as the built-in source."""
    return Issue(
        str(path),
        None,
        f"{folder}/ is the folder of the built-in source {SOURCE_FOLDERS[folder]}, whose cases "
        "are told by their content: its mapping is not used",
        f"move {MAPPING_FILE}, with the rules of the source it names, to a folder of their own "
        "(rules/<product>/)",
        "layout",
    )


def _is_source_folder(rule: RuleFile) -> bool:
    """Built-in, or the folder of an application's log (holding its mapping, even a broken one:
    that is reported at the mapping)."""
    return rule.folder in SOURCE_FOLDERS or mapping_file(rule.path.parent) is not None


def layout_issues(rule: RuleFile) -> list[Issue]:
    """Placement, name and cases of one rule file (rules/README.md "Layout")."""
    path = str(rule.path)
    issues = []
    if not _is_source_folder(rule):
        issues.append(
            Issue(
                path,
                None,
                f"the rule is in folder {rule.folder!r}, not a source folder",
                f"move it to one of {', '.join(f'{f}/' for f in SOURCE_FOLDERS)}, or put the "
                f"mapping of its application's log in the folder as {MAPPING_FILE}",
                "layout",
            )
        )
    if rule.path.suffix != ".yml":
        issues.append(
            Issue(path, None, "a rule file ends in .yml", f"rename it to {rule.stem}.yml", "layout")
        )
    if not RULE_STEM.fullmatch(rule.stem):
        issues.append(
            Issue(
                path,
                None,
                f"file name {rule.stem!r} is not lower-case words joined by _",
                f"rename it, e.g. {rule.folder}_{_snake(rule.stem)}.yml",
                "layout",
            )
        )
    if rule.case_dir_is_a_file:
        issues.append(
            Issue(
                str(rule.case_dir),
                None,
                "a file has the name of the rule's case folder, so the rule has no cases",
                f"rename or move the file, then put the match_ and miss_ cases in a folder "
                f"{rule.case_dir}/",
                "cases",
            )
        )
        return issues
    must = {
        "match": "events that must fire the rule",
        "miss": "the benign twin that must not fire it",
    }
    for expect, what in must.items():
        if not any(c.expect == expect for c in rule.cases):
            issues.append(
                Issue(
                    path,
                    None,
                    f"no {expect}_ case",
                    f"add {rule.case_dir}/{expect}_<label>.jsonl with {what}",
                    "cases",
                )
            )
    for stray in rule.strays:
        issues.append(
            Issue(
                str(stray),
                None,
                "not a case file (names start with match_ or miss_)",
                "rename it to match_<label> or miss_<label>, or move it out",
                "cases",
            )
        )
    return issues


def _snake(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "rule"


def _document_issues(docs: RuleDocuments, catalog: AttackCatalog) -> list[Issue]:
    issues = []
    last = len(docs.documents) - 1
    for index, document in enumerate(docs.documents):
        kind = kind_of(document)
        if kind is None:
            issues.append(
                Issue(
                    docs.path,
                    docs.line_of(index),
                    "document is neither a detection nor a correlation rule",
                    "give it a `detection:` or `correlation:` section",
                    "documents",
                )
            )
        elif index < last and kind == "correlation":
            issues.append(
                Issue(
                    docs.path,
                    docs.line_of(index),
                    "a correlation before the last document",
                    "one correlation per file, last; referenced rules come first",
                    "documents",
                )
            )
        elif index == last and kind == "detection" and last > 0:
            issues.append(
                Issue(
                    docs.path,
                    docs.line_of(index),
                    "several documents, but the last is not a correlation",
                    "keep one detection rule per file, or end the file with the correlation",
                    "documents",
                )
            )
        for problem in field_problems(document, kind=kind):
            issues.append(
                Issue(
                    docs.path,
                    docs.line_of(index, problem.key),
                    problem.message,
                    problem.hint,
                    "fields",
                )
            )
        tags = document.get("tags")
        if isinstance(tags, list):
            read = read_tags(str(t) for t in tags)
            for tag_problem in catalog.problems(read.techniques, read.tactics):
                issues.append(
                    Issue(
                        docs.path,
                        docs.line_of(index, "tags"),
                        tag_problem.message,
                        tag_problem.hint,
                        "tags",
                    )
                )
    return issues


_COMPILE_HINTS = {
    "reference": "name each rule the correlation reads in this file, above it (`name:`), as its "
    "`rules:` list spells it",
}
"""What to do about a compile failure, where its reason alone says too little."""


def _compile_issues(docs: RuleDocuments, ruleset: RuleSet, reported: set[str]) -> list[Issue]:
    """What auditlake's compiler rejects (pySigma's own errors are `reported` already)."""
    issues = []
    for failure in ruleset.failures:
        message = re.sub(r" in \S+$", "", failure.message)
        if message in reported:
            continue
        index = _document_index(docs, failure.rule_id, failure.title)
        issues.append(
            Issue(
                docs.path,
                docs.line_of(index, "detection"),
                f"does not compile: {message}",
                _COMPILE_HINTS.get(
                    failure.reason, f"see the `{failure.reason}` failure reason in auditlake.detection.compile"
                ),
                "compile",
            )
        )
    return issues


def _routing_issues(
    rule: RuleFile, docs: RuleDocuments, ruleset: RuleSet, wanted: str | None
) -> list[Issue]:
    """Each rule reads `wanted`, the lake source of its folder (None: nothing to compare)."""
    issues = []
    for compiled in ruleset.rules:
        index = _document_index(docs, compiled.id, compiled.title)
        line = docs.line_of(index, "logsource")
        if not compiled.routes:
            why = unsupported_reason(*compiled.logsource) or "no lake source reads this logsource"
            issues.append(
                Issue(
                    docs.path,
                    line,
                    f"logsource {_logsource(compiled.logsource)} reaches no lake source: {why}",
                    "use the product/service of the folder's source (see auditlake.detection.logsources)",
                    "routing",
                )
            )
        elif wanted is not None and wanted not in compiled.sources:
            issues.append(
                Issue(
                    docs.path,
                    line,
                    f"the rule reads {', '.join(sorted(compiled.sources))}, not {wanted} of folder {rule.folder}/",
                    "move the file to its source's folder, or fix its logsource",
                    "routing",
                )
            )
    return issues


_CASE_HINTS = {
    NO_EVENTS: "put the events in it, one native record per line (see rules/README.md), or "
    "remove the file",
}


def case_issues(cases: Iterable[CaseEvents]) -> list[Issue]:
    """What keeps each case from being judged, at the case file and line: `rules test` would
    only report it as a failed case (rules/README.md "How a case is judged", step 5)."""
    return [
        Issue(
            str(loaded.case.path),
            problem.line,
            problem.message,
            _CASE_HINTS.get(
                problem.message,
                "fix the record there so that `auditlake ingest` reads it, as `rules test` "
                "ingests every case",
            ),
            "cases",
        )
        for loaded in cases
        for problem in loaded.issues
    ]


def _field_issues(docs: RuleDocuments, ruleset: RuleSet, cases: list[CaseEvents]) -> list[Issue]:
    """Fields the rule under test reads that none of its cases' events hold (a warning: a
    field may be absent from every case on purpose, but is most often misspelt)."""
    try:
        target = target_of(docs)
        unseen = unseen_fields(ruleset, target, cases)
    except AuditlakeError:  # no rule under test, or it did not compile: reported above
        return []
    last = len(docs.documents) - 1
    issues = []
    for gap in unseen:
        detection = gap.role == "detection"
        index = _document_index(docs, gap.rule.id, gap.rule.title) if detection else last
        line = _field_line(docs, gap.field, index) or docs.line_of(
            index, "detection" if detection else "correlation"
        )
        message, hint = _unseen_message(gap, target.label), _unseen_hint(gap)
        issues.append(Issue(docs.path, line, message, hint, "fields", "warning"))
    return issues


def _field_line(docs: RuleDocuments, field: str, index: int) -> int | None:
    """The first line of document `index` naming `field` whole (`userIdentity.type`, not the
    `type` inside it): where to fix it."""
    name = re.compile(rf"(?<![\w.@/-]){re.escape(field)}(?![\w.@/-])")
    first = docs.line_of(index)
    last = docs.line_of(index + 1) - 1 if index + 1 < len(docs.documents) else None
    for number, text in enumerate(docs.text.splitlines(), start=1):
        if number >= first and (last is None or number <= last) and name.search(text):
            return number
    return None


def _unseen_message(gap: UnseenField, correlation: str) -> str:
    rule = gap.rule.name or gap.rule.title
    if gap.role == "detection":
        return f"{rule} reads field {gap.field}, which no event of the rule's cases holds"
    if gap.role == "group-by":
        return (
            f"correlation {correlation} groups {rule}'s events by field {gap.field}, which no "
            "event of its cases holds"
        )
    return (
        f"correlation {correlation} counts the values of field {gap.field} in {rule}'s events, "
        "which no event of its cases holds"
    )


def _unseen_hint(gap: UnseenField) -> str:
    if gap.suggestion is not None:
        return f"did you mean {gap.suggestion}? (the cases' events hold that field)"
    return (
        "check the field's spelling against the source's records, or add a case whose events "
        "hold it (a miss_ case for a filter)"
    )


def _prefix_issues(rule: RuleFile, docs: RuleDocuments) -> list[Issue]:
    """The file name starts with its source folder or its rules' logsource product."""
    products = [
        str(d["logsource"].get("product"))
        for d in docs.documents
        if isinstance(d.get("logsource"), Mapping) and d["logsource"].get("product")
    ]
    prefixes = {*products, *([rule.folder] if _is_source_folder(rule) else [])}
    if any(rule.stem.startswith(f"{p}_") for p in prefixes):
        return []
    first = products[0] if products else rule.folder
    return [
        Issue(
            str(rule.path),
            None,
            f"file name does not start with its product ({first}_)",
            f"rename it to {first}_{rule.stem}.yml",
            "layout",
        )
    ]


def _logsource(logsource: tuple[str | None, str | None, str | None]) -> str:
    parts = zip(("product", "category", "service"), logsource, strict=True)
    return "(" + ", ".join(f"{k}={v}" for k, v in parts if v) + ")"


def _document_index(docs: RuleDocuments, rule_id: str | None, title: str | None) -> int:
    for index, document in enumerate(docs.documents):
        if rule_id and normal_id(document.get("id")) == rule_id:
            return index
        if title and document.get("title") == title:
            return index
    return len(docs.documents) - 1


def _unique_issues(files: Iterable[RuleDocuments]) -> list[Issue]:
    """Every id and name used by more than one document, reported at each use."""
    seen: Mapping[str, dict[str, list[tuple[str, int]]]] = {
        "id": defaultdict(list),
        "name": defaultdict(list),
    }
    for docs in files:
        for index, document in enumerate(docs.documents):
            for key in ("id", "name"):
                value = normal_id(document.get(key)) if key == "id" else document.get(key)
                if value:
                    seen[key][str(value)].append((docs.path, docs.line_of(index, key)))
    issues = []
    for key, uses in seen.items():
        for value, places in uses.items():
            if len(places) < 2:
                continue
            for path, line in places:
                others = ", ".join(f"{p}:{n}" for p, n in places if (p, n) != (path, line))
                fix = (
                    "give this rule a new UUID (python -c 'import uuid; print(uuid.uuid4())')"
                    if key == "id"
                    else "give this rule its own name (and update the correlation's `rules:`)"
                )
                issues.append(
                    Issue(
                        path,
                        line,
                        f"duplicate {key} {value} (also used at {others})",
                        fix,
                        "unique",
                    )
                )
    return issues


def _sorted(issues: Iterable[Issue]) -> list[Issue]:
    return sorted(issues, key=lambda i: (i.path, i.line or 0, i.check, i.message))
