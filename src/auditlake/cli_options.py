"""Command-line options shared by commands that live in different modules."""

from __future__ import annotations

from pathlib import Path

import click


def existing_lake(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    """`--lake` of a command that only reads a lake: a folder that is not there is a mistyped
    path or a missing mount, not an empty lake, so a scheduled run does not pass for a quiet
    one (and leaves no folder behind at the wrong path)."""
    if not value.exists():
        raise click.BadParameter(
            f"no lake at {value}: nothing was ingested there (check the path and $AUDITLAKE_LAKE; "
            "`auditlake ingest` creates a lake)",
            ctx=ctx, param=param,
        )
    return value
