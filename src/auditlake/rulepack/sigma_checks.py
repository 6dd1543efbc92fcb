"""pySigma's own judgement of a rule file: parse errors and validators, offline.

The validators run are an explicit allow-list (`ENABLED`), not "all but": a pySigma release that
adds a validator which downloads data cannot slip into `rules check`. `EXCLUDED` says why each
other validator is left out; a test checks that the two lists cover every validator pySigma
ships, so a new one is noticed and placed deliberately.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, Literal

from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError, SigmaModifierError
from sigma.modifiers import modifier_mapping
from sigma.rule import SigmaRuleTag
from sigma.validators.base import (
    SigmaRuleValidator,
    SigmaTagValidator,
    SigmaValidationIssue,
    SigmaValidationIssueSeverity,
)

from auditlake.detection.compile import load_documents
from auditlake.detection.correlation_reader import pysigma_compatible
from auditlake.detection.references import unresolved
from auditlake.rulepack.documents import RuleDocuments

ENABLED = (
    "all_of_them_condition",
    "cartag",
    "control_character",
    "custom_attributes",
    "cvetag",
    "dangling_condition",
    "dangling_detection",
    "detection_tag",
    "double_wildcard",
    "duplicate_filename",
    "duplicate_references",
    "duplicate_tag",
    "duplicate_title",
    "escaped_wildcard",
    "fieldname_logsource",
    "filename_length",
    "invalid_modifier_combinations",
    "number_as_string",
    "specific_instead_of_generic_logsource",
    "stptag",
    "tag_format",
    "them_condition_with_single_detection",
    "tlptag",
    "wildcards_instead_of_modifiers",
)
"""pySigma validators `rules check` runs (names as in `sigma.validators.core.validators`)."""

EXCLUDED: Mapping[str, str] = {
    "attacktag": "downloads MITRE ATT&CK data at run time; rulepack.attack checks ATT&CK tags offline",
    "d3_fendtag": "downloads MITRE D3FEND data at run time; `d3fend` is not an allowed tag namespace here",
    "namespace_tag": "does not know the `compliance` namespace; `NamespaceValidator` replaces it",
    "tlpv1_tag": "one version of the TLP check; `tlptag` accepts both versions",
    "tlpv2_tag": "one version of the TLP check; `tlptag` accepts both versions",
    "identifier_existence": "the required-field check reports a missing id with file and line",
    "identifier_uniqueness": "the pack-wide id check names every file that uses an id",
}

NAMESPACES = frozenset({"attack", "car", "compliance", "cve", "detection", "stp", "tlp"})

HINTS: Mapping[str, str] = {
    "DanglingDetectionIssue": "use the selection in the condition, or delete it",
    "DanglingConditionIssue": "define the selection the condition names, or fix its spelling",
    "WildcardsInsteadOfContainsModifierIssue": "use the |contains modifier instead of *value*",
    "WildcardInsteadOfStartswithIssue": "use the |startswith modifier instead of value*",
    "WildcardInsteadOfEndswithIssue": "use the |endswith modifier instead of *value",
    "NumberAsStringIssue": "write the number without quotes",
    "DuplicateTitleIssue": "give each rule its own title",
    "DuplicateTagIssue": "list each tag once",
    "InvalidTagFormatIssue": "tags are lower-case `namespace.name` (letters, digits, -, _, .)",
    "FilenameLengthIssue": "rename the file to 10..90 characters",
    "AllOfThemConditionIssue": "name the selections (`all of selection_*`) instead of `all of them`",
    "InvalidNamespaceIssue": f"use one of the namespaces {', '.join(sorted(NAMESPACES))}",
    "EscapedWildcardIssue": r"keep `\*` if the star is meant literally, else drop the backslash",
}

KEYS: Mapping[str, str] = {
    "DuplicateTitleIssue": "title",
    "DuplicateReferencesIssue": "references",
    "CustomAttributesIssue": "title",
    "FieldnameLogsourceIssue": "logsource",
    "SpecificInsteadOfGenericLogsourceIssue": "logsource",
}
"""Issue class → the top-level key whose line it points at (tag issues: `tags`; else `detection`)."""

MODIFIER_ALIASES: Mapping[str, tuple[str, str]] = {
    "utf16le": ("wide", "pySigma's name for UTF-16LE, the Sigma spec's utf16le; utf16be is big-endian"),
    "beginswith": ("startswith", "Sigma's prefix match"),
    "regex": ("re", "Sigma's regular-expression modifier"),
    "regexp": ("re", "Sigma's regular-expression modifier"),
    "casesensitive": ("cased", "Sigma's case-sensitive match"),
    "not": ("neq", "Sigma's not-equal modifier; or negate a selection in the condition"),
}
"""Modifier names from the Sigma spec or other query languages → pySigma's modifier, and why.

Keys are written as `_spelling` reduces a name (lower case, no `-` or `_`). Spelling alone
would mislead here: `utf16le` is closest to `utf16be`, the other byte order, and `beginswith`
to `endswith`, the other end."""


Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class SigmaProblem:
    """A problem pySigma found, placed in a document of a file."""

    path: str
    document: int
    key: str | None
    message: str
    hint: str
    line: int | None = None
    severity: Severity = "error"


@dataclass
class InvalidNamespaceIssue(SigmaValidationIssue):
    description: ClassVar[str] = "Tag namespace not allowed in this rule pack"
    severity: ClassVar[SigmaValidationIssueSeverity] = SigmaValidationIssueSeverity.MEDIUM
    tag: SigmaRuleTag


class NamespaceValidator(SigmaTagValidator):
    """pySigma's namespace check with the pack's namespaces (it adds `compliance`)."""

    def validate_tag(self, tag: SigmaRuleTag) -> list[SigmaValidationIssue]:
        if tag.namespace not in NAMESPACES:
            return [InvalidNamespaceIssue([self.rule], tag)]
        return []


def offline_validators() -> list[SigmaRuleValidator]:
    """Fresh instances of the allowed validators (they keep state across one run)."""
    from sigma.validators.core import validators

    classes = [validators[name] for name in ENABLED]
    return [cls() for cls in classes] + [NamespaceValidator()]


def load_collection(docs: RuleDocuments) -> SigmaCollection | None:
    """The file's documents as pySigma rules, correlations narrowed as `compile_rules` does;
    None when pySigma cannot read one of them at all (the compile check reports which).

    References are resolved only when every one names a rule of the file: pySigma raises at
    the first it cannot find, and the compile check reports those by name."""
    narrowed = [
        pysigma_compatible(d) if isinstance(d.get("correlation"), Mapping) else dict(d)
        for d in docs.documents
    ]
    collection, unreadable = load_documents(narrowed, Path(docs.path))
    if unreadable:
        return None
    if not unresolved(collection.rules):
        collection.resolve_rule_references()
    return collection


def parse_problems(docs: RuleDocuments, collection: SigmaCollection) -> list[SigmaProblem]:
    """Errors pySigma met while reading each document (unknown modifiers, bad values)."""
    problems = []
    for index, rule in enumerate(collection.rules):
        for error in rule.errors:
            message, hint, line = _explain_error(error, docs, index)
            problems.append(SigmaProblem(docs.path, index, None, message, hint, line))
    return problems


def validate(files: Sequence[tuple[RuleDocuments, SigmaCollection]]) -> list[SigmaProblem]:
    """Run the offline validators over every rule that parsed, across all `files`."""
    validators = offline_validators()
    where: dict[int, tuple[RuleDocuments, int]] = {}
    issues: list[SigmaValidationIssue] = []
    for docs, collection in files:
        for index, rule in enumerate(collection.rules):
            if rule.errors:
                continue
            where[id(rule)] = (docs, index)
            for validator in validators:
                issues += validator.validate(rule)
    for validator in validators:
        issues += validator.finalize()
    return [p for issue in issues for p in _place(issue, where)]


def _place(
    issue: SigmaValidationIssue, where: Mapping[int, tuple[RuleDocuments, int]]
) -> list[SigmaProblem]:
    name = type(issue).__name__
    details = ", ".join(
        f"{f.name}={_show(getattr(issue, f.name))}" for f in fields(issue) if f.name != "rules"
    )
    message = f"{issue.description}" + (f" ({details})" if details else "")
    hint = HINTS.get(name, f"see pySigma's {name}")
    key = KEYS.get(name, "tags" if "Tag" in name else "detection")
    # pySigma's LOW is "a suggestion for readability or maintainability": worth showing, not
    # worth failing a build over (an escaped wildcard may be meant)
    severity: Severity = (
        "warning" if issue.severity is SigmaValidationIssueSeverity.LOW else "error"
    )
    placed = []
    for rule in issue.rules:
        if id(rule) in where:
            docs, index = where[id(rule)]
            placed.append(
                SigmaProblem(
                    docs.path, index, key, message, hint, docs.line_of(index, key), severity
                )
            )
    return placed


def _show(value: Any) -> str:
    return str(value) if value is not None else "-"


_UNKNOWN_MODIFIER = re.compile(r"Unknown modifier '([^']*)'")


def _explain_error(
    error: SigmaError, docs: RuleDocuments, index: int
) -> tuple[str, str, int | None]:
    """pySigma's message (without its own "in <path>"), a fix, and the line when findable."""
    message = re.sub(r" in \S+$", "", str(error))
    match = _UNKNOWN_MODIFIER.search(message)
    if isinstance(error, SigmaModifierError) and match:
        name = match[1]
        return message, modifier_hint(name), docs.line_containing(f"|{name}", index)
    return message, "fix the rule so pySigma can read it", docs.line_of(index)


def modifier_hint(name: str) -> str:
    """The fix for an unknown modifier `name`: a known alias first (`MODIFIER_ALIASES`), then
    the same name spelt pySigma's way (`utf-16be` → `utf16be`), then the closest spelling.

    >>> modifier_hint("utf16le")
    "did you mean 'wide'? (pySigma's name for UTF-16LE, the Sigma spec's utf16le; utf16be is big-endian)"
    >>> modifier_hint("Utf-16BE"), modifier_hint("existz")
    ("did you mean 'utf16be'?", "did you mean 'exists'?")
    """
    spelling = _spelling(name)
    if spelling in MODIFIER_ALIASES:
        modifier, why = MODIFIER_ALIASES[spelling]
        return f"did you mean '{modifier}'? ({why})"
    known = {_spelling(m): m for m in modifier_mapping}
    close = [known[spelling]] if spelling in known else difflib.get_close_matches(
        spelling, sorted(modifier_mapping), n=1
    )
    if close:
        return f"did you mean '{close[0]}'?"
    return f"use a Sigma modifier: {', '.join(sorted(modifier_mapping))}"


def _spelling(name: str) -> str:
    """`name` without case, `-` or `_`: how the alias table is keyed."""
    return name.lower().replace("-", "").replace("_", "")
