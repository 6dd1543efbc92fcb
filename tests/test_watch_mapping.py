"""`auditlake watch --mapping`: an application's log dropped into the inbox is read with its
mapping, the other files by their content, and the application's rules alert on it."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from tests import application_log
from tests.application_log import rule

from auditlake.cli import main

MAPPING = application_log.MAPPING + application_log.DETECT
APP = [
    {"id": "a1", "ts": "2026-03-02T10:00:00Z", "op": "export", "who": {"name": "eve"}},
    {"id": "a2", "ts": "2026-03-02T10:01:00Z", "op": "login", "who": {"name": "bob"}},
]
def _setup(tmp_path: Path, mapping: str = MAPPING) -> tuple[Path, list[str]]:
    """An inbox with an application file and an Okta file, rules for both, a jsonl sink;
    the `watch --once` arguments over them (without --mapping)."""
    inbox, rules = tmp_path / "inbox", tmp_path / "rules"
    inbox.mkdir()
    rules.mkdir()
    (inbox / "app.jsonl").write_text("".join(json.dumps(r) + "\n" for r in APP))
    (inbox / "okta.jsonl").write_text(json.dumps(application_log.OKTA) + "\n")
    (rules / "myapp.yml").write_text(rule("app export", "{product: myapp, service: audit}", "{op: export}"))
    (rules / "okta.yml").write_text(rule("okta failure", "{product: okta, service: okta}",
                                          "{outcome.result: FAILURE}"))
    (tmp_path / "app.toml").write_text(mapping)
    config = tmp_path / "auditlake.toml"
    config.write_text('[[sinks]]\ntype = "jsonl"\npath = "alerts.jsonl"\n')
    args = ["watch", "--inbox", str(inbox), "--rules", str(rules), "--lake", str(tmp_path / "lake"),
            "--config", str(config), "--once", "--json", "--poll-s", "0.02", "--settle-s", "0"]
    return tmp_path / "app.toml", args


def test_a_mapping_reads_the_application_file_and_the_others_by_content(tmp_path: Path) -> None:
    mapping, args = _setup(tmp_path)
    result = CliRunner().invoke(main, [*args, "--mapping", str(mapping)])
    assert result.exit_code == 0, result.output
    reports = {r["file"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert {name: (r["status"], r["records"], r["alerts"]) for name, r in reports.items()} == {
        "app.jsonl": ("done", 2, 1),
        "okta.jsonl": ("done", 1, 0),
    }
    assert application_log.rows_by_source(tmp_path / "lake") == {"myapp.audit": ["a1", "a2"], "okta.system": ["o1"]}
    delivered = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert [(a["rule_title"], a["event_uids"]) for a in delivered] == [("app export", ["a1"])]
    assert sorted(p.name for p in (tmp_path / "inbox" / ".done").iterdir()) == ["app.jsonl", "okta.jsonl"]
    # the mapping is about to write myapp.audit: its rule is not warned of as seeing no event
    assert "sees no event" not in result.stderr, result.stderr


def test_a_mapping_and_a_source_together_are_a_usage_error(tmp_path: Path) -> None:
    mapping, args = _setup(tmp_path)
    result = CliRunner().invoke(main, [*args, "--mapping", str(mapping), "--source", "okta"])
    assert result.exit_code == 2, result.output
    assert "leave out" in result.stderr and "--source okta" in result.stderr
    assert not (tmp_path / "lake").exists() and (tmp_path / "inbox" / "app.jsonl").exists()


def test_a_missing_mapping_file_is_a_usage_error(tmp_path: Path) -> None:
    _, args = _setup(tmp_path)
    result = CliRunner().invoke(main, [*args, "--mapping", str(tmp_path / "missing.toml")])
    assert result.exit_code == 2, result.output
    assert "missing.toml" in result.stderr
    assert not (tmp_path / "lake").exists()


def test_a_broken_mapping_exits_1_as_for_ingest_and_leaves_the_inbox_alone(tmp_path: Path) -> None:
    mapping, args = _setup(tmp_path, MAPPING.replace("[fields]", "[feilds]"))
    watched = CliRunner().invoke(main, [*args, "--mapping", str(mapping)])
    ingested = CliRunner().invoke(main, ["ingest", str(tmp_path / "inbox"), "--mapping", str(mapping),
                                         "--lake", str(tmp_path / "lake")])
    assert watched.exit_code == ingested.exit_code == 1, watched.output
    assert "error:" in watched.stderr and "feilds" in watched.stderr
    assert watched.stderr.splitlines()[-1] == ingested.stderr.splitlines()[-1]
    assert not (tmp_path / "lake").exists()
    assert sorted(p.name for p in (tmp_path / "inbox").iterdir()) == ["app.jsonl", "okta.jsonl"]
