"""Fixtures for the compiler suites: the SigmaHQ corpus, compiled once per test process."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditlake.detection.compile import RuleSet, compile_rules

SIGMAHQ_RULE_DIRS = (
    "rules",
    "rules-emerging-threats",
    "rules-threat-hunting",
    "rules-compliance",
    "rules-placeholder",
)


@pytest.fixture(scope="session")
def sigmahq(shared_data: Path) -> Path:
    return shared_data / "sigmahq"


@pytest.fixture(scope="session")
def sigmahq_rule_files(sigmahq: Path) -> list[Path]:
    return sorted(p for d in SIGMAHQ_RULE_DIRS for p in (sigmahq / d).rglob("*.yml"))


@pytest.fixture(scope="session")
def sigmahq_ruleset(sigmahq_rule_files: list[Path]) -> RuleSet:
    """Every SigmaHQ rule, compiled with no placeholder values configured."""
    return compile_rules(sigmahq_rule_files)
