"""Text written with a byte order mark (Notepad, PowerShell) or in UTF-16 or UTF-32 without one
reads as the same text in UTF-8: a UTF-8 mark is passed over, UTF-16 and UTF-32 are turned into
UTF-8; records land as they would from UTF-8."""

from __future__ import annotations

import codecs
import gzip
import io
import json
from pathlib import Path

import pytest

from auditlake.ingest import ingest
from auditlake.lake import LakePaths, scan_events, scan_quarantine
from auditlake.sources import cloudtrail
from auditlake.sources.compression import open_input
from auditlake.sources.framing import json_frames
from auditlake.sources.registry import detect_path
from auditlake.sources.text_encoding import as_utf8

DATA = Path(__file__).parent / "data" / "cloudtrail"
EVENTS = [json.loads(line) for line in (DATA / "events.jsonl").read_text().splitlines()]
TEXTS = {
    "json lines": "".join(json.dumps(e, ensure_ascii=False) + "\r\n" for e in EVENTS),
    "pretty array": json.dumps(EVENTS, indent=2, ensure_ascii=False),
    "records file": json.dumps({"Records": EVENTS}, ensure_ascii=False),
}
ENCODINGS = {
    "utf-8 with bom": lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
    "utf-16le": lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
    "utf-16be": lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
    "utf-32le": lambda text: codecs.BOM_UTF32_LE + text.encode("utf-32-le"),
    "utf-32be": lambda text: codecs.BOM_UTF32_BE + text.encode("utf-32-be"),
    "utf-16le without bom": lambda text: text.encode("utf-16-le"),
    "utf-16be without bom": lambda text: text.encode("utf-16-be"),
    "utf-32le without bom": lambda text: text.encode("utf-32-le"),
    "utf-32be without bom": lambda text: text.encode("utf-32-be"),
}


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("framing", TEXTS)
def test_marked_text_frames_as_its_utf8(tmp_path: Path, framing: str, encoding: str) -> None:
    plain = tmp_path / "plain.json"
    plain.write_text(TEXTS[framing], encoding="utf-8")
    marked = tmp_path / "marked.json"
    marked.write_bytes(ENCODINGS[encoding](TEXTS[framing]))

    assert [f.raw for f in json_frames(marked)] == [f.raw for f in json_frames(plain)]
    assert detect_path(marked) is cloudtrail.SPEC


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_marked_inputs_land_as_the_utf8_ones(tmp_path: Path, encoding: str) -> None:
    plain = tmp_path / "plain.json"
    plain.write_text(TEXTS["pretty array"], encoding="utf-8")
    marked = tmp_path / "marked.json.gz"
    marked.write_bytes(gzip.compress(ENCODINGS[encoding](TEXTS["pretty array"])))
    lakes = {name: LakePaths.at(tmp_path / name) for name in ("plain", "marked")}
    for name, path in (("plain", plain), ("marked", marked)):
        summary = ingest([path], lakes[name], workers=1)
        assert (summary.added, summary.errors) == (len(EVENTS), [])

    rows = {name: scan_events(lake).drop("ingested_at").collect().sort("event_uid") for name, lake in lakes.items()}
    assert rows["marked"].equals(rows["plain"])
    assert not any(raw.startswith("\ufeff") for raw in rows["marked"]["raw"].to_list())


def test_a_lone_surrogate_in_utf16_quarantines_its_record_only(tmp_path: Path) -> None:
    lines = [json.dumps(e) for e in EVENTS]
    bad = lines[1].replace('"eventName": "', '"eventName": "X', 1).encode("utf-16-le")
    at = bad.index("X".encode("utf-16-le"))
    bad = bad[:at] + b"\x00\xd8" + bad[at + 2 :]  # X becomes an unpaired high surrogate
    path = tmp_path / "ps.jsonl"
    path.write_bytes(codecs.BOM_UTF16_LE + b"\n\x00".join([lines[0].encode("utf-16-le"), bad,
                                                          lines[2].encode("utf-16-le")]))
    lake = LakePaths.at(tmp_path / "lake")

    summary = ingest([path], lake, workers=1)

    assert (summary.records, summary.added) == (3, 2)
    (raw,) = scan_quarantine(lake).collect()["raw"].to_list()
    assert b"\xed\xa0\x80" in raw  # the surrogate as UTF-8 would write it, which it refuses


def test_an_odd_last_byte_of_utf16_is_reported_as_a_cut_input(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    path.write_bytes(codecs.BOM_UTF16_LE + TEXTS["json lines"].encode("utf-16-le")[:-1])

    *good, cut = json_frames(path)

    assert [json.loads(f.raw) for f in good] == EVENTS[:2]
    assert cut.error is not None and "inside a character of its UTF-16LE text" in cut.error


def test_text_without_a_mark_is_read_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "plain.jsonl"
    path.write_bytes(b"\xff not a mark\n")
    with open_input(path) as handle:
        assert handle.read() == b"\xff not a mark\n"


def test_a_stream_failing_at_its_first_read_fails_every_read() -> None:
    class Broken(io.BufferedReader):
        def peek(self, size: int = 0) -> bytes:
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")

    handle = as_utf8(Broken(io.BytesIO(b"x")))  # type: ignore[arg-type]
    for _ in range(2):
        with pytest.raises(EOFError):
            handle.read(10)


@pytest.mark.parametrize(
    ("text", "encoding", "named"),
    [
        ("type=USER_LOGIN msg=audit(1700000000.123:42): pid=9\n", "utf-16-le", "UTF-16LE without BOM"),
        (TEXTS["json lines"], "utf-32-be", "UTF-32BE without BOM"),
        (TEXTS["json lines"], "utf-8", None),
    ],
)
def test_sources_names_an_encoding_told_without_a_mark(tmp_path: Path, text: str, encoding: str, named: str | None) -> None:
    from auditlake.sources.input_report import describe_input

    path = tmp_path / "in.log"
    path.write_bytes(text.encode(encoding))
    report = describe_input(path)
    assert report.source is not None
    assert (named or "") in report.read_as and ("without BOM" in report.read_as) == (named is not None)
