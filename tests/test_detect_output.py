"""`detect --json` prints every alert at least once: the alerts a killed run stored (so a re-run
finds them not new) are printed by the next printing run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from auditlake.cli import main
from auditlake.detect_output import PrintingRuns
from auditlake.detection.compile import compile_rules
from auditlake.detection.engine import run_detection
from auditlake.detection.watermarks import ruleset_digest
from auditlake.ingest import ingest
from auditlake.lake.paths import LakePaths

RULE = """\
title: Okta sign-in failure
id: 6b2d7c49-1e6f-4a40-8b64-9f4c6a1d2b01
status: test
logsource: {product: okta, service: okta}
detection:
  sel:
    eventType: user.session.start
    outcome.result: FAILURE
  condition: sel
level: low
"""


def _failure(uid: str, minute: int) -> str:
    return json.dumps({
        "uuid": uid,
        "published": f"2026-03-02T10:{minute:02d}:00.000Z",
        "eventType": "user.session.start",
        "displayMessage": "User login to Okta",
        "severity": "WARN",
        "actor": {"id": "id-mallory", "type": "User", "alternateId": "mallory@example.com"},
        "client": {"ipAddress": "203.0.113.9"},
        "outcome": {"result": "FAILURE", "reason": "INVALID_CREDENTIALS"},
    })


def _setup(tmp_path: Path) -> tuple[LakePaths, Path]:
    lake = LakePaths.at(tmp_path / "lake")
    events = tmp_path / "okta.jsonl"
    events.write_text("".join(_failure(f"u{n}", n) + "\n" for n in range(3)))
    ingest([events], lake, workers=1)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "okta.yml").write_text(RULE)
    return lake, rules


def _killed_run(lake: LakePaths, rules: Path, pid: int) -> None:
    """What a `detect --json` killed after storing its alerts leaves: the alerts, the moved
    watermark, and its mark, naming a process `pid`."""
    files = sorted(rules.glob("*.yml"))
    summary = run_detection(lake, compile_rules(files), digest=ruleset_digest(files, {}),
                            origin="realtime", run_id="0123456789abcdef")
    assert summary.new_alerts == 3
    marks = PrintingRuns(lake)
    marks.folder.mkdir(parents=True, exist_ok=True)
    (marks.folder / "0123456789abcdef.json").write_text(json.dumps({"pid": pid}))


def _gone_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _detect(lake: LakePaths, rules: Path) -> tuple[list[dict[str, object]], str]:
    result = CliRunner().invoke(main, ["detect", "--rules", str(rules), "--lake", str(lake.root), "--json"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()], result.stderr


def test_the_alerts_of_a_killed_printing_run_are_printed_by_the_next(tmp_path: Path) -> None:
    lake, rules = _setup(tmp_path)
    _killed_run(lake, rules, _gone_pid())

    alerts, messages = _detect(lake, rules)

    assert len(alerts) == 3 and {a["rule_title"] for a in alerts} == {"Okta sign-in failure"}
    assert "3 alerts of an interrupted run printed again" in messages
    assert PrintingRuns(lake).interrupted() == []
    assert _detect(lake, rules)[0] == []  # printed once they are: the marks are gone


def test_a_mark_whose_process_still_runs_is_left_alone(tmp_path: Path) -> None:
    lake, rules = _setup(tmp_path)
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _killed_run(lake, rules, running.pid)
        assert _detect(lake, rules)[0] == []
        assert PrintingRuns(lake).interrupted() == []
    finally:
        running.kill()
        running.wait()
    assert PrintingRuns(lake).interrupted() == ["0123456789abcdef"]


def test_a_run_that_does_not_print_leaves_no_mark_and_takes_none(tmp_path: Path) -> None:
    lake, rules = _setup(tmp_path)
    _killed_run(lake, rules, _gone_pid())
    result = CliRunner().invoke(main, ["detect", "--rules", str(rules), "--lake", str(lake.root)])
    assert result.exit_code == 0, result.output
    assert PrintingRuns(lake).interrupted() == ["0123456789abcdef"]  # for the next printing run


def test_alerts_that_cannot_be_printed_are_printed_by_the_next_run(tmp_path: Path) -> None:
    lake, rules = _setup(tmp_path)
    command = f"'{Path(sys.executable).parent / 'auditlake'}' detect --rules '{rules}' --lake '{lake.root}' --json"
    for redirect in ("> /dev/full", ">&-"):  # a full disk, a closed standard output
        done = subprocess.run(["bash", "-c", f"{command} {redirect}"], check=False, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 1, done.stderr
        assert "cannot write the alerts to standard output" in done.stderr
        assert "Traceback" not in done.stderr

    alerts, messages = _detect(lake, rules)

    assert len(alerts) == 3
    assert "3 alerts of an interrupted run printed again" in messages
