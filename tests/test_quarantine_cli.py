"""`auditlake quarantine`: --json lists every record and carries its bytes without loss; the
table keeps a cap and says what it left out; --limit 0 means counts only in both modes."""

from __future__ import annotations

import base64
import json

import pytest
from click.testing import CliRunner, Result

from auditlake.cli import main
from auditlake.lake.quarantine import record_json

GOOD = (b'{"eventID": "e-1", "eventTime": "2024-03-01T10:00:00Z", "eventSource": "s3.amazonaws.com", '
        b'"eventName": "GetObject", "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/a"}}')
ESCAPED = b"{broken \\xff"  # the four characters backslash, x, f, f
BYTE = b"{broken \xff"  # the byte 0xff
BROKEN = 25


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("quarantine")
    lines = [GOOD, ESCAPED, BYTE, *(f"{{bad{i}".encode() for i in range(BROKEN)), b""]
    (folder / "t.jsonl").write_bytes(b"\n".join(lines))
    result = CliRunner().invoke(main, ["ingest", str(folder / "t.jsonl"), "--lake", str(folder / "lake"),
                                       "--workers", "1", "--json"])
    assert result.exit_code == 0, result.output
    return str(folder / "lake")


def quarantine(lake: str, *args: str) -> Result:
    result = CliRunner().invoke(main, ["quarantine", "--lake", lake, *args])
    assert result.exit_code == 0, result.output
    return result


def test_json_lists_every_record_without_a_limit(lake: str) -> None:
    result = quarantine(lake, "--json")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == BROKEN + 2 and result.stderr == ""
    assert all("record_hash" not in r for r in records)


def test_json_raw_is_lossless_text_or_base64(lake: str) -> None:
    records = {r["location"]: r for r in map(json.loads, quarantine(lake, "--json").stdout.splitlines())}
    escaped, byte = records["t.jsonl:2"], records["t.jsonl:3"]
    assert (escaped["raw"], escaped["raw_base64"]) == (ESCAPED.decode(), None)
    assert byte["raw"] is None and base64.b64decode(byte["raw_base64"]) == BYTE
    assert records["t.jsonl:4"]["raw"] == "{bad0"


def test_json_with_a_limit_lists_that_many_and_says_how_many_more(lake: str) -> None:
    result = quarantine(lake, "--json", "--limit", "3")
    assert len(result.stdout.splitlines()) == 3
    assert f"{BROKEN + 2 - 3} more quarantined record(s) not listed" in result.stderr


def test_limit_0_means_counts_only_in_json_too(lake: str) -> None:
    counts = [json.loads(line) for line in quarantine(lake, "--json", "--limit", "0").stdout.splitlines()]
    assert all(set(c) == {"source", "reason", "count"} for c in counts)
    assert sum(c["count"] for c in counts) == BROKEN + 2


def test_the_table_keeps_its_cap_and_says_what_it_left_out(lake: str) -> None:
    result = quarantine(lake)
    assert f"{BROKEN + 2:,} quarantined record(s)" in result.stdout and "First 20" in result.stdout
    assert f"{BROKEN + 2 - 20} more quarantined record(s) not listed: --limit {BROKEN + 2}" in result.stderr
    counts_only = quarantine(lake, "--limit", "0")
    assert "First" not in counts_only.stdout and counts_only.stderr == ""


def test_help_states_the_defaults_and_the_raw_fields() -> None:
    text = CliRunner().invoke(main, ["quarantine", "--help"]).output
    assert "all with --json" in text and "0: counts" in text and "raw_base64" in text


def test_record_json_keeps_utf8_as_text_and_other_bytes_as_base64() -> None:
    row = {"record_hash": b"h", "source": "s", "raw": "é".encode()}
    assert record_json(row) == {"source": "s", "raw": "é", "raw_base64": None}
    assert record_json({**row, "raw": b"\xe9"}) == {"source": "s", "raw": None, "raw_base64": "6Q=="}
