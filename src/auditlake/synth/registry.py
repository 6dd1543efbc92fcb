"""The synthetic sources, by lake source name, in generation order."""

from __future__ import annotations

from collections.abc import Iterable

from auditlake.synth.sourcegen import SourceGen
from auditlake.synth.sources import (
    auditd,
    cloudtrail,
    gateway,
    gcp,
    github,
    kubernetes,
    okta,
    windows,
)


def _table(rows: Iterable[SourceGen]) -> dict[str, SourceGen]:
    table: dict[str, SourceGen] = {}
    for row in rows:
        if row.name in table:
            raise ValueError(f"synthetic source {row.name!r} is listed twice")
        table[row.name] = row
    return table


GENERATORS: dict[str, SourceGen] = _table([
    cloudtrail.GEN,
    windows.GEN,
    kubernetes.GEN,
    okta.GEN,
    github.GEN,
    gcp.GEN,
    gateway.GEN,
    auditd.GEN,
])
