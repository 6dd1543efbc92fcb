"""An in-house application's JSON audit log as tests onboard it: its generic mapping, an Okta
event to mix with it, and Sigma rules written for a test."""

from __future__ import annotations

import uuid
from pathlib import Path

import polars as pl

from auditlake.lake import LakePaths, scan_events

MAPPING = """\
name = "myapp.audit"

[fields]
event_uid = "id"
time = "ts"
action = "op"
actor_name = "who.name"
"""
"""The mapping of the application's log: lake source `myapp.audit`."""

DETECT = """
[detect]
require = ["op", "who"]
"""
"""Appended to `MAPPING`: the fields the application's records hold, which take its inputs."""

OKTA = {
    "uuid": "o1", "published": "2026-03-02T10:00:00.000Z", "eventType": "user.session.start",
    "displayMessage": "User login to Okta", "severity": "INFO",
    "actor": {"id": "id-eve", "type": "User", "alternateId": "eve@example.com", "displayName": "eve"},
    "client": {"ipAddress": "203.0.113.9"}, "outcome": {"result": "SUCCESS"},
}
"""An Okta System Log event, for inputs that mix sources."""


def rule(title: str, logsource: str, selection: str) -> str:
    """A detection rule of one selection, its id made from its title."""
    return f"""\
title: {title}
id: {uuid.uuid5(uuid.NAMESPACE_URL, title)}
status: test
logsource: {logsource}
detection:
  sel: {selection}
  condition: sel
level: high
"""


def rows_by_source(lake: Path) -> dict[str, list[str]]:
    """The event ids the lake holds, by source."""
    rows = scan_events(LakePaths.at(lake)).select("source", "event_uid").collect().sort("event_uid")
    return {s: rows.filter(pl.col("source") == s)["event_uid"].to_list() for s in rows["source"].unique().sort()}
