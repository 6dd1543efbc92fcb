"""Who, what and where of real-shaped Security and Sysmon events, through both the per-record
and the batch path (`batch_helpers.assert_batch_equals_per_record` compares them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from tests.sources.batch_helpers import assert_batch_equals_per_record, frames_of, line

from auditlake.sources import windows

SPEC = windows.SPEC
SECURITY = "Microsoft-Windows-Security-Auditing"
AUDIT_SUCCESS, AUDIT_FAILURE = "0x8020000000000000", "0x8010000000000000"
HIDDEN_USER_CASE = Path("sigmahq/regression_data/rules/windows/registry/registry_event/registry_event_add_local_hidden_user")
"""A Sysmon 13 of a Sysmon without the `User` field, logged (as all of them) under S-1-5-18."""


def _security(event_id: int, data: dict[str, str], keywords: str = AUDIT_SUCCESS) -> dict[str, Any]:
    """A Security event of a domain controller in evtx_dump's spelling."""
    system = {"Provider": {"#attributes": {"Name": SECURITY, "Guid": "54849625-5478-4994-A5BA-3E3B0328C30D"}},
              "EventID": event_id, "Version": 0, "Level": 0, "Task": 12544, "Opcode": 0, "Keywords": keywords,
              "TimeCreated": {"#attributes": {"SystemTime": "2024-05-01T10:00:00.1234567Z"}},
              "EventRecordID": 1000 + event_id, "Correlation": None,
              "Execution": {"#attributes": {"ProcessID": 716, "ThreadID": 4020}},
              "Channel": "Security", "Computer": "dc01.corp.example", "Security": None}
    return {"Event": {"System": system, "EventData": data}}


def _both_paths(*records: dict[str, Any]) -> list[dict[str, Any]]:
    table: pa.Table = assert_batch_equals_per_record(SPEC, frames_of([line(r) for r in records]))
    assert table.num_rows == len(records)  # the batch path kept them all, so both paths spoke
    return table.to_pylist()


def _who(row: dict[str, Any]) -> tuple[Any, ...]:
    return row["actor_id"], row["actor_name"], row["actor_type"], row["session_id"]


def test_a_failed_logon_without_an_account_name_is_not_the_computer_account_failing() -> None:
    """4625 of a console logon with an empty user name: its subject is the computer account the
    logon service runs as (WS1$, S-1-5-18), which asked for the logon but did not fail it."""
    failed = _security(4625, {
        "SubjectUserSid": "S-1-5-18", "SubjectUserName": "WS1$", "SubjectDomainName": "CORP",
        "SubjectLogonId": "0x3e7", "TargetUserSid": "S-1-0-0", "TargetUserName": "", "TargetDomainName": "",
        "Status": "0xc000006d", "FailureReason": "%%2313", "SubStatus": "0xc0000064", "LogonType": "2",
        "LogonProcessName": "User32 ", "AuthenticationPackageName": "Negotiate", "WorkstationName": "WS1",
        "ProcessName": "C:\\Windows\\System32\\svchost.exe", "IpAddress": "127.0.0.1", "IpPort": "0",
    }, AUDIT_FAILURE)
    named = _security(4625, {**failed["Event"]["EventData"], "TargetUserName": "bob"}, AUDIT_FAILURE)

    anonymous, bob = _both_paths(failed, named)

    assert _who(anonymous) == (None, None, "unknown", None)
    assert _who(bob) == (None, "bob", "user", None)
    assert anonymous["outcome"] == bob["outcome"] == "failure"


@pytest.mark.parametrize(("event_id", "keywords", "status"), [
    (4768, AUDIT_SUCCESS, "0x0"), (4769, AUDIT_SUCCESS, "0x0"), (4771, AUDIT_FAILURE, "0x18"),
])
def test_kerberos_clients_in_ipv6_form_are_the_ipv4_address_of_the_logon(event_id: int, keywords: str, status: str) -> None:
    """Kerberos events write every IPv4 client as `::ffff:a.b.c.d`; the same client's 4624
    writes `a.b.c.d`, and so must `src_ip`, or the two never join."""
    kerberos = _security(event_id, {
        "TargetUserName": "alice", "TargetDomainName": "CORP.EXAMPLE", "TargetSid": "S-1-5-21-1-2-3-1104",
        "ServiceName": "krbtgt", "TicketOptions": "0x40810010", "Status": status, "TicketEncryptionType": "0x12",
        "PreAuthType": "2", "IpAddress": "::ffff:10.0.0.12", "IpPort": "49273",
    }, keywords)
    logon = _security(4624, {
        "SubjectUserSid": "S-1-0-0", "SubjectUserName": "-", "TargetUserSid": "S-1-5-21-1-2-3-1104",
        "TargetUserName": "alice", "TargetDomainName": "CORP", "TargetLogonId": "0x9f0e1", "LogonType": "3",
        "WorkstationName": "-", "IpAddress": "10.0.0.12", "IpPort": "50211",
    })
    ipv6 = _security(4624, {**logon["Event"]["EventData"], "IpAddress": "fe80::1c2d:3e4f:5a6b:7c8d"})

    from_kerberos, from_logon, from_ipv6 = _both_paths(kerberos, logon, ipv6)

    assert from_kerberos["src_ip"] == from_logon["src_ip"] == "10.0.0.12"
    assert from_kerberos["IpAddress"] == "::ffff:10.0.0.12"  # the native field stays as written
    assert from_ipv6["src_ip"] == "fe80::1c2d:3e4f:5a6b:7c8d"


def test_privileges_logoffs_and_account_lockouts_are_classified() -> None:
    alice = {"SubjectUserSid": "S-1-5-21-1-2-3-1104", "SubjectUserName": "alice", "SubjectDomainName": "CORP",
             "SubjectLogonId": "0x5a1b2c"}
    target = {"TargetUserSid": "S-1-5-21-1-2-3-1104", "TargetUserName": "alice", "TargetDomainName": "CORP",
              "TargetLogonId": "0x5a1b2c"}
    dc = {"SubjectUserSid": "S-1-5-18", "SubjectUserName": "DC01$", "SubjectDomainName": "CORP",
          "SubjectLogonId": "0x3e7"}
    admin = {"SubjectUserSid": "S-1-5-21-1-2-3-500", "SubjectUserName": "Administrator",
             "SubjectDomainName": "CORP", "SubjectLogonId": "0x1fd23"}
    bob = {"TargetUserName": "bob", "TargetSid": "S-1-5-21-1-2-3-1105"}
    records = [
        _security(4672, {**alice, "PrivilegeList": "SeDebugPrivilege\r\n\t\t\tSeBackupPrivilege"}),
        _security(4647, target),
        _security(4740, {**bob, "TargetDomainName": "WS13", **dc}),  # the domain is the caller's computer
        _security(4767, {**bob, "TargetDomainName": "CORP", **admin}),
        _security(4723, {**bob, "TargetDomainName": "CORP", **admin}),
        _security(4724, {**bob, "TargetDomainName": "CORP", **admin}),
    ]

    privileges, logoff, locked, unlocked, changed, reset = _both_paths(*records)

    assert (privileges["class_uid"], privileges["activity_id"], privileges["action"]) == (
        3003, 1, "special privileges assigned to new logon")
    assert _who(privileges) == ("S-1-5-21-1-2-3-1104", "alice", "user", "0x5a1b2c")
    assert (logoff["class_uid"], logoff["activity_id"], _who(logoff)) == (
        3002, 2, ("S-1-5-21-1-2-3-1104", "alice", "user", "0x5a1b2c"))
    for row, activity in ((locked, 9), (unlocked, 12), (changed, 3), (reset, 4)):
        assert (row["class_uid"], row["activity_id"], row["category"]) == (3001, activity, "iam")
        assert (row["target_type"], row["target_name"], row["target_id"]) == ("user", "bob", "S-1-5-21-1-2-3-1105")
    assert (locked["actor_name"], locked["actor_type"]) == ("DC01$", "system")
    assert (unlocked["actor_name"], unlocked["actor_type"]) == ("Administrator", "user")


def test_sysmon_activity_without_a_user_is_not_systems_doing(shared_data: Path) -> None:
    """Sysmon's service logs every event as S-1-5-18: without a `User` field, who acted is
    unknown, not SYSTEM. An unknown event keeps the account it was logged under."""
    case = shared_data / HIDDEN_USER_CASE
    frames = [frame for path in sorted(case.glob("*.json")) for frame in windows.frames(path)]
    table = assert_batch_equals_per_record(SPEC, frames)
    assert table.num_rows == len(frames) == 1
    (registry,) = table.to_pylist()
    assert (registry["EventID"], registry["Security_UserID"]) == (13, "S-1-5-18")
    assert (registry["actor_id"], registry["actor_name"], registry["actor_type"]) == (None, None, "unknown")

    other = _security(4104, {"ScriptBlockText": "whoami"})
    other["Event"]["System"].update(Provider={"#attributes": {"Name": "Microsoft-Windows-PowerShell"}},
                                    Security={"#attributes": {"UserID": "S-1-5-21-1-2-3-1104"}})
    (script,) = _both_paths(other)
    assert (script["actor_id"], script["actor_type"]) == ("S-1-5-21-1-2-3-1104", "user")


@pytest.mark.parametrize(
    ("event_id", "data", "reason"),
    [
        (4625, {"Status": "0xc000006d", "SubStatus": "0xC000006A", "FailureReason": "%%2313"}, "wrong password"),
        (4625, {"Status": "0xc000006d", "SubStatus": "0xc0000064", "FailureReason": "%%2313"}, "no such user"),
        (4625, {"Status": "0xc000006e", "SubStatus": "0xc0000072", "FailureReason": "%%2310"}, "account disabled"),
        (4625, {"Status": "0xc000006d", "SubStatus": "0x0", "FailureReason": "%%2313"},
         "bad user name or authentication information"),
        (4625, {"Status": "0xc0000999", "SubStatus": "0xc0000999", "FailureReason": "%%2307"}, "account locked out"),
        (4625, {"Status": "-", "SubStatus": "-", "FailureReason": "%%9999"}, "%%9999"),  # unknown: as written
        (4776, {"Status": "0xc0000234"}, "account locked out"),
        (4771, {"Status": "0x18"}, None),  # a Kerberos code, not an NTSTATUS one
    ],
)
def test_a_failed_logon_says_why_in_words_on_both_paths(event_id: int, data: dict[str, str], reason: str | None) -> None:
    """4625 keeps its reasons as codes (`%%2313`, NTSTATUS): `SubStatus` tells a wrong password
    from an unknown user, which `FailureReason` ("unknown user name or bad password") does not."""
    fields = {"TargetUserSid": "S-1-0-0", "TargetUserName": "bob", "TargetDomainName": "CORP", **data}
    (row,) = _both_paths(_security(event_id, fields, AUDIT_FAILURE))
    assert row["outcome"] == "failure"
    assert row["outcome_reason"] == reason
