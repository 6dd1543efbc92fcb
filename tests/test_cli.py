from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from auditlake.cli import main
from auditlake.lake import scan_events


def _trail_file(path):
    record = {
        "eventID": "e-1", "eventTime": "2024-03-01T10:00:00Z", "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject", "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/a"},
    }
    path.write_text(json.dumps(record) + "\n{broken\n")
    return path


def test_ingest_json_summary_and_exit_code(tmp_path):
    data = _trail_file(tmp_path / "t.jsonl")
    result = CliRunner().invoke(main, ["ingest", str(data), "--lake", str(tmp_path / "lake"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["added"] == 1
    assert summary["rows"] == [{"source": "aws.cloudtrail", "dt": "2024-03-01", "rows": 1}]
    assert summary["quarantined"][0]["count"] == 1
    again = json.loads(CliRunner().invoke(main, ["ingest", str(data), "--lake", str(tmp_path / "lake"), "--json"]).stdout)
    assert again["added"] == 0 and again["duplicates"] == {"aws.cloudtrail": 1}


def test_human_summary_names_source_and_day(tmp_path):
    data = _trail_file(tmp_path / "t.jsonl")
    result = CliRunner().invoke(main, ["ingest", str(data), "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 0
    assert "aws.cloudtrail" in result.stdout and "2024-03-01" in result.stdout
    assert "1 quarantined" in result.stdout


def test_an_empty_folder_adds_nothing_and_says_so(tmp_path):
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / ".hidden.json").write_text("{}")
    result = CliRunner().invoke(main, ["ingest", str(tmp_path / "inbox"), "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 0
    assert result.stdout.startswith("No file to read (names starting with '.' are skipped): nothing added to")
    assert "┏" not in result.stdout  # no empty table


def test_unknown_source_is_a_usage_error(tmp_path):
    data = _trail_file(tmp_path / "t.jsonl")
    result = CliRunner().invoke(main, ["ingest", str(data), "--lake", str(tmp_path / "lake"), "--source", "nope"])
    assert result.exit_code == 2
    assert "unknown source 'nope'" in result.output


def test_unrecognised_input_exits_partial(tmp_path):
    odd = tmp_path / "odd.json"
    odd.write_text('{"hello": 1}\n')
    result = CliRunner().invoke(main, ["ingest", str(odd), "--lake", str(tmp_path / "lake"), "--json"])
    assert result.exit_code == 3
    assert "no registered source recognises" in json.loads(result.stdout)["errors"][0]


def test_lake_from_environment(tmp_path, monkeypatch):
    data = _trail_file(tmp_path / "t.jsonl")
    monkeypatch.setenv("AUDITLAKE_LAKE", str(tmp_path / "envlake"))
    result = CliRunner().invoke(main, ["ingest", str(data), "--json"])
    assert json.loads(result.stdout)["lake"] == str(tmp_path / "envlake")
    assert (tmp_path / "envlake" / "events").is_dir()


def test_sources_lists_registry():
    result = CliRunner().invoke(main, ["sources", "--json"])
    rows = json.loads(result.stdout)
    assert "aws.cloudtrail" in [row["name"] for row in rows]
    assert all(row["reads"] for row in rows)  # every source says what inputs it takes
    table = CliRunner().invoke(main, ["sources"]).stdout
    assert "Winlogbeat" in table and "compressed" in table


def test_generic_mapping_from_toml(tmp_path):
    data_dir = Path(__file__).parent / "sources" / "data" / "generic"
    lake = tmp_path / "lake"
    result = CliRunner().invoke(main, ["ingest", str(data_dir / "events.jsonl"), "--mapping",
                                       str(data_dir / "example.toml"), "--lake", str(lake), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {row["source"] for row in summary["rows"]} == {"myapp.audit"}
    actors = scan_events(lake, sources=["myapp.audit"]).select("actor_name").collect()["actor_name"]
    assert "alice" in actors.to_list()


def test_mapping_with_unsafe_name_is_refused(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "../../etc"\n[fields]\ntime = "ts"\n')
    data = tmp_path / "x.jsonl"
    data.write_text('{"ts": "2024-03-01T00:00:00Z"}\n')
    result = CliRunner().invoke(main, ["ingest", str(data), "--mapping", str(bad), "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 1
    assert "bad.toml" in result.output
    assert not (tmp_path / "etc").exists()


def test_quarantine_lists_reasons_and_records(tmp_path):
    data = _trail_file(tmp_path / "t.jsonl")
    lake = str(tmp_path / "lake")
    CliRunner().invoke(main, ["ingest", str(data), "--lake", lake, "--workers", "1"])
    human = CliRunner().invoke(main, ["quarantine", "--lake", lake])
    assert human.exit_code == 0
    assert "1 quarantined record(s)" in human.stdout and "t.jsonl:2" in human.stdout
    lines = CliRunner().invoke(main, ["quarantine", "--lake", lake, "--json"]).stdout.splitlines()
    record = json.loads(lines[0])
    assert record["raw"] == "{broken" and record["location"] == "t.jsonl:2"
    assert record["reason"].startswith("invalid JSON") or "truncated" in record["reason"]


def test_quarantine_of_clean_lake(tmp_path):
    (tmp_path / "lake").mkdir()
    result = CliRunner().invoke(main, ["quarantine", "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 0 and "Nothing is quarantined" in result.stdout
    negative = CliRunner().invoke(main, ["quarantine", "--lake", str(tmp_path / "lake"), "--limit", "-1"])
    assert negative.exit_code == 2 and "--limit" in negative.output


def test_commands_that_read_a_lake_refuse_one_that_is_not_there(tmp_path):
    """A mistyped --lake (or a volume not mounted) must not pass for an empty lake, nor leave
    a folder behind at the wrong path."""
    (tmp_path / "rule.yml").write_text(RULE)
    missing = tmp_path / "lake"
    for command in (["quarantine"], ["detect", "--rules", str(tmp_path / "rule.yml"), "--no-cache"]):
        result = CliRunner().invoke(main, [*command, "--lake", str(missing)])
        assert result.exit_code == 2, result.output
        assert f"no lake at {missing}" in result.output and "auditlake ingest" in result.output
        assert not missing.exists()


def test_commands_that_read_a_lake_refuse_a_folder_that_holds_something_else(tmp_path):
    """A folder of logs named as --lake (or $AUDITLAKE_LAKE) is no lake with nothing in it:
    detect would report a quiet run. An empty folder is a lake not written yet."""
    (tmp_path / "rule.yml").write_text(RULE)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "okta.jsonl").write_text("{}\n")
    for command in (["quarantine"], ["detect", "--rules", str(tmp_path / "rule.yml"), "--no-cache"]):
        result = CliRunner().invoke(main, [*command, "--lake", str(logs)])
        assert result.exit_code == 2, result.output
        assert f"no lake at {logs}" in result.output and "_state/" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    assert CliRunner().invoke(main, ["quarantine", "--lake", str(empty)]).exit_code == 0


def test_commands_of_other_modules_are_listed_and_loaded_when_asked_for():
    import subprocess
    import sys

    from auditlake.cli import LAZY_COMMANDS

    listed = CliRunner().invoke(main, ["--help"]).output
    assert all(f"  {name} " in listed for name in LAZY_COMMANDS)
    for name in LAZY_COMMANDS:
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0 and f"Usage: main {name}" in result.output
    # a fresh interpreter: importing the command for an ingest loads no rule compiler
    probe = "import sys, auditlake.cli; print(sorted(m for m in sys.modules if m.startswith(('sigma', 'auditlake.detection'))))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_getting_started_examples_name_real_commands_and_options():
    from auditlake.cli import HELP

    shown = CliRunner().invoke(main, ["--help"]).output
    assert "Getting started:" in shown and "parse flags" not in shown
    block = HELP.split("Getting started:", 1)[1].split("\n\n", 1)[0]
    examples = [line.split("#", 1)[0].split() for line in block.strip().splitlines()]
    assert len(examples) >= 4 and all(words[0] == "auditlake" for words in examples)
    for words in examples:
        # --help last: click rejects an unknown command or option before it prints any help
        result = CliRunner().invoke(main, [*words[1:], "--help"])
        assert result.exit_code == 0, (words, result.output)
        assert result.output.startswith(f"Usage: main {' '.join(w for w in words[1:] if w.isalpha())}")


RULE = """\
title: S3 object read
id: 7f1e3a52-4c1b-4d0e-9f4a-2b8c6d5e1a01
status: test
logsource: {product: aws, service: cloudtrail}
detection: {sel: {eventName: GetObject}, condition: sel}
level: low
"""


def test_detect_source_takes_aliases_and_refuses_what_the_lake_lacks(tmp_path):
    data = _trail_file(tmp_path / "t.jsonl")
    lake = str(tmp_path / "lake")
    CliRunner().invoke(main, ["ingest", str(data), "--lake", lake])
    (tmp_path / "rule.yml").write_text(RULE)
    detect = ["detect", "--rules", str(tmp_path / "rule.yml"), "--lake", lake, "--no-cache", "--json"]
    unknown = CliRunner().invoke(main, [*detect, "--source", "cloudtrial"])
    assert unknown.exit_code == 2
    assert "unknown source 'cloudtrial'" in unknown.output and "aws.cloudtrail" in unknown.output
    alias = CliRunner().invoke(main, [*detect, "--source", "cloudtrail"])
    assert alias.exit_code == 0, alias.output
    assert [json.loads(line)["rule_title"] for line in alias.stdout.splitlines()] == ["S3 object read"]


def test_demo_refuses_an_empty_organisation(tmp_path):
    for option in (["--days", "0"], ["--scale", "0"], ["--scale", "-1"]):
        result = CliRunner().invoke(main, ["demo", "--lake", str(tmp_path / "lake"), "--synth-dir", str(tmp_path / "s"), *option])
        assert result.exit_code == 2, (option, result.output)
        assert option[0] in result.output


def test_an_empty_input_is_read_as_no_records_not_an_unknown_source(tmp_path):
    """A rotated log can be empty: it is an input of no records, not one nothing recognises."""
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "empty.jsonl").write_bytes(b"")
    _trail_file(folder / "t.jsonl")
    result = CliRunner().invoke(main, ["ingest", str(folder), "--lake", str(tmp_path / "lake"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["inputs"], summary["added"], summary["errors"]) == (2, 1, [])


def test_quarantine_takes_source_aliases_and_names_a_damaged_file(tmp_path):
    data = _trail_file(tmp_path / "t.jsonl")
    lake = tmp_path / "lake"
    CliRunner().invoke(main, ["ingest", str(data), "--lake", str(lake), "--workers", "1"])
    alias = CliRunner().invoke(main, ["quarantine", "--lake", str(lake), "--source", "cloudtrail", "--json"])
    assert [json.loads(line)["location"] for line in alias.stdout.splitlines()] == ["t.jsonl:2"]
    (damaged,) = (lake / "quarantine").rglob("*.parquet")
    damaged.write_bytes(damaged.read_bytes()[:-4] + b"XXXX")
    result = CliRunner().invoke(main, ["quarantine", "--lake", str(lake)])
    assert result.exit_code == 1
    assert "changed or missing since their commit" in result.output and damaged.name in result.output


def test_a_rule_set_of_which_nothing_compiles_fails_the_run(tmp_path):
    """A broken rule among good ones is a warning; a rule set of which nothing compiles is an
    error, so a scheduled run does not pass for a quiet day."""
    (tmp_path / "broken.yml").write_text("title: x\nid: [\n")
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "rule.yml").write_text(RULE)
    (tmp_path / "lake").mkdir()
    lake = str(tmp_path / "lake")
    broken = str(tmp_path / "broken.yml")
    alone = CliRunner().invoke(main, ["detect", "--rules", broken, "--lake", lake, "--no-cache"])
    assert alone.exit_code == 1
    assert "not compiled (yaml)" in alone.output and "no rule left to run" in alone.output
    beside = CliRunner().invoke(main, ["detect", "--rules", broken, "--rules", str(tmp_path / "good"), "--lake", lake])
    assert beside.exit_code == 0, beside.output
    assert "not compiled (yaml)" in beside.output and "no rule left to run" not in beside.output
    watch = ["watch", "--inbox", str(tmp_path / "inbox"), "--rules", broken, "--lake", lake, "--once"]
    assert CliRunner().invoke(main, watch).exit_code == 1


def test_an_input_of_which_every_record_is_quarantined_is_reported(tmp_path):
    """All of an input in quarantine (here: read as the wrong source) exits 3 with the likely
    cause, run after run; some records quarantined among good ones stay a plain summary."""
    data = _trail_file(tmp_path / "t.jsonl")
    lake = str(tmp_path / "lake")
    for _ in range(2):  # the second time, every record is already in quarantine
        wrong = CliRunner().invoke(main, ["ingest", str(data), "--source", "okta", "--lake", lake, "--json"])
        assert wrong.exit_code == 3, wrong.output
        (error,) = json.loads(wrong.stdout)["errors"]
        assert "none of the 2 records could be read" in error and "'okta'" in error
    right = CliRunner().invoke(main, ["ingest", str(data), "--lake", lake, "--json"])
    assert right.exit_code == 0 and json.loads(right.stdout)["errors"] == []


def test_records_piped_in_are_ingested_as_an_input_named_stdin(tmp_path):
    import gzip

    piped = _trail_file(tmp_path / "t.jsonl").read_bytes()  # a record, then a broken line
    lake = str(tmp_path / "lake")
    result = CliRunner().invoke(main, ["ingest", "-", "--lake", lake, "--json"], input=piped)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["inputs"], summary["added"]) == (1, 1)
    (record,) = [json.loads(line) for line in CliRunner().invoke(main, ["quarantine", "--lake", lake, "--json"]).stdout.splitlines()]
    assert record["location"] == "stdin:2" and record["raw"] == "{broken"

    again = CliRunner().invoke(main, ["ingest", "-", "--lake", lake, "--json"], input=gzip.compress(piped))
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["duplicates"] == {"aws.cloudtrail": 1}
    assert scan_events(lake).collect().height == 1


def test_streams_are_read_only_when_named(tmp_path):
    import io

    from auditlake.sources.piped_inputs import pipes_copied

    stream = io.BytesIO(b'{"a": 1}\n')
    (tmp_path / "x.jsonl").write_text("{}\n")
    with pipes_copied([tmp_path / "x.jsonl", tmp_path], stream) as paths:
        assert paths == [tmp_path / "x.jsonl", tmp_path] and stream.tell() == 0
    with pipes_copied([Path("-"), tmp_path / "x.jsonl", Path("-")], stream) as paths:
        copy = paths[0]
        assert paths == [copy, tmp_path / "x.jsonl"] and copy.name == "stdin"
        assert copy.read_bytes() == b'{"a": 1}\n'
    assert not copy.exists()


def test_a_pipe_named_as_a_path_is_read_whole(tmp_path):
    """`auditlake ingest <(zcat trail.json.gz)` names a pipe: recognising its source must not
    eat the records it reads first."""
    import os
    import subprocess
    import sys
    import threading

    fifo = tmp_path / "trail.jsonl"
    os.mkfifo(fifo)
    records = b"".join(json.dumps({**json.loads(_trail_file(tmp_path / "t.jsonl").read_text().splitlines()[0]),
                                   "eventID": f"e-{n}"}).encode() + b"\n" for n in range(3000))
    writer = threading.Thread(target=lambda: fifo.write_bytes(records), daemon=True)
    writer.start()
    command = [sys.executable, "-m", "auditlake", "ingest", str(fifo), "--lake", str(tmp_path / "lake"), "--json"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)  # a regression waits forever
    writer.join(timeout=10)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["added"] == 3000


def test_a_batch_of_no_records_is_refused(tmp_path):
    import pytest

    from auditlake.ingest import ingest
    from auditlake.lake import LakePaths

    data = _trail_file(tmp_path / "t.jsonl")
    for rows in ("0", "-5"):
        result = CliRunner().invoke(main, ["ingest", str(data), "--lake", str(tmp_path / "lake"), "--batch-rows", rows])
        assert result.exit_code == 2 and "--batch-rows" in result.output
    with pytest.raises(ValueError, match="at least 1"):
        ingest([data], LakePaths.at(tmp_path / "lake"), batch_rows=0)


def test_sources_tells_what_ingest_would_make_of_each_input(tmp_path):
    """`auditlake sources PATH...` reads nothing into a lake: per input, the source and how it
    is read, or why nothing reads it (exit 3)."""
    import gzip
    import shutil

    from tests.sources.test_windows import REGRESSION
    from tests.test_ingest import DIGEST

    evtx = next(REGRESSION.rglob("*.evtx"))

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    trail = json.loads(_trail_file(tmp_path / "t.jsonl").read_text().splitlines()[0])
    (inbox / "trail.json.gz").write_bytes(gzip.compress(json.dumps({"Records": [trail]}).encode()))
    (inbox / "digest.json.gz").write_bytes(gzip.compress(json.dumps(DIGEST).encode()))
    (inbox / "bridge.json").write_text(
        '{"version":"0","id":"1","detail-type":"AWS API Call via CloudTrail","source":"aws.s3","detail":'
        + json.dumps(trail) + "}")
    shutil.copyfile(evtx, inbox / "host.evtx")
    (inbox / "mystery.jsonl").write_text('{"ts": 1, "who": "x"}\n')
    result = CliRunner().invoke(main, ["sources", str(inbox), "--json"])
    assert result.exit_code == 3, result.output
    reports = {Path(r["input"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert {n: (r["source"], r["read_as"]) for n, r in reports.items()} == {
        "trail.json.gz": ("aws.cloudtrail", "CloudTrail Records file (gzip)"),
        "digest.json.gz": (None, "file holding no events (gzip)"),
        "bridge.json": ("aws.cloudtrail", "EventBridge events"),
        "host.evtx": ("windows.eventlog", "EVTX file"),
        "mystery.jsonl": (None, "JSON Lines"),
    }
    assert reports["digest.json.gz"]["note"].startswith("passed over: CloudTrail digest file")
    assert [n for n, r in reports.items() if r["passed_over"]] == ["digest.json.gz"]
    assert "keys are ts, who" in reports["mystery.jsonl"]["note"]
    assert not (tmp_path / "data").exists()  # nothing was ingested anywhere

    (inbox / "mystery.jsonl").unlink()
    table = CliRunner().invoke(main, ["sources", str(inbox)])
    assert table.exit_code == 0 and "EventBridge" in table.stdout
