"""The synthetic sources, by lake source name, in generation order."""

from __future__ import annotations

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
from auditlake.tables import unique_table

GENERATORS: dict[str, SourceGen] = unique_table(((g.name, g) for g in [
    cloudtrail.GEN,
    windows.GEN,
    kubernetes.GEN,
    okta.GEN,
    github.GEN,
    gcp.GEN,
    gateway.GEN,
    auditd.GEN,
]), what="synthetic source")
