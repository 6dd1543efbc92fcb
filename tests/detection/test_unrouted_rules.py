"""`auditlake detect` names the rules whose logsource reaches no lake source.

Such a rule compiles but never sees an event; a run that dropped it in silence would look like
a quiet day. The warning goes to stderr (stdout stays the alerts of `--json`), and the run
goes on with the other rules, exit code as before.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from auditlake.cli import main

GOOD = """\
title: Alice logs in
id: 7a1c7f3e-2b9b-4c1f-8a57-6c1a1e3f9a10
status: test
logsource: {product: teleport, service: audit}
detection: {sel: {user: alice}, condition: sel}
level: low
"""
NOWHERE = """\
title: Nowhere to run
id: 7a1c7f3e-2b9b-4c1f-8a57-6c1a1e3f9a11
status: test
logsource: {product: nosuchproduct, service: audit}
detection: {sel: {user: alice}, condition: sel}
level: low
"""
KNOWN_GAP = """\
title: Proxy rule
id: 7a1c7f3e-2b9b-4c1f-8a57-6c1a1e3f9a12
status: test
logsource: {category: proxy}
detection: {sel: {c-uri|contains: evil}, condition: sel}
level: low
"""
EVENT = {"cluster_name": "c", "code": "T1000I", "event": "user.login", "time": "2026-03-05T06:00:00Z",
         "uid": "k1", "user": "alice"}


def _detect(tmp_path: Path, *rules: str) -> tuple[int, str, str]:
    (tmp_path / "events.jsonl").write_text(json.dumps(EVENT) + "\n")
    lake = str(tmp_path / "lake")
    ingested = CliRunner().invoke(main, ["ingest", str(tmp_path / "events.jsonl"), "--source", "gateway.teleport",
                                         "--lake", lake])
    assert ingested.exit_code == 0, ingested.output
    folder = tmp_path / "rules"
    folder.mkdir()
    for number, text in enumerate(rules):
        (folder / f"rule_{number}.yml").write_text(text)
    result = CliRunner().invoke(main, ["detect", "--lake", lake, "--rules", str(folder), "--since", "2026-03-05",
                                       "--until", "2026-03-06", "--no-cache", "--json"])
    return result.exit_code, result.stdout, result.stderr


def test_a_rule_whose_logsource_reaches_no_source_is_named_on_stderr(tmp_path: Path) -> None:
    code, stdout, stderr = _detect(tmp_path, GOOD, NOWHERE, KNOWN_GAP)
    assert code == 0, stderr
    assert [json.loads(line)["rule_title"] for line in stdout.splitlines()] == ["Alice logs in"]
    warnings = [line for line in stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2, stderr
    nowhere, gap = sorted(warnings, key=lambda line: "rule_2" in line)
    # An unknown logsource names the source a generic mapping would write: the lake has none.
    assert "rule_1.yml" in nowhere and "(product=nosuchproduct, service=audit)" in nowhere
    assert "names the source nosuchproduct.audit" in nowhere and "does not hold" in nowhere
    assert "auditlake rules check" in nowhere
    assert "rule_2.yml" in gap and "(category=proxy)" in gap and "no web proxy source" in gap
    assert "reaches no lake source" in gap
    assert "2 rules" in stderr  # the summary counts the rules routed to a source


def test_a_rule_set_that_routes_everywhere_warns_of_nothing(tmp_path: Path) -> None:
    code, stdout, stderr = _detect(tmp_path, GOOD)
    assert code == 0, stderr
    assert "warning" not in stderr
    assert len(stdout.splitlines()) == 1
