"""Fixtures for rule-pack tests: a rule pack written under tmp_path."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
from tests.rulepack.builders import rule_yaml, write_jsonl

RuleWriter = Callable[..., Path]


@pytest.fixture
def write_rule(tmp_path: Path) -> RuleWriter:
    """Write `<tmp>/rules/<folder>/<stem>.yml` and its cases (case file name → records)."""

    def write(
        stem: str,
        documents: Iterable[Mapping[str, Any]] | str,
        cases: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
        *,
        folder: str = "aws",
    ) -> Path:
        root = tmp_path / "rules"
        path = root / folder / f"{stem}.yml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            documents if isinstance(documents, str) else rule_yaml(*documents), encoding="utf-8"
        )
        for name, records in (cases or {}).items():
            write_jsonl(root / folder / stem / name, records)
        return path

    return write
