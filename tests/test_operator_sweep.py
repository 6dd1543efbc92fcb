"""`auditlake quarantine` and `auditlake sources` as an operator uses them: on lakes and inputs
that are not what they should be, in a narrow terminal, with what the logs hold shown and never
obeyed, and with `sources` telling of each input what `ingest` then does with it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner, Result

from auditlake.cli import main

ESCAPES = b'{"uuid": "9", "note": "\x1b[2J\x1b]0;title\x07 [bold]kept[/bold] \xe2\x80\xae"'  # cut short
WIDE = {"COLUMNS": "400"}


def bad_lines(count: int, tag: str = "a") -> bytes:
    """`count` Okta records each quarantined on its own (their time is not a time)."""
    return b"".join(b'{"uuid": "%s%d", "published": "nope", "eventType": "x"}\n' % (tag.encode(), n)
                    for n in range(count))


def run(*args: str, env: dict[str, str] | None = None, stdin: bytes | None = None) -> Result:
    return CliRunner(env=env).invoke(main, list(args), input=stdin)


def ingested(folder: Path, name: str, data: bytes, *, source: str = "auto") -> str:
    """A lake in `folder` holding what ingesting `data` as the file `name` leaves in it."""
    log = folder / name
    log.write_bytes(data)
    lake = str(folder / "lake")
    result = run("ingest", str(log), "--lake", lake, "--source", source, "--workers", "1", "--json")
    assert result.exit_code in (0, 3), result.output
    return lake


def test_the_table_shows_escape_sequences_and_markup_instead_of_obeying_them(tmp_path: Path) -> None:
    lake = ingested(tmp_path, "app[prod].jsonl", ESCAPES + b"\n", source="okta")
    table = run("quarantine", "--lake", lake, env=WIDE)
    assert table.exit_code == 0, table.output
    assert "\x1b" not in table.stdout and "\x07" not in table.stdout and "\u202e" not in table.stdout
    assert "\\x1b[2J\\x1b]0;title\\x07 [bold]kept[/bold] \\u202e" in table.stdout
    assert "app[prod].jsonl" in table.stdout  # a file name is not taken for markup either


def test_the_preview_is_cut_between_characters_and_says_it_was_cut(tmp_path: Path) -> None:
    record = b"{" + b"x" * 118 + "€".encode() * 10
    lake = ingested(tmp_path, "long.jsonl", record + b"\n", source="okta")
    table = run("quarantine", "--lake", lake, env=WIDE).stdout
    assert "x" * 118 + "€…" in table and "\\xe2" not in table


def test_records_are_listed_in_the_order_of_their_lines(tmp_path: Path) -> None:
    lake = ingested(tmp_path, "t.jsonl", bad_lines(12), source="okta")
    records = [json.loads(line) for line in run("quarantine", "--lake", lake, "--json").stdout.splitlines()]
    assert [r["location"] for r in records] == [f"t.jsonl:{n}" for n in range(1, 13)]


def test_a_folder_that_is_not_a_lake_is_refused_not_reported_empty(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.jsonl").write_text("{}\n")
    result = run("quarantine", "--lake", str(tmp_path / "logs"))
    assert result.exit_code == 2 and "Nothing is quarantined" not in result.stdout
    assert "no lake at" in result.stderr


def test_a_damaged_commit_record_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    lake = ingested(tmp_path, "t.jsonl", b"{bad\n", source="okta")
    (Path(lake) / "_state" / "commits" / "000000000002-00000000000000000000000000000000.json").write_text("{")
    result = run("quarantine", "--lake", lake)
    assert result.exit_code == 1 and result.exception is not None and isinstance(result.exception, SystemExit)
    assert result.stderr.startswith("error: ") and "commit record is unreadable" in result.stderr


def test_a_misspelt_source_is_a_usage_error_naming_what_is_quarantined(tmp_path: Path) -> None:
    lake = ingested(tmp_path, "t.jsonl", b"{bad\n", source="okta")
    misspelt = run("quarantine", "--lake", lake, "--source", "otka")
    assert misspelt.exit_code == 2 and "unknown source 'otka'" in misspelt.stderr
    assert "okta.system" in misspelt.stderr
    assert "1 quarantined record(s)" in run("quarantine", "--lake", lake, "--source", "okta").stdout
    elsewhere = run("quarantine", "--lake", lake, "--source", "github")
    assert elsewhere.exit_code == 0 and "Nothing of github.audit is quarantined" in elsewhere.stdout


def test_counts_read_no_record_bytes_and_the_table_only_those_it_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = ingested(tmp_path, "a.jsonl", bad_lines(30, "a"), source="okta")
    ingested(tmp_path, "b.jsonl", bad_lines(30, "b"), source="okta")
    collected: list[pl.DataFrame] = []
    collect = pl.LazyFrame.collect

    def recorded(self: pl.LazyFrame, *args: object, **kwargs: object) -> pl.DataFrame:
        frame = collect(self, *args, **kwargs)  # type: ignore[arg-type]
        collected.append(frame)
        return frame

    monkeypatch.setattr(pl.LazyFrame, "collect", recorded)
    assert "60 quarantined record(s)" in run("quarantine", "--lake", lake, "--limit", "0").stdout
    assert not [f for f in collected if "raw" in f.columns]
    assert run("quarantine", "--lake", lake, "--json", "--limit", "3").stdout.count("\n") == 3
    assert max(f.height for f in collected if "raw" in f.columns) == 3


def test_sources_reads_what_is_piped_in_as_ingest_does(tmp_path: Path) -> None:
    okta = (b'{"uuid": "1", "published": "2026-03-02T00:00:00.000Z", "eventType": "user.session.start", '
            b'"actor": {"alternateId": "a"}}\n')
    told = run("sources", "-", "--json", stdin=okta)
    assert told.exit_code == 0, told.output
    assert json.loads(told.stdout) == {"input": "-", "source": "okta.system", "read_as": "JSON Lines",
                                       "note": None, "passed_over": False}
    read, write = os.pipe()
    os.write(write, okta)
    os.close(write)
    try:
        piped = run("sources", f"/dev/fd/{read}", "--json")
    finally:
        os.close(read)
    assert (json.loads(piped.stdout)["source"], piped.exit_code) == ("okta.system", 0)


def test_sources_tells_a_device_as_ingest_does_without_reading_it(tmp_path: Path) -> None:
    ingest = run("ingest", "/dev/null", "--lake", str(tmp_path / "lake"), "--json")
    assert ingest.exit_code == 3 and "a device" in json.loads(ingest.stdout)["errors"][0]
    for device in ("/dev/null", "/dev/zero"):  # reading /dev/zero would never end
        told = run("sources", device, "--json")
        assert told.exit_code == 3, told.output
        report = json.loads(told.stdout)
        assert (report["source"], report["read_as"], report["passed_over"]) == (None, "device", False)


def test_sources_tells_of_json_nested_too_deeply_without_a_traceback(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    told = run("sources", str(deep), "--json")
    assert told.exit_code == 3, told.output
    assert "nested too deeply" in json.loads(told.stdout)["note"]


def test_a_narrow_terminal_cuts_no_source_name_or_path(tmp_path: Path) -> None:
    narrow = {"COLUMNS": "40"}
    log = tmp_path / "a-rather-long-file-name.jsonl"
    log.write_text('{"uuid": "1", "published": "2026-03-02T00:00:00.000Z", "eventType": "x", '
                   '"actor": {"alternateId": "a"}}\n')
    for args in (["sources"], ["sources", str(log)]):
        assert_fits(run(*args, env=narrow).stdout, 40)
    lake = ingested(tmp_path, "t.jsonl", b"{" + b"y" * 300 + b"\n", source="okta")
    assert_fits(run("quarantine", "--lake", lake, "--limit", "0", env=narrow).stdout, 40)


def assert_fits(text: str, width: int) -> None:
    """The tables of `text` are at most `width` wide, and nothing in them was cut short."""
    rows = [line for line in text.splitlines() if line[:1] in "┏┃┡│└"]
    assert rows and max(map(len, rows)) <= width
    assert "…" not in text
