"""`auditlake detect --source`: an incremental run over some sources leaves the events of the
others to the next run over them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from auditlake.cli import main

RULES = """\
title: Okta sign-in failure
id: 2c4e6a80-1b3d-4f5a-8c7e-9d0f1a2b3c01
status: test
logsource: {product: okta, service: okta}
detection:
  sel:
    eventType: user.session.start
    outcome.result: FAILURE
  condition: sel
level: low
---
title: CloudTrail console sign-in
id: 2c4e6a80-1b3d-4f5a-8c7e-9d0f1a2b3c02
status: test
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName: ConsoleLogin
  condition: sel
level: low
"""


def _okta(folder: Path, uid: str) -> Path:
    path = folder / f"okta-{uid}.jsonl"
    path.write_text(json.dumps({
        "uuid": uid, "published": "2026-03-02T10:00:00.000Z", "eventType": "user.session.start",
        "displayMessage": "User login to Okta", "severity": "WARN",
        "actor": {"id": "id-eve", "type": "User", "alternateId": "eve@example.com", "displayName": "eve"},
        "client": {"ipAddress": "203.0.113.9"}, "outcome": {"result": "FAILURE", "reason": "INVALID_CREDENTIALS"},
    }) + "\n")
    return path


def _cloudtrail(folder: Path, uid: str) -> Path:
    path = folder / f"cloudtrail-{uid}.json"
    path.write_text(json.dumps({"Records": [{
        "eventVersion": "1.08", "eventID": uid, "eventTime": "2026-03-02T10:00:00Z", "eventName": "ConsoleLogin",
        "eventSource": "signin.amazonaws.com", "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/ana", "userName": "ana"},
        "responseElements": {"ConsoleLogin": "Success"},
    }]}))
    return path


def _detect(rules: Path, lake: Path, *more: str) -> set[str]:
    """The event ids of the alerts a `detect --json` run prints."""
    result = CliRunner().invoke(main, ["detect", "--rules", str(rules), "--lake", str(lake), "--json", *more])
    assert result.exit_code == 0, result.output
    return {uid for line in result.stdout.splitlines() for uid in json.loads(line)["event_uids"]}


def _ingest(lake: Path, *paths: Path) -> None:
    result = CliRunner().invoke(main, ["ingest", *map(str, paths), "--lake", str(lake)])
    assert result.exit_code == 0, result.output


def test_an_incremental_run_over_one_source_leaves_the_others_to_the_next_run(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    lake = tmp_path / "lake"
    _ingest(lake, _okta(tmp_path, "okta-1"), _cloudtrail(tmp_path, "trail-1"))
    assert _detect(rules, lake) == {"okta-1", "trail-1"}

    _ingest(lake, _okta(tmp_path, "okta-2"), _cloudtrail(tmp_path, "trail-2"))
    assert _detect(rules, lake, "--source", "okta") == {"okta-2"}
    # The scheduled run over every source still detects the CloudTrail event.
    assert _detect(rules, lake) == {"trail-2"}
    assert _detect(rules, lake) == set()
    assert _detect(rules, lake, "--source", "okta") == set()
