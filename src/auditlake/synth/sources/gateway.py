"""Access gateway (Teleport-style) background: SSO logins, SSH sessions, database sessions.

Engineers log in through SSO, open SSH sessions on servers (each command recorded by enhanced
session recording) or database sessions (each query recorded); an ETL bot with a machine
identity runs database sessions around the clock. Records are Teleport audit events: `event`,
`code`, `uid`, `time`, `user`, `sid`, `ei` (index within the session), `addr.remote`.
`event()` and the session helpers are shared with the scenarios.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from auditlake.synth.activity import (
    Ctx,
    Job,
    Plan,
    burst_size,
    job_ticks,
    session_starts,
    spread,
)
from auditlake.synth.clock import US
from auditlake.synth.org import TELEPORT_CLUSTER, Database, Host, Org, Person
from auditlake.synth.picker import Picker
from auditlake.synth.sourcegen import SourceGen, field_id, json_line_encoder
from auditlake.synth.sources.origin import origin_ip

NAME = "gateway.teleport"
SESSIONS_PER_PEAK_HOUR = 0.08

CODES = {
    "user.login": "T1001I", "user.login.failed": "T1001W", "user.login.local": "T1000I",
    "session.start": "T2000I", "session.command": "T4000I", "session.end": "T2004I",
    "db.session.start": "TDB00I", "db.session.query": "TDB02I", "db.session.end": "TDB01I",
}
"""Event kind → Teleport event code (I = info/success, W = warning/failure)."""


@dataclass(frozen=True, slots=True)
class Who:
    """The SSO user, from where, and with which user agent."""

    user: str
    addr: str
    user_agent: str = "tsh/17.2.1"


def event(ctx: Ctx, ts: int, kind: str, who: Who, fields: Mapping[str, Any]) -> dict[str, Any]:
    """One audit event; `kind` keys `CODES` (its event name is the part before a `.failed`)."""
    rec: dict[str, Any] = {
        "cluster_name": TELEPORT_CLUSTER,
        "code": CODES[kind],
        "event": kind.removesuffix(".failed").removesuffix(".local"),
        "time": ctx.stamps.iso(ts, 6),
        "uid": ctx.ids.uuid4(),
        "user": who.user,
    }
    rec.update(fields)
    return rec


def login_fields(who: Who, method: str = "saml", success: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"addr.remote": who.addr, "method": method, "success": success, "user_agent": who.user_agent, "ei": 0}
    if not success:
        out["error"] = "invalid credentials"
    return out


def ssh_fields(host: Host, sid: str, login: str, ei: int) -> dict[str, Any]:
    return {"sid": sid, "server_id": f"{host.name}-node", "server_hostname": host.name, "server_addr": f"{host.ip}:3022",
            "login": login, "namespace": "default", "ei": ei}


def db_fields(db: Database, sid: str, db_user: str, ei: int) -> dict[str, Any]:
    return {"sid": sid, "db_service": db.service, "db_protocol": db.protocol, "db_uri": db.uri,
            "db_name": db.name, "db_user": db_user, "ei": ei}


def command_fields(program: str, argv: list[str], pid: int) -> dict[str, Any]:
    return {"program": program, "path": f"/usr/bin/{program}", "argv": argv, "pid": pid, "ppid": pid - 3,
            "cgroup_id": 4294967000 + pid % 997, "return_code": 0}


def plan_hour(ctx: Ctx, hour_us: int) -> Iterator[Plan]:
    for ts, person in session_starts(ctx, ctx.cohorts_of("gateway"), hour_us, SESSIONS_PER_PEAK_HOUR):
        who = Who(person.email, f"{origin_ip(ctx.rng, person)}:{ctx.rng.randrange(49152, 65535)}")
        yield ctx.plan(ts, _fixed, ("user.login", who, login_fields(who)))
        ssh = "linux" in person.uses and ctx.rng.random() < 0.6
        yield from (_ssh_session if ssh else _db_session)(ctx, ts + 4 * US, who, person)
    yield from job_ticks(ctx, ctx.memo("jobs", lambda: _jobs(ctx.org)), hour_us)


def _ssh_session(ctx: Ctx, ts: int, who: Who, person: Person | None) -> Iterator[Plan]:
    rng = ctx.rng
    host = rng.choice(ctx.org.linux_hosts)
    sid = ctx.ids.uuid4()
    login = "ubuntu" if rng.random() < 0.5 else (person.unix_login if person else "ubuntu")
    times = spread(ctx, ts, burst_size(rng, 7) + 2, 25.0)
    extra = {"proto": "ssh", "size": "120:40", "session_recording": "node", "addr.remote": who.addr}
    yield ctx.plan(times[0], _fixed, ("session.start", who, ssh_fields(host, sid, login, 0) | extra))
    for ei, t in enumerate(times[1:-1], start=1):
        program, argv = COMMANDS(rng)
        fields = ssh_fields(host, sid, login, ei) | command_fields(program, argv, 2000 + rng.randrange(30000))
        yield ctx.plan(t, _fixed, ("session.command", who, fields))
    end = {"interactive": True, "participants": [who.user], "session_start": ctx.stamps.iso(times[0], 6),
           "session_stop": ctx.stamps.iso(times[-1], 6)}
    yield ctx.plan(times[-1], _fixed, ("session.end", who, ssh_fields(host, sid, login, len(times) - 1) | end))


def _db_session(ctx: Ctx, ts: int, who: Who, person: Person | None) -> Iterator[Plan]:
    rng = ctx.rng
    db = rng.choice(ctx.org.databases)
    sid = ctx.ids.uuid4()
    db_user = db.users[0] if person is None else rng.choice(db.users[:-1])
    times = spread(ctx, ts, burst_size(rng, 8) + 2, 20.0)
    yield ctx.plan(times[0], _fixed, ("db.session.start", who, db_fields(db, sid, db_user, 0) | {"addr.remote": who.addr, "success": True}))
    for ei, t in enumerate(times[1:-1], start=1):
        query = rng.choice(QUERIES).format(table=rng.choice(db.tables), n=rng.randrange(1, 99999))
        fields = db_fields(db, sid, db_user, ei) | {"db_query": query, "db_query_parameters": None, "success": True}
        yield ctx.plan(t, _fixed, ("db.session.query", who, fields))
    yield ctx.plan(times[-1], _fixed, ("db.session.end", who, db_fields(db, sid, db_user, len(times) - 1)))


def _fixed(ctx: Ctx, ts: int, arg: tuple[str, Who, Mapping[str, Any]]) -> dict[str, Any]:
    kind, who, fields = arg
    return event(ctx, ts, kind, who, fields)


def _bot_run(ctx: Ctx, ts: int, who: Who) -> Iterator[Plan]:
    yield from _db_session(ctx, ts, who, None)


COMMANDS = Picker([
    (20, ("ls", ["-la"])), (12, ("cat", ["/var/log/app/app.log"])), (12, ("tail", ["-n", "200", "/var/log/syslog"])),
    (10, ("systemctl", ["status", "nginx"])), (8, ("journalctl", ["-u", "app", "--since", "-1h"])),
    (8, ("ps", ["aux"])), (6, ("df", ["-h"])), (5, ("top", ["-b", "-n", "1"])), (5, ("grep", ["-r", "ERROR", "/var/log/app"])),
    (4, ("curl", ["-s", "localhost:8080/healthz"])), (3, ("sudo", ["systemctl", "restart", "app"])), (2, ("vim", ["/etc/app/config.yaml"])),
])
QUERIES = (
    "SELECT id, status, updated_at FROM {table} WHERE id = {n}",
    "SELECT count(*) FROM {table} WHERE created_at > now() - interval '1 day'",
    "SELECT * FROM {table} WHERE id = {n} LIMIT 1",
    "UPDATE {table} SET status = 'resolved' WHERE id = {n}",
    "SELECT id, created_at FROM {table} ORDER BY created_at DESC LIMIT 50",
    "EXPLAIN ANALYZE SELECT * FROM {table} WHERE id = {n}",
)

def _jobs(org: Org) -> list[Job]:
    bot = org.machine("gateway", "bot-etl")
    return [Job(Who(bot.ident, "10.20.90.4:40122", "tbot/17.2.1"), 1800, _bot_run, phase_s=420, jitter_s=60, expands=True)]

GEN = SourceGen(NAME, "jsonl", plan_hour, json_line_encoder, field_id("uid"))
