from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest

from auditlake.errors import UnknownSourceError
from auditlake.ingest import (
    CHUNK_FRAMES,
    IngestSummary,
    _chunks,
    expand_inputs,
    ingest,
)
from auditlake.lake import LakePaths, scan_events, scan_quarantine


def _trail(i: int, **extra: object) -> dict[str, object]:
    record: dict[str, object] = {
        "eventVersion": "1.08",
        "eventID": f"id-{i}",
        "eventTime": f"2024-03-0{1 + i % 2}T10:00:{i % 60:02d}Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateUser",
        "sourceIPAddress": "198.51.100.4",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice"},
    }
    record.update(extra)
    return record


def _write_jsonl(path: Path, records: list[object], *, extra_lines: list[bytes] = ()) -> Path:
    body = b"".join(json.dumps(r).encode() + b"\n" for r in records) + b"".join(line + b"\n" for line in extra_lines)
    path.write_bytes(body)
    return path


def test_ingest_counts_rows_duplicates_and_quarantine(tmp_path):
    data = _write_jsonl(
        tmp_path / "trail.jsonl",
        [_trail(i) for i in range(10)],
        extra_lines=[b'{"eventName": "CreateUser", "eventTime": ', b'{"eventTime": "not a time", "eventName": "X"}'],
    )
    lake = LakePaths.at(tmp_path / "lake")
    first = ingest([data], lake, batch_rows=3)
    assert first.added == 10 and first.records == 12 and first.batches >= 4
    assert dict(first.rows) == {("aws.cloudtrail", "2024-03-01"): 5, ("aws.cloudtrail", "2024-03-02"): 5}
    reasons = {reason for (_, reason) in first.quarantined}
    assert any("truncated" in r for r in reasons) and any("unparsable eventTime" in r for r in reasons)
    second = ingest([data], lake)
    assert second.added == 0 and second.duplicates["aws.cloudtrail"] == 10
    assert second.already_quarantined == 2
    assert scan_events(lake).collect().height == 10
    quarantined = scan_quarantine(lake).collect()
    assert quarantined.height == 2
    assert set(quarantined["location"]) == {"trail.jsonl:11", "trail.jsonl:12"}


def test_gzip_records_file_is_detected_by_content(tmp_path):
    path = tmp_path / "no-extension-hint"
    path.write_bytes(gzip.compress(json.dumps({"Records": [_trail(1), _trail(2)]}).encode()))
    lake = LakePaths.at(tmp_path / "lake")
    summary = ingest([path], lake)
    assert summary.added == 2
    assert scan_events(lake).select("action").collect()["action"].to_list() == ["CreateUser"] * 2


def test_unrecognised_input_is_reported_not_guessed(tmp_path):
    odd = _write_jsonl(tmp_path / "odd.jsonl", [{"hello": "world"}])
    good = _write_jsonl(tmp_path / "good.jsonl", [_trail(1)])
    summary = ingest([odd, good], LakePaths.at(tmp_path / "lake"))
    assert summary.added == 1
    assert len(summary.errors) == 1 and "odd.jsonl" in summary.errors[0]


def test_named_unknown_source_is_an_error(tmp_path):
    with pytest.raises(UnknownSourceError, match="unknown source"):
        ingest([tmp_path], LakePaths.at(tmp_path / "lake"), source="nope")


def test_folders_are_read_recursively_skipping_hidden(tmp_path):
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "in" / ".cache").mkdir()
    _write_jsonl(tmp_path / "in" / "sub" / "a.jsonl", [_trail(1)])
    _write_jsonl(tmp_path / "in" / ".cache" / "b.jsonl", [_trail(2)])
    assert [p.name for p in expand_inputs([tmp_path / "in"])] == ["a.jsonl"]


def test_native_field_of_later_file_is_queryable_over_all(tmp_path):
    lake = LakePaths.at(tmp_path / "lake")
    ingest([_write_jsonl(tmp_path / "a.jsonl", [_trail(1)])], lake)
    ingest([_write_jsonl(tmp_path / "b.jsonl", [_trail(2, vpcEndpointId="vpce-1")])], lake)
    got = scan_events(lake).select("event_uid", "vpcEndpointId").sort("event_uid").collect()
    assert got.to_dicts() == [
        {"event_uid": "id-1", "vpcEndpointId": None},
        {"event_uid": "id-2", "vpcEndpointId": "vpce-1"},
    ]


def test_bad_records_never_stop_the_input(tmp_path):
    lines = [
        json.dumps(_trail(1)).encode(),
        b"\xff\xfe not utf8",
        json.dumps(_trail(2, userAgent="x" * 5_000_000)).encode(),
        json.dumps(_trail(3, eventTime=12)).encode()[:-1] + b"]",
        json.dumps(_trail(4, userIdentity=[1, 2])).encode(),
        json.dumps(_trail(5)).encode(),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    lake = LakePaths.at(tmp_path / "lake")
    summary = ingest([path], lake)
    kept = scan_events(lake).select("event_uid", pl.col("user_agent").str.len_bytes().alias("ua")).sort("event_uid").collect()
    assert kept["event_uid"].to_list() == ["id-1", "id-2", "id-4", "id-5"]
    assert kept.filter(pl.col("event_uid") == "id-2")["ua"].item() == 5_000_000
    assert summary.records == 6 and sum(summary.quarantined.values()) == 2


def test_input_failing_midway_keeps_what_was_read_and_says_so(tmp_path):
    """An I/O error while reading (a disk error, a vanished mount) ends that input, not the run."""
    from dataclasses import replace

    from auditlake.sources import cloudtrail

    def frames_then_fail(path):
        yield from cloudtrail.SPEC.frames(path)
        raise OSError(5, "Input/output error")

    spec = replace(cloudtrail.SPEC, frames=frames_then_fail)
    paths = [_write_jsonl(tmp_path / f"{n}.jsonl", [_trail(n)]) for n in (1, 2)]
    summary = ingest(paths, LakePaths.at(tmp_path / "lake"), source=spec, workers=1)
    assert summary.added == 2
    assert [e.split(":")[0][-7:] for e in summary.errors] == ["1.jsonl", "2.jsonl"]
    assert all("Input/output error" in e for e in summary.errors)


def test_inputs_are_converted_in_chunks_no_larger_than_the_batch(tmp_path):
    trails = _write_jsonl(tmp_path / "trail.jsonl", [_trail(i) for i in range(CHUNK_FRAMES + 5)])
    okta = tmp_path / "okta.jsonl"
    line = (Path(__file__).parent / "sources" / "data" / "okta" / "system_log.jsonl").read_bytes().splitlines()[0]
    okta.write_bytes(b"\n".join([line] * (CHUNK_FRAMES + 5)) + b"\n")

    def sizes(path: Path, source: str, batch_rows: int = 1_000_000) -> list[int]:
        return [len(frames) for _, _, frames in _chunks([path], source, IngestSummary(), batch_rows)]

    assert sizes(trails, "cloudtrail") == [CHUNK_FRAMES, 5]
    assert sizes(okta, "okta") == [CHUNK_FRAMES, 5]
    assert sizes(trails, "cloudtrail", batch_rows=1000)[:2] == [1000, 1000]


def test_small_inputs_of_a_vectorized_source_are_converted_together(tmp_path):
    """CloudTrail's delivery files hold a few hundred records each: they are joined into one
    chunk, and each rejected record is still quarantined under its own input and line."""
    folder = tmp_path / "deliveries"
    folder.mkdir()
    for k in range(5):
        records = [json.dumps(_trail(10 * k + i)) for i in range(3)] + ['{"eventVersion": "1.08", "eventName": "X"}']
        body = '{"Records":[' + ",".join(records) + "]}"
        (folder / f"part:{k}.json.gz").write_bytes(gzip.compress(body.encode()))
    okta = (Path(__file__).parent / "sources" / "data" / "okta" / "system_log.jsonl").read_bytes().splitlines()[0]
    (folder / "z-okta.jsonl").write_bytes(okta + b"\n")

    chunks = list(_chunks([folder], "auto", IngestSummary(), 1_000_000))
    assert [(spec.name, name, len(frames)) for spec, name, frames in chunks] == [
        ("aws.cloudtrail", "part:4.json.gz", 20), ("okta.system", "z-okta.jsonl", 1),
    ]
    assert [f.location for f in chunks[0][2]][:5] == ["part:0.json.gz:1"] * 4 + ["part:1.json.gz:1"]

    lake = LakePaths.at(tmp_path / "lake")
    summary = ingest([folder], lake)
    assert summary.added == 16
    quarantined = scan_quarantine(lake).collect().sort("input")
    assert quarantined["input"].to_list() == [f"part:{k}.json.gz" for k in range(5)]
    assert set(quarantined["location"]) == {f"part:{k}.json.gz:1" for k in range(5)}
    assert ingest([folder], lake).already_quarantined == 5  # the same entries, found again


def test_small_evtx_files_are_converted_together_each_frame_in_its_own_input(tmp_path, shared_data):
    """A folder of `.evtx` samples holds a few events a file: their frames are joined into one
    chunk for Windows' batch path, and what one file lacks is quarantined under that file."""
    samples = sorted((shared_data / "sigmahq" / "regression_data").rglob("*.evtx"))[:6]
    folder = tmp_path / "samples"
    folder.mkdir()
    for k, sample in enumerate(samples):
        (folder / f"s{k}.evtx").write_bytes(sample.read_bytes())
    (folder / "s2b.evtx").write_bytes(b"not an evtx file at all")

    chunks = list(_chunks([folder], "windows", IngestSummary(), 1_000_000))
    assert len(chunks) == 1
    spec, name, frames = chunks[0]
    assert (spec.name, name, type(frames).__name__) == ("windows.eventlog", "s5.evtx", "JoinedFrames")
    assert {f.location.rpartition(":")[0] for f in frames} == {f"s{k}.evtx" for k in range(6)} | {"s2b.evtx"}

    joined, apart = LakePaths.at(tmp_path / "joined"), LakePaths.at(tmp_path / "apart")
    summary = ingest([folder], joined, source="windows")
    for path in sorted(folder.iterdir()):
        ingest([path], apart, source="windows")
    assert summary.added == len(frames) - 1
    tables = [scan_events(lake).drop("ingested_at").collect() for lake in (joined, apart)]
    columns = sorted(tables[0].columns)
    assert columns == sorted(tables[1].columns)
    assert tables[0].select(columns).sort("event_uid").equals(tables[1].select(columns).sort("event_uid"))
    quarantined = scan_quarantine(joined).collect()
    assert (quarantined["input"].to_list(), quarantined["location"].to_list()) == (["s2b.evtx"], ["s2b.evtx:header"])


def test_a_write_the_disk_refuses_ends_the_command_with_what_to_do_and_a_rerun_completes_it(
    tmp_path: Path,
) -> None:
    """The ingest command under a file-size limit (the kernel refuses its Parquet files as a
    full disk would): exit 1 and one line saying why, what to do and that nothing of the batch
    was published; no traceback, no half batch. Without the limit the same command completes."""
    import os
    import resource
    import subprocess
    import sys

    data = _write_jsonl(tmp_path / "trail.jsonl", [_trail(i, requestID=os.urandom(32).hex()) for i in range(3_000)])
    lake = tmp_path / "lake"
    command = [sys.executable, "-m", "auditlake", "ingest", str(data), "--lake", str(lake), "--json"]

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    refused = subprocess.run(command, capture_output=True, text=True, timeout=300, preexec_fn=limited, check=False)
    assert refused.returncode == 1, refused.stderr
    assert "Traceback" not in refused.stderr and refused.stdout == ""
    assert refused.stderr.startswith("error: ") and "could not write: File too large" in refused.stderr
    assert "ulimit -f" in refused.stderr and "nothing of this batch was published" in refused.stderr
    paths = LakePaths.at(lake)
    assert scan_events(paths).collect().height == 0
    assert not paths.staging.exists() or not any(paths.staging.iterdir())

    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["added"] == 3_000
    assert scan_events(paths).collect()["event_uid"].n_unique() == 3_000


DIGEST = {  # the shape AWS documents for CloudTrail digest files
    "awsAccountId": "111122223333",
    "digestStartTime": "2024-03-01T10:00:00Z",
    "digestEndTime": "2024-03-01T11:00:00Z",
    "digestS3Bucket": "trail-bucket",
    "digestS3Object": "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2024/03/01/x.json.gz",
    "digestPublicKeyFingerprint": "809a5d051a2bbfbf2ce2d2f0d8d4bd4e",
    "digestSignatureAlgorithm": "SHA256withRSA",
    "newestEventTime": "2024-03-01T10:59:00Z",
    "oldestEventTime": "2024-03-01T10:00:05Z",
    "previousDigestS3Bucket": None,
    "previousDigestS3Object": None,
    "previousDigestHashValue": None,
    "previousDigestHashAlgorithm": None,
    "previousDigestSignature": None,
    "logFiles": [{
        "s3Bucket": "trail-bucket",
        "s3Object": "AWSLogs/111122223333/CloudTrail/us-east-2/2024/03/01/x.json.gz",
        "hashValue": "9bf5d0d4c8a0e5f5b5e2f0d4", "hashAlgorithm": "SHA-256",
        "newestEventTime": "2024-03-01T10:59:00Z", "oldestEventTime": "2024-03-01T10:00:05Z",
    }],
}


@pytest.mark.parametrize("source", ["auto", "aws.cloudtrail"])
def test_a_trail_buckets_digest_files_are_passed_over_not_failed_or_quarantined(tmp_path: Path, source: str) -> None:
    """An S3 sync of a trail's bucket brings CloudTrail-Digest/ files beside the logs: they hold
    hashes, not events, and must neither fail the run nor land in quarantine."""
    bucket = tmp_path / "AWSLogs" / "111122223333"
    logs, digests = bucket / "CloudTrail" / "us-east-2", bucket / "CloudTrail-Digest" / "us-east-2"
    logs.mkdir(parents=True)
    digests.mkdir(parents=True)
    with gzip.open(logs / "x.json.gz", "wt") as out:
        json.dump({"Records": [_trail(i) for i in range(5)]}, out)
    with gzip.open(digests / "x.json.gz", "wt") as out:
        json.dump(DIGEST, out)
    (digests / "y.json").write_text(json.dumps(DIGEST, indent=2))  # unzipped, pretty-printed
    lake = LakePaths.at(tmp_path / "lake")
    summary = ingest([tmp_path / "AWSLogs"], lake, source=source, workers=1)
    assert summary.errors == [] and summary.added == 5 and not summary.quarantined
    assert summary.inputs == 3 and dict(summary.passed_over) == {
        "CloudTrail digest file (hashes of the delivered log files)": 2
    }
    assert scan_quarantine(lake).collect().height == 0
