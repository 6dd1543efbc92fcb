"""Data theft and workload abuse: kubectl exec into secrets, mass cloning, bulk database export."""

from __future__ import annotations

from typing import Any

from auditlake.synth.activity import Ctx, spread
from auditlake.synth.clock import DAY_US, HOUR_US, US
from auditlake.synth.names import ATTACKER_ORIGINS
from auditlake.synth.scenarios.model import Outcome, Step
from auditlake.synth.sources import gateway, github, kubernetes
from auditlake.synth.sources.kubernetes import ref, request
from auditlake.synth.sources.origin import origin_ip

Records = tuple[tuple[int, dict[str, Any]], ...]


def _local_night(start: int, end: int, utc_offset_h: float) -> int:
    """The next 02:00 local time after `start` (keeping its minutes), if it leaves an hour
    before `end`; otherwise `start` itself."""
    local = start + int(utc_offset_h * HOUR_US)
    into_day = local % DAY_US
    night = local - into_day + 2 * HOUR_US + into_day % HOUR_US
    if night < local:
        night += DAY_US
    moved = night - int(utc_offset_h * HOUR_US)
    return moved if moved < end - HOUR_US else start


def k8s_exec_secrets(ctx: Ctx, start: int, end: int) -> Outcome:
    """A developer's stolen kubeconfig: list pods, exec into one, then read the namespace's secrets."""
    del end
    rng = ctx.rng
    person = rng.choice(ctx.org.users_of("k8s") or ctx.org.people)
    client = kubernetes.human(person, ATTACKER_ORIGINS[rng.randrange(len(ATTACKER_ORIGINS))][0])
    ns = "payments"
    pod = f"{ns}-api-7d9f8c6b5-x2k4q"
    allowed = 'RBAC: allowed by RoleBinding "developers"'
    t = spread(ctx, start, 12, 9.0)
    find = ((t[0], kubernetes.event(ctx, t[0], client, request("list", ref("pods", ns), allowed))),
            (t[1], kubernetes.event(ctx, t[1], client, request("get", ref("pods", ns, pod), allowed))))
    exec_ref = ref("pods", ns, pod, "", "exec")
    exec_req = kubernetes.Request("create", exec_ref, kubernetes.uri_for("create", exec_ref)
                                  + "?command=sh&container=api&stdin=true&stdout=true&tty=true", allowed)
    shell = ((t[2], kubernetes.event(ctx, t[2], client, exec_req, 101)),)
    reads = [("list", ref("secrets", ns)), ("get", ref("secrets", ns, "payments-db-credentials")),
             ("get", ref("secrets", ns, "stripe-api-key")), ("list", ref("secrets", "kube-system")),
             ("get", ref("secrets", "kube-system", "aws-node-token")), ("list", ref("secrets", None))]
    secrets = tuple(
        (ts, kubernetes.event(ctx, ts, client, request(verb, obj, allowed), 200 if obj.get("namespace") == ns else 403))
        for ts, (verb, obj) in zip(t[5:11], reads, strict=True)
    )
    return Outcome((
        Step("pod discovery", "T1613", kubernetes.NAME, person.email, find),
        Step("kubectl exec into a pod", "T1609", kubernetes.NAME, person.email, shell),
        Step("secrets listed and read", "T1552.007", kubernetes.NAME, person.email, secrets),
    ))


def github_mass_clone(ctx: Ctx, start: int, end: int) -> Outcome:
    """One engineer's token clones most of the organisation's repositories within minutes."""
    del end
    rng = ctx.rng
    person = rng.choice(ctx.org.users_of("github") or ctx.org.people)
    actor = github.person_actor(ctx, person, origin_ip(rng, person))
    repos = rng.sample(ctx.org.repos, rng.randrange(55, 80))
    times = spread(ctx, start, len(repos), 7.0)
    clones = tuple((t, github.entry(ctx, t, actor, "git.clone", repo)) for t, repo in zip(times, repos, strict=True))
    zips = spread(ctx, times[-1] + 60 * US, 6, 10.0)
    archives = tuple((t, github.entry(ctx, t, actor, "repo.download_zip", repo)) for t, repo in zip(zips, repos[:6], strict=True))
    return Outcome((
        Step("mass repository clone", "T1213.003", github.NAME, person.github, clones),
        Step("repository archives downloaded", "T1213.003", github.NAME, person.github, archives),
    ))


def gateway_bulk_export(ctx: Ctx, start: int, end: int) -> Outcome:
    """An insider logs in at night, dumps customer tables with SELECT *, then COPYs them out."""
    rng = ctx.rng
    person = rng.choice(ctx.org.users_of("gateway") or ctx.org.people)
    start = _local_night(start, end, person.office.utc_offset + person.shift_h)
    who = gateway.Who(person.email, f"{person.home_ip}:{rng.randrange(49152, 65535)}")
    db = next(d for d in ctx.org.databases if d.service == "customers-pg")
    sid = ctx.ids.uuid4()
    login = ((start, gateway.event(ctx, start, "user.login", who, gateway.login_fields(who))),)
    t = start + 40 * US
    dump: list[tuple[int, dict[str, Any]]] = [(t, gateway.event(ctx, t, "db.session.start", who,
                                                                 gateway.db_fields(db, sid, "support_ro", 0) | {"addr.remote": who.addr, "success": True}))]
    times = spread(ctx, t + 5 * US, 48, 6.0)
    for ei, ts in enumerate(times, start=1):
        table = db.tables[ei % len(db.tables)]
        query = f"SELECT * FROM {table} OFFSET {(ei // len(db.tables)) * 50000} LIMIT 50000"
        dump.append((ts, gateway.event(ctx, ts, "db.session.query", who,
                                       gateway.db_fields(db, sid, "support_ro", ei) | {"db_query": query, "db_query_parameters": None, "success": True})))
    copies: list[tuple[int, dict[str, Any]]] = []
    ts = times[-1]
    for ei, table in enumerate(db.tables, start=len(times) + 1):
        ts += int(rng.uniform(20, 60) * US)
        query = f"COPY (SELECT * FROM {table}) TO STDOUT WITH (FORMAT csv, HEADER true)"
        copies.append((ts, gateway.event(ctx, ts, "db.session.query", who,
                                         gateway.db_fields(db, sid, "support_ro", ei) | {"db_query": query, "db_query_parameters": None, "success": True})))
    ts += 10 * US
    copies.append((ts, gateway.event(ctx, ts, "db.session.end", who, gateway.db_fields(db, sid, "support_ro", len(times) + len(db.tables) + 1))))
    return Outcome((
        Step("gateway login outside working hours", "T1078", gateway.NAME, person.email, login),
        Step("bulk SELECT * of customer tables", "T1213", gateway.NAME, person.email, tuple(dump)),
        Step("COPY … TO STDOUT of whole tables", "T1048", gateway.NAME, person.email, tuple(copies)),
    ))
