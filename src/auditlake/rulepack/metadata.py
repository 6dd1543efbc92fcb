"""The fields every rule document must have (rules/README.md "Required fields").

Checked on the YAML as written, so a missing field is named even where pySigma would accept
the rule without it. Each row of `REQUIRED` says what the field must hold and how to fix it.

>>> [p.key for p in field_problems({"title": "x"}, kind="detection")][:3]
['id', 'status', 'description']
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from auditlake.rulepack.documents import RuleKind
from auditlake.rulepack.tags import read_tags

LEVELS = ("informational", "low", "medium", "high", "critical")


@dataclass(frozen=True, slots=True)
class FieldProblem:
    key: str
    message: str
    hint: str


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _non_empty_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(_text(v) for v in value)


def _uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return value is not None


def _present(value: Any) -> bool:
    return value not in (None, "", [], {})


@dataclass(frozen=True, slots=True)
class Required:
    key: str
    holds: Callable[[Any], bool]
    what: str
    hint: str
    kinds: tuple[RuleKind, ...] = ("detection", "correlation")


REQUIRED: tuple[Required, ...] = (
    Required("title", _text, "a title", "add `title:`, a short name of what the rule detects"),
    Required(
        "id",
        _uuid,
        "a UUID",
        "add `id:` with a new UUID (python -c 'import uuid; print(uuid.uuid4())')",
    ),
    Required("status", _text, "a status", "add `status:` (experimental, test or stable)"),
    Required(
        "description",
        _text,
        "a description",
        "add `description:`, what the rule detects and why it matters",
    ),
    Required("author", _text, "an author", "add `author:`"),
    Required("date", _present, "a date", "add `date:` (YYYY-MM-DD)"),
    Required(
        "references",
        _non_empty_list,
        "a list of at least one reference",
        "add `references:` with at least one URL",
    ),
    Required(
        "logsource",
        lambda v: isinstance(v, Mapping) and bool(v),
        "a logsource",
        "add `logsource:` with the product and service of the source's events",
        ("detection",),
    ),
    Required("level", _text, "a level", f"add `level:` ({', '.join(LEVELS)})"),
    Required(
        "falsepositives",
        _non_empty_list,
        "a list of at least one false positive",
        "add `falsepositives:` with at least one benign cause (or `- Unknown`)",
    ),
    Required(
        "tags",
        _non_empty_list,
        "a list of tags",
        "add `tags:` with an ATT&CK technique, its tactic and a compliance control",
    ),
)


def field_problems(document: Mapping[str, Any], *, kind: RuleKind | None) -> list[FieldProblem]:
    """The required fields `document` lacks or fills wrongly, and its tag requirements."""
    problems: list[FieldProblem] = []
    for row in REQUIRED:
        if kind is not None and kind not in row.kinds:
            continue
        value = document.get(row.key)
        if value is None:
            problems.append(FieldProblem(row.key, f"`{row.key}` is missing", row.hint))
        elif not row.holds(value):
            problems.append(FieldProblem(row.key, f"`{row.key}` must be {row.what}", row.hint))
    tags = document.get("tags")
    if isinstance(tags, list) and _non_empty_list(tags):
        problems += _tag_problems(tags)
    return problems


def _tag_problems(tags: list[str]) -> list[FieldProblem]:
    read = read_tags(tags)
    problems = [FieldProblem("tags", p.message, p.hint) for p in read.problems]
    if not read.techniques:
        problems.append(
            FieldProblem(
                "tags", "no ATT&CK technique tag", "add the technique, e.g. `attack.t1562.008`"
            )
        )
    if not read.tactics:
        problems.append(
            FieldProblem(
                "tags",
                "no ATT&CK tactic tag",
                "add the technique's tactic, e.g. `attack.defense-evasion`",
            )
        )
    if not read.controls and not read.problems:
        problems.append(
            FieldProblem(
                "tags",
                "no compliance control tag",
                "add the control the rule gives evidence for, e.g. "
                "`compliance.pci_dss.10.2.1.6` (rules/README.md)",
            )
        )
    return problems
