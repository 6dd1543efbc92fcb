"""Windows event logs: every SigmaHQ regression case from both `.evtx` and JSON, plus bad input."""

from __future__ import annotations

import gzip
import json
import shutil
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from auditlake.sources import windows
from auditlake.sources.base import Frame, Row
from auditlake.sources.chunking import LineChunk, frame_chunks
from auditlake.sources.evtx_frames import CHUNK_SIZE, FILE_HEADER_SIZE, evtx_frames, sniff
from auditlake.sources.records import Rejected, Skipped, normalize_frames
from auditlake.sources.table import rows_to_table
from auditlake.sources.windows_events import actor_type

DATA = Path(__file__).parent / "data" / "windows"
REGRESSION = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sigmahq" / "regression_data"
DEFENDER_CASE = (
    REGRESSION / "rules-emerging-threats/2026/Exploits/RedSun"
    / "win_defender_exploit_redsun_tiering_engine_detected_as_eicar"
)
SEVEN_RECORDS = REGRESSION / "rules/windows/file/file_event/file_event_win_hktl_netexec_file_indicators"
"""A case whose `.evtx` holds 7 records in its one chunk (ids 1..7): the corruption donor."""


def ingest(path: Path) -> tuple[list[Row], list[Rejected]]:
    return split(normalize_frames(windows.SPEC, windows.frames(path)))


def split(results: Iterable[Row | Rejected | Skipped]) -> tuple[list[Row], list[Rejected]]:
    """Rows and rejections; Windows never skips a record on purpose."""
    rows: list[Row] = []
    rejected: list[Rejected] = []
    for result in results:
        assert not isinstance(result, Skipped), result
        (rejected if isinstance(result, Rejected) else rows).append(result)
    return rows, rejected


def only(case: Path, suffix: str) -> Path:
    (found,) = case.glob(f"*{suffix}")
    return found


Cases = dict[Path, tuple[list[Row], list[Rejected], list[Row], list[Rejected]]]
"""Case folder → (json rows, json rejections, evtx rows, evtx rejections)."""


@pytest.fixture(scope="module")
def regression() -> Cases:
    """Every regression case, ingested from its `.json` and from its `.evtx`."""
    assert REGRESSION.is_dir(), f"shared test data missing: expected {REGRESSION}"
    cases = sorted(p.parent for p in REGRESSION.rglob("info.yml") if any(p.parent.glob("*.evtx")))
    out = {}
    for case in cases:
        out[case] = (*ingest(only(case, ".json")), *ingest(only(case, ".evtx")))
    return out


# --- the 202 SigmaHQ regression cases -------------------------------------------------------


def test_every_regression_case_ingests_from_json_and_evtx_alike(regression: Cases) -> None:
    assert len(regression) == 202
    offenders = []
    for case, (json_rows, json_bad, evtx_rows, evtx_bad) in regression.items():
        name = case.relative_to(REGRESSION)
        if json_bad or evtx_bad:
            reasons = {r.reason for r in json_bad + evtx_bad}
            offenders.append(f"{name}: rejected {len(json_bad)} json / {len(evtx_bad)} evtx: {reasons}")
        if not json_rows or len(json_rows) != len(evtx_rows):
            offenders.append(f"{name}: {len(json_rows)} json events but {len(evtx_rows)} evtx events")
        if {r["event_uid"] for r in json_rows} != {r["event_uid"] for r in evtx_rows}:
            offenders.append(f"{name}: event_uid differs between .json and .evtx")
        for row in json_rows + evtx_rows:
            missing = [c for c in ("EventID", "Channel", "Provider_Name", "Computer") if row.get(c) in (None, "")]
            if missing:
                offenders.append(f"{name}: {row['raw_format']} event lacks {missing}")
    assert not offenders, "\n".join(offenders)


def test_regression_totals_match_the_data_readme(regression: Cases) -> None:
    json_total = sum(len(v[0]) for v in regression.values())
    evtx_total = sum(len(v[2]) for v in regression.values())
    concatenated = sum(1 for v in regression.values() if len(v[0]) > 1)
    assert (json_total, evtx_total) == (238, 238)
    assert concatenated == 13  # files of several pretty-printed objects back to back


def test_event_id_is_int64_in_the_table(regression: Cases) -> None:
    rows = [row for v in regression.values() for row in v[0] + v[2]]
    table = rows_to_table(rows, windows.SPEC.native_types)
    assert table.schema.field("EventID").type == pa.int64()
    assert table["EventID"].null_count == 0
    assert table.schema.field("Image").type == pa.string()
    assert pc.sum(pc.equal(table["EventID"], 1)).as_py() > 100


def test_defender_field_names_are_reachable_with_and_without_spaces(regression: Cases) -> None:
    json_rows, _, evtx_rows, _ = regression[DEFENDER_CASE]
    table = rows_to_table(json_rows + evtx_rows, windows.SPEC.native_types)
    for name in ("Threat Name", "ThreatName", "Source Name", "SourceName", "Process Name", "ProcessName"):
        assert name in table.column_names, name
    assert set(table["ThreatName"].to_pylist()) == {"Tool:Win32/EICAR_Test_File"}
    assert table["EventID"].to_pylist() == [1119, 1119]


def test_same_event_from_evtx_and_json_dedupes_but_keeps_its_own_raw(regression: Cases) -> None:
    json_rows, _, evtx_rows, _ = regression[DEFENDER_CASE]
    (from_json,), (from_evtx,) = json_rows, evtx_rows
    assert from_json["event_uid"] == from_evtx["event_uid"] == (
        "swachchhanda|Microsoft-Windows-Windows Defender/Operational|542"
    )
    assert from_json["raw"] == only(DEFENDER_CASE, ".json").read_text().strip()
    assert from_evtx["raw"].startswith('{"Event":{') and from_json["event_hash"] != from_evtx["event_hash"]
    assert from_json["raw_format"] == from_evtx["raw_format"] == "evtx-json"


def test_evtx_keeps_trailing_whitespace_the_json_export_trimmed(regression: Cases) -> None:
    differs = [
        (j.get("ParentCommandLine"), e.get("ParentCommandLine"))
        for json_rows, _, evtx_rows, _ in regression.values()
        for j, e in zip(sorted(json_rows, key=_uid), sorted(evtx_rows, key=_uid), strict=True)
        if j.get("ParentCommandLine") != e.get("ParentCommandLine")
    ]
    trimmed = [e for j, e in differs if e is not None and e != e.rstrip() and e.rstrip() == j]
    assert len(trimmed) >= 70, "the EVTX values must keep the trailing whitespace (known trap)"


def _uid(row: Row) -> str:
    return row["event_uid"]


# --- normalization of literal fixtures ------------------------------------------------------


def test_security_events_map_to_canonical_columns() -> None:
    rows, rejected = ingest(DATA / "security.jsonl")
    assert rejected == []
    logon, failed, cleared, group = rows
    assert logon["EventID"] == 4624  # from {"#attributes": {"Qualifiers": 0}, "#text": 4624}
    assert (logon["action"], logon["class_uid"], logon["activity_id"], logon["category"]) == (
        "logon", 3002, 1, "authentication")
    assert (logon["actor_name"], logon["actor_id"], logon["actor_type"], logon["session_id"]) == (
        "alice", "S-1-5-21-1111-2222-3333-1104", "user", "0x5a1b2c")
    assert (logon["src_ip"], logon["src_host"], logon["outcome"]) == ("192.0.2.10", "LAPTOP-7", "success")
    assert logon["LogonType"] == "10" and logon["TargetUserName"] == "alice"  # Data list spread
    assert logon["time"].isoformat() == "2024-05-01T10:00:00.123456+00:00"  # 7 digits cut to 6
    assert (logon["host"], logon["source_tenant"]) == ("ws01.corp.example.com", "corp.example.com")
    assert logon["event_uid"] == "ws01.corp.example.com|Security|1001"
    assert (failed["outcome"], failed["actor_name"], failed["actor_id"]) == ("failure", "bob", None)
    assert (failed["src_ip"], failed["status_code"], failed["outcome_reason"]) == (
        None, "0xc000006d", "wrong password")  # SubStatus 0xc000006a, not FailureReason %%2313
    assert (cleared["action"], cleared["class_uid"], cleared["category"]) == ("audit log cleared", 1008, "log_admin")
    assert (cleared["SubjectUserName"], cleared["actor_name"]) == ("admin", "admin")  # from UserData
    assert (group["class_uid"], group["activity_id"], group["category"]) == (3006, 3, "iam")
    assert (group["actor_name"], group["target_type"], group["target_name"], group["target_id"]) == (
        "admin", "group", "Administrators", "S-1-5-32-544")


def _logon_of(sid: str, name: str, domain: str) -> bytes:
    system = {"Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}}, "EventID": 4624,
              "Channel": "Security", "Computer": "ws01", "EventRecordID": 1, "Keywords": "0x8020000000000000",
              "TimeCreated": {"#attributes": {"SystemTime": "2024-05-01T10:00:00Z"}}}
    data = {"SubjectUserSid": "S-1-5-18", "SubjectUserName": "WS01$", "TargetUserSid": sid,
            "TargetUserName": name, "TargetDomainName": domain, "LogonType": "2"}
    return json.dumps({"Event": {"System": system, "EventData": data}}).encode()


@pytest.mark.parametrize(
    ("sid", "name", "domain", "kind"),
    [
        ("S-1-5-90-0-1", "DWM-1", "Window Manager", "service"),
        ("S-1-5-96-0-1", "UMFD-1", "Font Driver Host", "service"),
        ("S-1-5-80-3880718306-3832830129-1677859214-2598158968-1052248003", "MSSQLSERVER", "NT SERVICE", "service"),
        ("S-1-5-82-1036420768-1044797643-1061213386-2937092688-4282445334", "DefaultAppPool", "IIS APPPOOL", "service"),
        ("S-1-5-21-1111-2222-3333-1104", "alice", "CORP", "user"),
    ],
)
def test_the_virtual_accounts_of_windows_components_are_services(sid: str, name: str, domain: str, kind: str) -> None:
    """Every interactive logon brings DWM-n and UMFD-n logons with it: they are not people."""
    row = windows.normalize(Frame(_logon_of(sid, name, domain), "f:1"))

    assert (row["actor_id"], row["actor_type"]) == (sid, kind)


def test_a_sysmon_user_of_a_service_domain_is_a_service() -> None:
    assert actor_type(None, "NT SERVICE\\MSSQLSERVER") == "service"
    assert actor_type(None, "Window Manager\\DWM-1") == "service"
    assert actor_type(None, "CORP\\ann") == "user"


_SPELLED_SYSTEM = {
    "evtx_dump": {"Provider": {"#attributes": {"Name": "P", "Guid": "{G}"}},
                  "Execution": {"#attributes": {"ProcessID": 4, "ThreadID": 8}}},
    "xmltodict": {"Provider": {"@Name": "P", "@Guid": "{G}"}, "Execution": {"@ProcessID": 4, "@ThreadID": 8}},
    "separate": {"Provider": None, "Provider_attributes": {"Name": "P", "Guid": "{G}"},
                 "Execution_attributes": {"ProcessID": 4, "ThreadID": 8}},
    "mixed": {"Provider": {"#attributes": {"Name": "P"}, "@Guid": "{G}", "@Name": "not this"},
              "Execution": {"#attributes": {"ProcessID": 4}}, "Execution_attributes": {"ThreadID": 8}},
}


@pytest.mark.parametrize("spelling", sorted(_SPELLED_SYSTEM))
def test_system_attributes_read_in_every_json_spelling_of_xml(spelling: str) -> None:
    system = {"EventID": {"#attributes": {"Qualifiers": 0}, "#text": 4688}, "Channel": "Security",
              "Computer": "h1", "EventRecordID": 7, "Correlation": None,
              "TimeCreated": {"#attributes": {"SystemTime": "2024-01-01T00:00:00Z"}}, **_SPELLED_SYSTEM[spelling]}
    raw = json.dumps({"Event": {"System": system, "EventData": {"NewProcessName": "cmd.exe"}}}).encode()

    row = windows.normalize(Frame(raw, "f:1"))

    assert (row["Provider_Name"], row["Provider_Guid"]) == ("P", "{G}")
    assert (row["ProcessID"], row["ThreadID"], row["EventID"]) == ("4", "8", 4688)
    assert "Correlation_ActivityID" not in row and "Provider_EventSourceName" not in row


def test_sysmon_fields_are_flat_and_canonical_names_are_never_shadowed() -> None:
    rows, rejected = ingest(DATA / "sysmon_concatenated.json")
    assert rejected == []
    sysmon, bare = rows
    assert (sysmon["EventID"], sysmon["Provider_Name"], sysmon["Channel"]) == (
        1, "Microsoft-Windows-Sysmon", "Microsoft-Windows-Sysmon/Operational")
    assert sysmon["CommandLine"] == "cmd.exe /c whoami "
    assert (sysmon["ProcessId"], sysmon["ProcessID"]) == ("4242", "684")  # EventData vs System
    assert (sysmon["Hashes"], sysmon["Tags"]) == ('{"SHA256":"AB12"}', '["a","b"]')
    assert sysmon["ThreatName"] == sysmon["Threat Name"] == "none"
    assert (sysmon["action"], sysmon["class_uid"], sysmon["category"]) == ("process creation", 1007, "process")
    assert sysmon["host"] == "dc01.ad.example.org" and sysmon["time"].year == 2024
    assert (sysmon["actor_name"], sysmon["session_id"], sysmon["target_name"]) == (
        "AD\\carol", "0x1f2e3d", "C:\\Windows\\System32\\cmd.exe")
    assert sysmon["Security_UserID"] == "S-1-5-18" and sysmon["TimeCreated"] == "2024-05-02T08:00:00.000000Z"
    assert (bare["EventID"], bare["action"], bare["class_uid"], bare["outcome"]) == (
        4104, "Microsoft-Windows-PowerShell:4104", 0, "unknown")
    assert (bare["Path"], bare["source_tenant"], bare["event_uid"]) == (
        "", None, "srv9|Microsoft-Windows-PowerShell/Operational|5")


def test_canonical_and_system_names_are_not_native_columns() -> None:
    rows, _ = ingest(DATA / "sysmon_concatenated.json")
    table = rows_to_table(rows, windows.SPEC.native_types)
    assert table["action"].to_pylist()[0] == "process creation"
    assert table["Channel"].to_pylist()[0] == "Microsoft-Windows-Sysmon/Operational"
    assert table.column_names.count("time") == 1 and table.column_names.count("host") == 1
    assert "not the action" in table["raw"].to_pylist()[0]  # still reachable in raw


@pytest.mark.parametrize(("record", "expected"), [
    ({"Event": {"System": {"EventID": 1}}}, True),
    ({"Event": {"System": {}, "EventData": {}}}, True),
    ({"System": {"EventID": 4624, "Channel": "Security"}}, True),
    ({"System": {"Channel": "Security"}}, False),
    ({"Event": "x"}, False),
    ({"Event": {"EventData": {}}}, False),
    ({"eventSource": "s3.amazonaws.com", "eventName": "GetObject"}, False),
])
def test_detect(record: dict[str, object], expected: bool) -> None:
    assert windows.detect(record) is expected


def test_sniff_by_content_not_name(tmp_path: Path) -> None:
    evtx = only(SEVEN_RECORDS, ".evtx")
    assert sniff(evtx.read_bytes()[:64]) and windows.SPEC.sniff is sniff
    disguised = tmp_path / "export.json"
    shutil.copyfile(evtx, disguised)
    rows, rejected = ingest(disguised)
    assert (len(rows), rejected) == (7, [])


def test_json_lines_are_handed_over_in_bulk_and_evtx_frame_by_frame(tmp_path: Path) -> None:
    events = [{"Event": {"System": {"EventID": n, "Channel": "Security"}}} for n in range(5)]
    lines = tmp_path / "events.jsonl"
    lines.write_text("".join(json.dumps(e) + "\n" for e in events))

    chunks = list(frame_chunks(windows.frames(lines), 2))

    assert [len(c) for c in chunks] == [2, 2, 1]
    assert all(isinstance(c, LineChunk) for c in chunks)  # bytes and line numbers, no Frames
    assert [f for c in chunks for f in c] == list(windows.frames(lines))
    evtx = only(SEVEN_RECORDS, ".evtx")
    assert [len(c) for c in frame_chunks(windows.frames(evtx), 4)] == [4, 3]


def test_gzipped_evtx_is_read(tmp_path: Path) -> None:
    packed = tmp_path / "log.evtx.gz"
    packed.write_bytes(gzip.compress(only(SEVEN_RECORDS, ".evtx").read_bytes()))
    rows, rejected = ingest(packed)
    assert (len(rows), rejected) == (7, [])


# --- bad JSON input -------------------------------------------------------------------------

GOOD = {"Event": {"System": {"EventID": 4688, "Channel": "Security", "Computer": "h",
                             "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
                             "EventRecordID": 1,
                             "TimeCreated": {"#attributes": {"SystemTime": "2024-01-01T00:00:00Z"}}},
                  "EventData": {"NewProcessName": "C:\\x.exe", "SubjectUserName": "u"}}}


def event(**changes: object) -> bytes:
    """GOOD with `System` fields changed (None deletes) or `EventData` replaced (`EventData=`)."""
    record = json.loads(json.dumps(GOOD))
    for key, value in changes.items():
        target = record["Event"] if key in ("EventData", "System", "UserData") else record["Event"]["System"]
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    return json.dumps(record).encode()


BAD_RECORDS = [
    (event(EventID="abc"), "System.EventID 'abc' is not an integer"),
    (event(EventID=4.5), "System.EventID '4.5' is not an integer"),
    (event(EventID=True), "System.EventID 'true' is not an integer"),
    (event(EventID=None), "missing System.EventID"),
    (event(EventID=-1), "System.EventID -1 is outside"),
    (event(EventID={"#attributes": {"Qualifiers": 0}}), "missing System.EventID"),
    (event(System="Security 4688"), "Event.System is a string, not an object"),
    (event(System=None), "Event.System is missing, not an object"),
    (event(EventData="C:\\x.exe"), "Event.EventData is a string, not an object"),
    (event(UserData=[1]), "Event.UserData is an array, not an object"),
    (event(TimeCreated=None), "missing System.TimeCreated.SystemTime"),
    (event(TimeCreated={"#attributes": {"SystemTime": "yesterday"}}), "unparsable System.TimeCreated"),
    (event(TimeCreated={"#attributes": {"SystemTime": "1601-01-01T00:00:00Z"}}), "outside 1970..2200"),
    (b'{"Event": "4688"}', "Event is a string, not an object"),
    (b'{"Event": {"System": {"EventID": 123456789012345678901}}}', "System.EventID 123456789012345678901 is outside"),
    (event().replace(b"C:\\\\x.exe", b"C:\\\\\xff\xfe.exe"), "invalid UTF-8"),
    (b'[{"Event": {}}]', "record is an array"),
]


@pytest.mark.parametrize(("raw", "reason"), BAD_RECORDS)
def test_bad_record_is_rejected_with_a_clear_reason(raw: bytes, reason: str) -> None:
    frames = [Frame(event(), "f:1"), Frame(raw, "f:2"), Frame(event(EventRecordID=3), "f:3")]
    results = list(normalize_frames(windows.SPEC, frames))
    assert [type(r).__name__ for r in results] == ["dict", "Rejected", "dict"]
    assert reason in results[1].reason, results[1].reason
    assert results[1].source == "windows.eventlog" and results[1].location == "f:2"


def test_event_id_as_digit_string_is_accepted() -> None:
    rows, rejected = split(normalize_frames(windows.SPEC, [Frame(event(EventID=" 4688 "), "f:1")]))
    assert rejected == [] and rows[0]["EventID"] == 4688 and rows[0]["class_uid"] == 1007


def test_bad_lines_in_a_file_do_not_stop_their_neighbours(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join([
        event(), event(EventID="abc"), event().replace(b"x.exe", b"\xc3(.exe"), event(EventRecordID=4),
        event()[:60],
    ]) + b"\n")
    rows, rejected = ingest(path)
    assert [r["EventRecordID"] for r in rows] == ["1", "4"]
    assert [r.location for r in rejected] == ["mixed.jsonl:2", "mixed.jsonl:3", "mixed.jsonl:5"]
    assert "invalid UTF-8" in rejected[1].reason and "truncated JSON" in rejected[2].reason


def test_truncated_pretty_printed_json_keeps_the_complete_events(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    text = (DATA / "sysmon_concatenated.json").read_text()
    path.write_text(text + text[: len(text) // 3])
    rows, rejected = ingest(path)
    assert len(rows) == 2
    assert [r.reason for r in rejected] == ["truncated JSON at end of input"]


def test_five_megabyte_command_line_is_ingested(tmp_path: Path) -> None:
    huge = "powershell -enc " + "A" * (5 << 20)
    path = tmp_path / "big.jsonl"
    path.write_bytes(event(EventRecordID=7) + b"\n" + event(EventData={"CommandLine": huge}) + b"\n")
    rows, rejected = ingest(path)
    assert rejected == [] and rows[1]["CommandLine"] == huge


def test_five_megabyte_command_line_in_pretty_printed_json(tmp_path: Path) -> None:
    huge = "A" * (5 << 20)
    path = tmp_path / "big.json"
    records = [json.loads(event()), json.loads(event(EventData={"CommandLine": huge}))]
    path.write_text("\n".join(json.dumps(r, indent=2) for r in records))
    rows, rejected = ingest(path)
    assert rejected == [] and rows[1]["CommandLine"] == huge


# --- bad EVTX input -------------------------------------------------------------------------


def two_chunk_evtx() -> bytes:
    """The 7-record file with the Defender file's chunk appended as record 8.

    Exported logs number their records from 1, so the appended chunk is renumbered (chunk
    header and record headers) to keep record ids unique within the file, as in a real log.
    """
    first = only(SEVEN_RECORDS, ".evtx").read_bytes()
    second = only(DEFENDER_CASE, ".evtx").read_bytes()[FILE_HEADER_SIZE:]
    return first + renumbered(second, 8)


def renumbered(chunk: bytes, first_id: int) -> bytes:
    """The chunk with its records renumbered from `first_id`, its checksums brought up to date."""
    data = bytearray(chunk)
    low, high = struct.unpack_from("<QQ", data, 24)
    shift = first_id - low
    struct.pack_into("<QQQQ", data, 8, low + shift, high + shift, low + shift, high + shift)
    offset = 512
    while data[offset : offset + 4] == b"**\x00\x00":
        size, record_id = struct.unpack_from("<IQ", data, offset + 4)
        struct.pack_into("<Q", data, offset + 8, record_id + shift)
        offset += size
    records_end = struct.unpack_from("<I", data, 48)[0]
    struct.pack_into("<I", data, 52, zlib.crc32(data[512:records_end]))
    struct.pack_into("<I", data, 124, zlib.crc32(data[128:512], zlib.crc32(data[:120])))
    return bytes(data)


def write(tmp_path: Path, data: bytes | bytearray, name: str = "damaged.evtx") -> Path:
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return path


def test_two_chunk_file_reads_both_chunks(tmp_path: Path) -> None:
    rows, rejected = ingest(write(tmp_path, two_chunk_evtx()))
    assert rejected == []
    assert len(rows) == 8 and rows[-1]["EventID"] == 1119


def test_corrupt_chunk_loses_only_its_records_and_says_so(tmp_path: Path) -> None:
    data = bytearray(two_chunk_evtx())
    chunk = FILE_HEADER_SIZE
    data[chunk + 2000 : chunk + 2200] = b"\xff" * 200  # inside the first chunk's records
    rows, rejected = ingest(write(tmp_path, data))
    assert [r["EventID"] for r in rows] == [1119]  # the second chunk still comes through
    assert [r.location for r in rejected] == [f"damaged.evtx:record {n}" for n in range(1, 8)]
    assert all("could not be read: EVTX parse error" in r.reason for r in rejected)


def test_corrupt_chunk_header_is_reported(tmp_path: Path) -> None:
    data = bytearray(two_chunk_evtx())
    data[FILE_HEADER_SIZE : FILE_HEADER_SIZE + 8] = b"XXXXXXXX"  # chunk magic
    rows, rejected = ingest(write(tmp_path, data))
    assert len(rows) == 1
    assert len(rejected) == 1 and "chunk header magic" in rejected[0].reason


def test_damaged_record_header_is_not_a_silent_loss(tmp_path: Path) -> None:
    """The parser stops at a record without its magic and says nothing; the chunk header tells."""
    data = bytearray(only(SEVEN_RECORDS, ".evtx").read_bytes())
    third = data.index(b"**\x00\x00", FILE_HEADER_SIZE + 3000)
    data[third : third + 4] = bytes(4)
    rows, rejected = ingest(write(tmp_path, data))
    assert len(rows) + len(rejected) == 7 and rejected
    assert all("parser returned nothing" in r.reason for r in rejected)


def test_truncated_evtx_reports_each_lost_record(tmp_path: Path) -> None:
    """Cut 3000 bytes into its chunk: record 1 (chunk bytes 512..2984) is whole and is read."""
    data = only(SEVEN_RECORDS, ".evtx").read_bytes()
    rows, rejected = ingest(write(tmp_path, data[: FILE_HEADER_SIZE + 3000]))
    assert len(rows) == 1 and len(rejected) == 6
    assert all("truncated file" in r.reason for r in rejected)


@pytest.mark.parametrize(("size", "reason"), [
    (FILE_HEADER_SIZE, "file header lists 1 chunks but the file holds 0 (truncated file)"),
    (FILE_HEADER_SIZE + 20, "file ends 20 bytes into chunk 0 (truncated file)"),
    (2000, "not a readable EVTX file"),
])
def test_evtx_cut_before_any_record(tmp_path: Path, size: int, reason: str) -> None:
    data = only(SEVEN_RECORDS, ".evtx").read_bytes()[:size]
    rows, rejected = ingest(write(tmp_path, data))
    assert rows == [] and rejected, "a cut file must never look like an empty log"
    assert any(reason in r.reason for r in rejected), [r.reason for r in rejected]


def test_unused_zero_chunk_is_not_an_error(tmp_path: Path) -> None:
    data = only(SEVEN_RECORDS, ".evtx").read_bytes() + bytes(CHUNK_SIZE)
    rows, rejected = ingest(write(tmp_path, data))
    assert (len(rows), rejected) == (7, [])


@pytest.mark.parametrize("content", [b"", b"hello, not an event log\n" * 50, b"\x00" * 5000])
def test_non_evtx_with_evtx_name_is_one_clear_rejection(tmp_path: Path, content: bytes) -> None:
    rows, rejected = ingest(write(tmp_path, content, "fake.evtx"))
    assert rows == [] and len(rejected) == 1
    assert rejected[0].reason.startswith("not an EVTX file") and rejected[0].location == "fake.evtx:header"


def test_evtx_frames_locations_name_the_record(tmp_path: Path) -> None:
    frames = list(evtx_frames(only(SEVEN_RECORDS, ".evtx")))
    assert [f.location.rsplit(":", 1)[1] for f in frames] == [f"record {n}" for n in range(1, 8)]
    assert all(f.error is None and f.raw.startswith(b'{"Event":') for f in frames)


def test_sysmon_process_access_names_the_opener_and_the_target(shared_data: Path) -> None:
    case = shared_data / "sigmahq/regression_data/rules/windows/process_access/proc_access_win_susp_dbgcore_dbghelp_load"
    rows, rejected = ingest(only(case, ".json"))
    assert rejected == [] and len(rows) == 1
    row = rows[0]
    assert (row["action"], row["class_uid"], row["category"]) == ("process accessed", 1007, "process")
    assert row["target_type"] == "process"
    assert row["target_name"] == "C:\\WINDOWS\\system32\\lsass.exe"
    assert row["GrantedAccess"] == "0x1fffff"


@pytest.mark.parametrize(
    ("event_id", "data", "expected"),
    [
        (3, {"DestinationIp": "10.1.2.3", "DestinationHostname": "db.corp"}, ("network connection", 4001, "db.corp")),
        (11, {"TargetFilename": "C:\\x\\evil.dll"}, ("file created", 1001, "C:\\x\\evil.dll")),
        (13, {"TargetObject": "HKLM\\Run\\x"}, ("registry value set", 201001, "HKLM\\Run\\x")),
        (22, {"QueryName": "example.org"}, ("DNS query", 4003, "example.org")),
    ],
)
def test_common_sysmon_events_are_classified(event_id: int, data: dict[str, str], expected: tuple[str, int, str]) -> None:
    from auditlake.sources.windows_events import SYSMON, canonical

    out = canonical(SYSMON, event_id, data)
    assert (out["action"], out["class_uid"], out["target_name"]) == expected
