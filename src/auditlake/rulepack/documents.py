"""A rule file's YAML documents, where each key sits, and which rule the file puts under test.

The rule under test is the file's last document (rules/README.md): a plain detection rule, or
a correlation after the detection rules it references. Lines are kept so that every problem
found later can point at the line to edit.

>>> docs = parse_documents("title: a\\nid: 1\\n---\\ntitle: b\\ncorrelation: {type: event_count}\\n", "x.yml")
>>> target_of(docs).kind, docs.line_of(1, "correlation")
('correlation', 5)
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from auditlake.errors import AuditlakeError

RuleKind = Literal["detection", "correlation"]


class RuleFileError(AuditlakeError):
    """A rule file that is not YAML, or whose documents are not rules."""


@dataclass(frozen=True)
class RuleDocuments:
    """The documents of one rule file, in order, with the line of each top-level key."""

    path: str
    documents: tuple[Mapping[str, Any], ...]
    starts: tuple[int, ...]
    """1-based line where each document starts."""
    key_lines: Mapping[tuple[int, str], int] = field(default_factory=dict)
    text: str = ""

    def line_of(self, index: int, key: str | None = None) -> int:
        """The line of `key` in document `index`, else the document's first line."""
        if key is not None and (index, key) in self.key_lines:
            return self.key_lines[(index, key)]
        return self.starts[index] if index < len(self.starts) else 1

    def line_containing(self, needle: str, index: int | None = None) -> int | None:
        """The first line holding `needle` (inside document `index` when given)."""
        first = self.starts[index] if index is not None else 1
        last = (
            self.starts[index + 1] - 1
            if index is not None and index + 1 < len(self.starts)
            else None
        )
        for number, line in enumerate(self.text.splitlines(), start=1):
            if number >= first and (last is None or number <= last) and needle in line:
                return number
        return None


@dataclass(frozen=True, slots=True)
class Target:
    """The rule under test: what it is and the keys it is known by in a compiled rule set."""

    kind: RuleKind
    id: str | None
    name: str | None
    title: str | None

    @property
    def label(self) -> str:
        return self.name or self.title or self.id or "<untitled>"

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key a compiled rule or correlation plan may carry for this rule."""
        return tuple(k for k in (self.id, self.name, self.title) if k)


def read_documents(path: Path) -> RuleDocuments:
    """Read `path`; `RuleFileError` when it is not YAML or a document is not a mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RuleFileError(f"cannot read the rule file: {exc}", where=str(path),
                            hint="save it as UTF-8 text (Sigma rules are YAML)") from exc
    except OSError as exc:
        raise RuleFileError(f"cannot read the rule file: {exc.strerror or exc}", where=str(path),
                            hint="check that the file exists and can be read") from exc
    return parse_documents(text, str(path))


def parse_documents(text: str, where: str) -> RuleDocuments:
    """The documents of a rule file's `text`; `where` names it in errors."""
    try:
        nodes = [n for n in yaml.compose_all(text, Loader=yaml.SafeLoader) if n is not None]
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise RuleFileError(
            f"not valid YAML: {exc}",
            where=f"{where}{line}",
            hint="fix the YAML syntax (indentation, quoting)",
        ) from exc
    if not documents:
        raise RuleFileError("the file holds no rule", where=where, hint="write a Sigma rule in it")
    for index, document in enumerate(documents):
        if not isinstance(document, dict):
            raise RuleFileError(
                f"document {index + 1} is not a mapping of rule fields",
                where=f"{where}:{nodes[index].start_mark.line + 1}",
                hint="write each rule as `key: value` lines (title:, logsource:, detection:)",
            )
    key_lines: dict[tuple[int, str], int] = {}
    for index, node in enumerate(nodes):
        for key_node, _ in node.value:
            key_lines.setdefault((index, str(key_node.value)), key_node.start_mark.line + 1)
    starts = tuple(_first_line(node) for node in nodes)
    return RuleDocuments(where, tuple(documents), starts, key_lines, text)


def _first_line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def kind_of(document: Mapping[str, Any]) -> RuleKind | None:
    """`correlation` or `detection` by the section the document has; None for neither."""
    if isinstance(document.get("correlation"), Mapping):
        return "correlation"
    if isinstance(document.get("detection"), Mapping):
        return "detection"
    return None


def target_of(docs: RuleDocuments) -> Target:
    """The rule under test: the last document."""
    document = docs.documents[-1]
    kind = kind_of(document)
    if kind is None:
        raise RuleFileError(
            "the last document is neither a detection nor a correlation rule",
            where=f"{docs.path}:{docs.line_of(len(docs.documents) - 1)}",
            hint="end the file with the rule under test (a `detection:` or `correlation:` section)",
        )
    return Target(
        kind,
        normal_id(document.get("id")),
        _text(document.get("name")),
        _text(document.get("title")),
    )


def normal_id(value: Any) -> str | None:
    """A rule id as pySigma prints it (lower-case UUID), else the text as written."""
    if value is None:
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return str(value)


def referenced_documents(docs: RuleDocuments) -> Sequence[int]:
    """Indexes of the detection documents before the last one (a correlation's inputs)."""
    return [i for i, d in enumerate(docs.documents[:-1]) if kind_of(d) == "detection"]


def _text(value: Any) -> str | None:
    return str(value) if value is not None else None
