"""Linux auditd: who, what and whom of real-shaped records, per the canonical schema's auditd row
(actor = `uid`, the person behind = `auid`; the account changed = `acct` or `id`)."""

from __future__ import annotations

from pathlib import Path

from auditlake.sources import auditd
from auditlake.sources.base import Frame, Row
from auditlake.sources.records import Rejected, normalize_frames

SUDO_STAMP = "1700000300.100:700"
SUDO_CAT_SHADOW = [
    # alice (auid=1000) ran `sudo cat /etc/shadow`: the cat process runs as root.
    f"type=SYSCALL msg=audit({SUDO_STAMP}): arch=c000003e syscall=59 success=yes exit=0 a0=55 a1=56 "
    "a2=57 a3=0 items=2 ppid=4000 pid=4001 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 "
    'fsgid=0 tty=pts1 ses=7 comm="cat" exe="/usr/bin/cat" subj=unconfined key="exec"',
    f'type=EXECVE msg=audit({SUDO_STAMP}): argc=2 a0="cat" a1="/etc/shadow"',
    f'type=CWD msg=audit({SUDO_STAMP}): cwd="/home/alice"',
    f'type=PATH msg=audit({SUDO_STAMP}): item=0 name="/usr/bin/cat" inode=1 dev=fd:00 mode=0100755 '
    "ouid=0 ogid=0 rdev=00:00 nametype=NORMAL",
    f"type=PROCTITLE msg=audit({SUDO_STAMP}): proctitle=636174002F6574632F736861646F77",
    f"type=EOE msg=audit({SUDO_STAMP}):",
]


def _row(*lines: str) -> Row:
    return auditd.normalize(Frame("\n".join(lines).encode(), "test:1"))


def _who(row: Row) -> tuple[object, ...]:
    return tuple(row.get(k) for k in ("actor_id", "actor_name", "actor_type", "actor_original"))


# ------------------------------------------------------------------------------ who


def test_a_command_under_sudo_is_roots_with_the_person_behind_it() -> None:
    row = _row(*SUDO_CAT_SHADOW)
    assert _who(row) == ("0", None, "user", "1000")
    assert (row["cmdline"], row["class_uid"], row["session_id"]) == ("cat /etc/shadow", 1007, "7")


def test_enriched_names_follow_the_ids_they_name() -> None:
    enriched = [*SUDO_CAT_SHADOW]
    enriched[0] += '\x1dARCH=x86_64 SYSCALL=execve AUID="alice" UID="root" GID="root" EUID="root"'
    assert _who(_row(*enriched)) == ("0", "root", "user", "alice")


def test_who_without_sudo_and_without_a_login() -> None:
    own = _row(SUDO_CAT_SHADOW[0].replace("uid=0 gid=0 euid=0", "uid=1000 gid=1000 euid=1000"))
    assert _who(own) == ("1000", None, "user", "1000")
    cron = _row(SUDO_CAT_SHADOW[0].replace("auid=1000", "auid=4294967295").replace("ses=7", "ses=4294967295"))
    assert _who(cron) == ("0", None, "system", None)
    # A CONFIG_CHANGE of its own carries no uid: the login uid is all there is.
    rule_removed = _row(
        "type=CONFIG_CHANGE msg=audit(1700000400.000:816): auid=1000 ses=7 subj=unconfined "
        'op=remove_rule key="identity" list=4 res=1')
    assert _who(rule_removed) == ("1000", None, "user", "1000")


def test_su_to_root_is_authenticated_by_the_session_user_not_by_root() -> None:
    su = _row(
        "type=USER_AUTH msg=audit(1700000400.000:806): pid=5100 uid=1000 auid=1000 ses=7 "
        "msg='op=PAM:authentication grantors=pam_unix acct=\"root\" exe=\"/usr/bin/su\" hostname=? "
        "addr=? terminal=pts/1 res=failed'")
    assert _who(su) == ("1000", None, "user", "1000")
    assert (su["target_type"], su["target_name"], su["outcome"]) == ("user", "root", "failure")
    enriched = _row(
        "type=USER_AUTH msg=audit(1700000400.000:806): pid=5100 uid=1000 auid=1000 ses=7 "
        "msg='op=PAM:authentication grantors=pam_unix acct=\"root\" exe=\"/usr/bin/su\" hostname=? "
        "addr=? terminal=pts/1 res=success'\x1dUID=\"alice\" AUID=\"alice\"")
    assert _who(enriched) == ("1000", "alice", "user", "alice")


def test_before_login_the_actor_is_the_account_logging_in() -> None:
    failed = _row(
        "type=USER_LOGIN msg=audit(1700000400.000:801): pid=5000 uid=0 auid=4294967295 ses=4294967295 "
        "msg='op=login acct=726F6F74 exe=\"/usr/sbin/sshd\" hostname=::1 addr=::1 terminal=ssh res=failed'")
    assert _who(failed) == (None, "root", "user", None)
    assert (failed["src_ip"], failed["src_host"], failed["session_id"]) == ("::1", None, None)
    assert (failed["action"], failed["class_uid"], failed["outcome"]) == ("USER_LOGIN", 3002, "failure")


def test_an_unknown_account_tried_over_ssh_names_nobody() -> None:
    # sshd writes `(invalid user)` for a name that is no account; the name tried is not logged.
    invalid = _row(
        "type=USER_LOGIN msg=audit(1700000012.345:211): pid=2201 uid=0 auid=4294967295 ses=4294967295 "
        "msg='op=login acct=28696E76616C6964207573657229 exe=\"/usr/sbin/sshd\" hostname=? "
        "addr=203.0.113.9 terminal=sshd res=failed'")
    assert _who(invalid) == (None, None, "unknown", None)
    assert invalid.get("target_name") is None and invalid["acct"] == "(invalid user)"
    assert (invalid["src_ip"], invalid["outcome"]) == ("203.0.113.9", "failure")


# ------------------------------------------------------------------------------ whom


def test_an_account_named_only_by_its_number_is_the_target() -> None:
    added = _row(
        "type=ADD_USER msg=audit(1700000400.000:810): pid=5200 uid=0 auid=1000 ses=7 "
        "msg='op=adding user id=1002 exe=\"/usr/sbin/useradd\" hostname=web1 addr=? terminal=pts/1 res=success'")
    assert (added["target_type"], added["target_id"], added.get("target_name")) == ("user", "1002", None)
    assert (added["class_uid"], added["activity_id"], added.get("src_host")) == (3001, 1, None)
    group = _row(
        "type=ADD_GROUP msg=audit(1700000400.000:813): pid=5200 uid=0 auid=1000 ses=7 "
        "msg='op=add-group id=1003 exe=\"/usr/sbin/groupadd\" hostname=web1 addr=? terminal=pts/1 res=success'")
    assert (group["target_type"], group["target_id"], group["class_uid"]) == ("group", "1003", 3006)
    password = _row(
        "type=USER_CHAUTHTOK msg=audit(1700000400.000:815): pid=5300 uid=0 auid=1000 ses=7 "
        "msg='op=change password id=1002 exe=\"/usr/bin/passwd\" hostname=web1 addr=? terminal=pts/1 res=success'")
    assert (password["target_id"], password["activity_id"]) == ("1002", 3)


def test_a_login_id_is_the_actor_not_a_target() -> None:
    login = _row(
        "type=USER_LOGIN msg=audit(1700000400.000:803): pid=5000 uid=0 auid=1000 ses=3 "
        "msg='op=login id=1000 exe=\"/usr/bin/login\" hostname=? addr=? terminal=tty1 res=success'")
    assert login["actor_id"] == "1000" and login.get("target_id") is None


# ------------------------------------------------------------------------------ parsing


GREP_STAMP = "1700000500.000:900"


def _grep_event(pattern: str) -> list[str]:
    """An admin grepping the audit log: the argument holds `msg='`, quoted (auditd hex-encodes
    spaces and double quotes, not single quotes)."""
    return [
        f"type=SYSCALL msg=audit({GREP_STAMP}): arch=c000003e syscall=59 success=yes exit=0 a0=55 a1=56 "
        'a2=57 a3=0 items=1 ppid=1 pid=2 auid=1000 uid=0 gid=0 euid=0 tty=pts1 ses=7 comm="grep" '
        'exe="/usr/bin/grep" key="exec"',
        f'type=EXECVE msg=audit({GREP_STAMP}): argc=3 a0="grep" a1="{pattern}" a2="/var/log/audit/audit.log"',
        f'type=CWD msg=audit({GREP_STAMP}): cwd="/root"',
        f"type=EOE msg=audit({GREP_STAMP}):",
    ]


def test_an_argument_holding_msg_quote_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_text("\n".join(_grep_event("msg='op=login")) + "\n")
    out = list(normalize_frames(auditd.SPEC, auditd.frames(path)))
    assert not [r for r in out if isinstance(r, Rejected)]
    (row,) = out
    assert isinstance(row, dict) and row["cmdline"] == "grep msg='op=login /var/log/audit/audit.log"


def test_an_argument_holding_a_quoted_message_is_no_nested_message() -> None:
    row = _row(*_grep_event("msg='op=login'"))
    assert row["EXECVE.a1"] == "msg='op=login'" and row["EXECVE.a2"] == "/var/log/audit/audit.log"
    assert row.get("op") is None and row["cmdline"] == "grep msg='op=login' /var/log/audit/audit.log"
