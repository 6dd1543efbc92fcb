"""Command-line options shared by commands that live in different modules."""

from __future__ import annotations

from pathlib import Path

import click

from auditlake.lake.paths import LakePaths


def existing_lake(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    """`--lake` of a command that only reads a lake: a folder that is not there is a mistyped
    path or a missing mount, not an empty lake, and a folder holding other things than a lake
    (a folder of logs named as --lake or $AUDITLAKE_LAKE) is no lake with nothing in it; so a
    scheduled run does not pass for a quiet one (and leaves no folder behind at the wrong
    path). An empty folder is a lake not written yet."""
    if not value.exists():
        raise click.BadParameter(
            f"no lake at {value}: nothing was ingested there (check the path and $AUDITLAKE_LAKE; "
            "`auditlake ingest` creates a lake)",
            ctx=ctx, param=param,
        )
    state = LakePaths.at(value).state  # every lake has it from its first commit on
    if not state.is_dir() and _holds_anything(value):
        raise click.BadParameter(
            f"no lake at {value}: the folder holds other things and no {state.name}/ (check the "
            "path and $AUDITLAKE_LAKE; `auditlake ingest` creates a lake)",
            ctx=ctx, param=param,
        )
    return value


def _holds_anything(folder: Path) -> bool:
    try:
        return any(folder.iterdir())
    except OSError:  # a folder that cannot be listed is reported when the lake is read
        return False
