"""Which detection items of each selection match an event, for explaining a failed case.

`explain` says which selections match; when a selection of several entries does not, the author
needs the entry that failed. Each entry (`field|modifiers: value`) becomes a selection of its
own in a throw-away rule with the same logsource, compiled once and explained on the events:
the item's verdict is exactly its verdict inside the selection, since a map is the AND of its
entries (and a list of maps the OR of those ANDs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sigma.collection import SigmaCollection

from auditlake.detection.compile import CompiledRule, compile_collection
from auditlake.errors import AuditlakeError
from auditlake.rulepack.documents import normal_id, read_documents
from auditlake.rulepack.mutation import NOT_SELECTIONS


@dataclass(frozen=True)
class ItemRule:
    """The throw-away rule, and which selection and entry each of its selections stands for."""

    rule: CompiledRule
    items: Mapping[str, tuple[str, str]]
    """Synthetic selection name → (selection, entry label)."""


def item_rule(rule: CompiledRule) -> ItemRule | None:
    """One selection per detection item of `rule`; None when there is nothing to split or it fails."""
    document = _document(rule)
    if document is None:
        return None
    detection: dict[str, Any] = {}
    items: dict[str, tuple[str, str]] = {}
    for name, value in document["detection"].items():
        if name in NOT_SELECTIONS:
            continue
        for label, entry in _entries(value):
            synthetic = f"item_{len(items)}"
            detection[synthetic] = entry
            items[synthetic] = (str(name), label)
    if not items:
        return None
    detection["condition"] = "1 of item_*"
    split = {
        "title": f"{rule.title} (items)",
        "logsource": document["logsource"],
        "detection": detection,
    }
    compiled = compile_collection(SigmaCollection.from_dicts([split], collect_errors=True))
    if compiled.failures or not compiled.rules:
        return None
    return ItemRule(compiled.rules[0], items)


def _entries(value: Any) -> list[tuple[str, dict[str, Any]]]:
    """(label, one-entry map) for each entry of a selection map or list of maps."""
    if isinstance(value, Mapping):
        return [(str(key), {key: entry}) for key, entry in value.items()] if len(value) > 1 else []
    if isinstance(value, list) and len(value) > 1 and all(isinstance(m, Mapping) for m in value):
        return [
            (f"[{i + 1}] {key}", {key: entry})
            for i, m in enumerate(value)
            for key, entry in m.items()
        ]
    return []


def _document(rule: CompiledRule) -> Mapping[str, Any] | None:
    """The YAML document `rule` was compiled from (by id, else name or title)."""
    if rule.path is None:
        return None
    try:
        docs = read_documents(Path(rule.path))
    except AuditlakeError:
        return None
    for document in docs.documents:
        same = (
            normal_id(document.get("id")) == rule.id
            or (rule.name is not None and document.get("name") == rule.name)
            or document.get("title") == rule.title
        )
        if (
            same
            and isinstance(document.get("detection"), Mapping)
            and isinstance(document.get("logsource"), Mapping)
        ):
            return document
    return None
