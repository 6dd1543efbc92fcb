"""Property: for every source, every input record becomes a row, a rejection or a skip.

Real-shaped records of each source are mutated at random (truncated, bytes flipped, invalid
UTF-8 spliced in, fields retyped) and fed through the per-record path; nothing may raise and
nothing may vanish.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditlake.sources import registry
from auditlake.sources.base import Frame
from auditlake.sources.convert import convert_chunk
from auditlake.sources.records import normalize_frames

SAMPLES = {
    "aws.cloudtrail": "aws_cloudtrail.jsonl",
    "okta.system": "okta_systemlog.jsonl",
    "github.audit": "github_audit.jsonl",
    "gcp.audit": "gcp_auditlog.jsonl",
    "k8s.audit": "amazon_eks_audit.jsonl",
    "gateway.teleport": "gravitational_teleportaudit.jsonl",
}
AUDITD = (
    b'type=SYSCALL msg=audit(1709287200.123:42): arch=c000003e syscall=59 success=yes exit=0 '
    b'ppid=1 pid=2 auid=1000 uid=0 ses=3 comm="sudo" exe="/usr/bin/sudo" key="priv"\n'
    b'type=EXECVE msg=audit(1709287200.123:42): argc=2 a0="cat" a1="/etc/shadow"'
)
WINDOWS = json.dumps({"Event": {"System": {
    "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}}, "EventID": 1,
    "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "ws1", "EventRecordID": 7,
    "TimeCreated": {"#attributes": {"SystemTime": "2024-03-01T10:00:00.1234567Z"}}},
    "EventData": {"Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd /c whoami"}}}).encode()


def _seeds(shared: Path) -> dict[str, list[bytes]]:
    seeds = {}
    for source, name in SAMPLES.items():
        lines = (shared / "samples" / name).read_text().splitlines()
        seeds[source] = [json.dumps(json.loads(line)["event"]).encode() for line in lines[:40]]
    seeds["linux.auditd"] = [AUDITD]
    seeds["windows.eventlog"] = [WINDOWS]
    return seeds


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    kind = draw(st.sampled_from(["cut", "flip", "splice", "retype", "same"]))
    if kind == "cut":
        return seed[: draw(st.integers(0, len(seed)))]
    if kind == "flip":
        at = draw(st.integers(0, len(seed) - 1))
        return seed[:at] + bytes([draw(st.integers(0, 255))]) + seed[at + 1 :]
    if kind == "splice":
        at = draw(st.integers(0, len(seed)))
        return seed[:at] + draw(st.sampled_from([b"\xff\xfe", b"\xc3", b"\x00", b'"', b"}", b"99999999999999999999999"])) + seed[at:]
    if kind == "retype":
        replacement = draw(st.sampled_from([b"[]", b"{}", b"null", b"1e999", b"true", b'"x"', b"-1"]))
        return seed.replace(b': "', b": " + replacement + b', "_": "', 1)
    return seed


@pytest.fixture(scope="module")
def seeds(shared_data: Path) -> dict[str, list[bytes]]:
    return _seeds(shared_data)


@pytest.mark.parametrize("source", sorted({*SAMPLES, "linux.auditd", "windows.eventlog"}))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_record_is_accounted_for(source: str, seeds: dict[str, list[bytes]], data: st.DataObject) -> None:
    spec = registry.lookup(source)
    picked = data.draw(st.lists(st.sampled_from(seeds[source]), min_size=1, max_size=6))
    raws = [data.draw(mutated(seed)) for seed in picked]
    frames = [Frame(raw, f"in:{i}") for i, raw in enumerate(raws)]
    out = list(normalize_frames(spec, frames))
    assert len(out) == len(frames)
    chunk = convert_chunk(spec, frames)
    assert chunk.rows + len(chunk.rejected) + len(chunk.skipped) == len(frames)
