"""GitHub audit log background: git traffic, pull requests, workflow runs and bots.

Engineers fetch, clone and push to a handful of repositories and open, review and merge pull
requests; CI clones constantly as `github-actions[bot]` (which is why "many clones" alone is not
an attack); Dependabot opens pull requests; repository administration is rare. Records are
enterprise audit-log stream entries (`@timestamp` in epoch milliseconds, `_document_id`, `action`,
`actor`), git events included. `entry()` and `Actor` are shared with the scenarios.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from auditlake.synth import agents, ids
from auditlake.synth.activity import (
    Ctx,
    Job,
    Plan,
    burst_size,
    job_ticks,
    session_starts,
    spread,
)
from auditlake.synth.org import GITHUB_ORG, Org, Person
from auditlake.synth.picker import Picker
from auditlake.synth.sourcegen import SourceGen, field_id, json_line_encoder
from auditlake.synth.sources.origin import origin_ip

NAME = "github.audit"
SESSIONS_PER_PEAK_HOUR = 0.11
ORG_ID = 81234567
BUSINESS = "kestrel"
BUSINESS_ID = 4821

OPERATION = {"git.clone": "access", "git.fetch": "access", "git.push": "modify", "repo.download_zip": "access",
             "pull_request.create": "create", "pull_request.merge": "modify", "pull_request.close": "modify",
             "pull_request_review.submit": "create", "repo.create": "create", "workflows.completed_workflow_run": "modify",
             "protected_branch.policy_override": "modify", "personal_access_token.access_granted": "create",
             "org.add_member": "create", "team.add_member": "modify"}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts and from where, shared by a session's entries."""

    login: str
    actor_id: int
    ip: str
    country: str
    user_agent: str
    token: Mapping[str, Any] | None = None


def entry(ctx: Ctx, ts: int, actor: Actor, action: str, repo: str | None, *, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One audit-log entry; git events carry transport fields, token use adds `hashed_token`."""
    ms = ts // 1000
    rec: dict[str, Any] = {
        "@timestamp": ms,
        "_document_id": ids.doc_id(ctx.rng),
        "action": action,
        "actor": actor.login,
        "actor_id": actor.actor_id,
        "actor_ip": actor.ip,
        "actor_location": {"country_code": actor.country},
        "business": BUSINESS,
        "business_id": BUSINESS_ID,
        "created_at": ms,
        "operation_type": OPERATION.get(action, "modify"),
        "org": GITHUB_ORG,
        "org_id": ORG_ID,
        "user_agent": actor.user_agent,
    }
    if repo:
        rec["repo"] = rec["repository"] = f"{GITHUB_ORG}/{repo}"
        rec["repository_public"] = False
    if action.startswith("git."):
        rec["transport_protocol"] = 1
        rec["transport_protocol_name"] = "http"
    if actor.token:
        rec.update(actor.token)
    if extra:
        rec.update(extra)
    return rec


def person_actor(ctx: Ctx, person: Person, ip: str, user_agent: str = agents.GIT) -> Actor:
    token = {"hashed_token": _hashed_token(person), "programmatic_access_type": "Personal access token (classic)",
             "token_id": 1_000_000 + person.index}
    return Actor(person.github, person.github_id, ip, person.office.country_code, user_agent, token)


def _hashed_token(person: Person) -> str:
    """A stable stand-in for the base64 SHA-256 GitHub logs in place of a token."""
    return base64.b64encode(hashlib.sha256(f"pat:{person.login}".encode()).digest()).decode()


def plan_hour(ctx: Ctx, hour_us: int) -> Iterator[Plan]:
    rng = ctx.rng
    repos = ctx.org.repos
    for ts, person in session_starts(ctx, ctx.cohorts_of("github"), hour_us, SESSIONS_PER_PEAK_HOUR):
        actor = person_actor(ctx, person, origin_ip(rng, person))
        home = repos[(person.index * 7) % len(repos): (person.index * 7) % len(repos) + 4] or repos[:4]
        for t in spread(ctx, ts, burst_size(rng, 4), 240.0):
            yield ctx.plan(t, _human, (actor, home))
    yield from job_ticks(ctx, ctx.memo("jobs", lambda: _jobs(ctx.org)), hour_us)


def _human(ctx: Ctx, ts: int, arg: tuple[Actor, tuple[str, ...]]) -> dict[str, Any]:
    actor, home = arg
    action = HUMAN_PICK(ctx.rng)
    repo = home[ctx.rng.randrange(len(home))]
    if action.startswith("git."):
        return entry(ctx, ts, actor, action, repo)
    web = Actor(actor.login, actor.actor_id, actor.ip, actor.country, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36")
    extra = {"pull_request_id": 2_000_000_000 + ctx.rng.randrange(10_000_000)} if action.startswith("pull_request") else None
    return entry(ctx, ts, web, action, repo, extra=extra)


HUMAN_PICK = Picker([
    (40, "git.fetch"), (12, "git.push"), (6, "git.clone"), (8, "pull_request.create"),
    (10, "pull_request_review.submit"), (6, "pull_request.merge"), (2, "pull_request.close"),
    (0.3, "repo.download_zip"), (0.1, "repo.create"), (0.1, "protected_branch.policy_override"),
])


def _ci_clone(ctx: Ctx, ts: int, actor: Actor) -> dict[str, Any]:
    return entry(ctx, ts, actor, "git.clone", ctx.rng.choice(ctx.org.repos))


def _workflow(ctx: Ctx, ts: int, actor: Actor) -> dict[str, Any]:
    rng = ctx.rng
    repo = rng.choice(ctx.org.repos)
    extra = {"conclusion": "failure" if rng.random() < 0.08 else "success", "event": "push", "head_branch": "main",
             "head_sha": ctx.ids.hex(20), "name": "ci", "workflow_id": 40_000_000 + len(repo),
             "workflow_run_id": 9_000_000_000 + rng.randrange(1_000_000_000), "run_attempt": 1}
    return entry(ctx, ts, actor, "workflows.completed_workflow_run", repo, extra=extra)


def _dependabot(ctx: Ctx, ts: int, actor: Actor) -> dict[str, Any]:
    return entry(ctx, ts, actor, "pull_request.create", ctx.rng.choice(ctx.org.repos),
                 extra={"pull_request_id": 2_000_000_000 + ctx.rng.randrange(10_000_000)})


def _jobs(org: Org) -> list[Job]:
    actions, dependabot = org.machine("github", "github-actions[bot]"), org.machine("github", "dependabot[bot]")
    ci = Actor(actions.name, int(actions.ident), "203.0.113.222", "US", "GitHub Actions",
               {"programmatic_access_type": "GitHub App server-to-server token"})
    return [
        Job(ci, 95, _ci_clone, poisson=True),
        Job(ci, 240, _workflow, poisson=True),
        Job(Actor(dependabot.name, int(dependabot.ident), "203.0.113.223", "US", "Dependabot", None), 5400, _dependabot, poisson=True),
    ]

GEN = SourceGen(NAME, "jsonl", plan_hour, json_line_encoder, field_id("_document_id"), time_unit_us=1000)
