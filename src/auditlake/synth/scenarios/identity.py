"""Identity attacks: password spray into MFA fatigue, and a deprovisioned user logging in."""

from __future__ import annotations

from typing import Any

from auditlake.synth import agents
from auditlake.synth.activity import Ctx, spread
from auditlake.synth.clock import HOUR_US, US
from auditlake.synth.names import ATTACKER_ORIGINS
from auditlake.synth.org import Person
from auditlake.synth.scenarios.model import Outcome, Step
from auditlake.synth.sources import gateway, okta
from auditlake.synth.sources.origin import origin_ip

OKTA = okta.NAME
SPRAY_UA = ("python-requests/2.32.3", "Unknown", "UNKNOWN")
ATTACKER_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
               "Windows 10", "CHROME")


def attacker_where(ctx: Ctx) -> tuple[str, dict[str, Any]]:
    """An attacker address and its Okta geographical context (a country no employee is in)."""
    ip, country, city, _ = ATTACKER_ORIGINS[ctx.rng.randrange(len(ATTACKER_ORIGINS))]
    return ip, okta.geo(city, None, country)


def spray_mfa_fatigue(ctx: Ctx, start: int, end: int) -> Outcome:
    """Failed sign-ins for many users from one address; one password works; push bombing until
    the victim accepts; then a session from the attacker's country and SSO into AWS."""
    del end
    rng = ctx.rng
    ip, where = attacker_where(ctx)
    targets = rng.sample(ctx.org.people, 36)
    victim = targets[-1]
    spray: list[tuple[int, dict[str, Any]]] = []
    times = spread(ctx, start, len(targets), 14.0)
    for t, person in zip(times[:-1], targets[:-1], strict=True):
        session = okta.session_for(ctx, person, ip, where, SPRAY_UA)
        spray.append((t, okta.event(ctx, t, session, "user.session.start", okta.failure("INVALID_CREDENTIALS"))))
    victim_session = okta.session_for(ctx, victim, ip, where, ATTACKER_UA)
    spray.append((times[-1], okta.event(ctx, times[-1], victim_session, "policy.evaluate_sign_on",
                                        {"outcome": {"result": "CHALLENGE", "reason": "Sign-on policy evaluation resulted in CHALLENGE"}})))
    fatigue: list[tuple[int, dict[str, Any]]] = []
    t = times[-1] + 30 * US
    for _ in range(rng.randrange(9, 15)):
        fatigue.append((t, okta.event(ctx, t, victim_session, "system.push.send_factor_verify_push")))
        t += int(rng.uniform(8, 40) * US)
        fatigue.append((t, okta.event(ctx, t, victim_session, "user.mfa.okta_verify.deny_push",
                                      okta.failure("User rejected Okta push verify"))))
        t += int(rng.uniform(30, 150) * US)
    fatigue.append((t, okta.event(ctx, t, victim_session, "system.push.send_factor_verify_push")))
    t += int(rng.uniform(5, 20) * US)
    fatigue.append((t, okta.event(ctx, t, victim_session, "user.authentication.auth_via_mfa")))
    t += 2 * US
    new_country = [(t, okta.event(ctx, t, victim_session, "user.session.start"))]
    for i, app in enumerate((("0oa1awsidc000000001", "AWS IAM Identity Center"), ("0oa1gworkspace00001", "Google Workspace"))):
        at = t + (40 + 90 * i) * US
        new_country.append((at, okta.event(ctx, at, victim_session, "user.authentication.sso",
                                           {"target": okta.app_target(app, victim)})))
    return Outcome((
        Step("password spray", "T1110.003", OKTA, ip, tuple(spray)),
        Step("MFA push fatigue", "T1621", OKTA, victim.email, tuple(fatigue)),
        Step("session from a new country", "T1078.004", OKTA, victim.email, tuple(new_country)),
    ))


def deprovisioned_login(ctx: Ctx, start: int, end: int) -> Outcome:
    """IT deactivates a leaver in Okta; hours later the leaver tries Okta (refused) and gets in
    through the gateway with a local account nobody removed."""
    rng = ctx.rng
    leaver = rng.choice([p for p in ctx.org.people if "gateway" in p.uses and "linux" in p.uses])
    admin = rng.choice([p for p in ctx.org.people if p.department == "IT"])
    admin_session = okta.session_for(ctx, admin, admin.office.egress_ip, _office_geo(admin), agents.BROWSERS[admin.laptop_os])
    deactivate = okta.event(ctx, start, admin_session, "user.lifecycle.deactivate", {"target": okta.user_target(leaver)})
    later = start + min(int(rng.uniform(3, 8) * HOUR_US), (end - start) * 2 // 3)
    ip = origin_ip(rng, leaver)
    session = okta.session_for(ctx, leaver, ip, _office_geo(leaver), agents.BROWSERS[leaver.laptop_os])
    refused = okta.event(ctx, later, session, "user.session.start", okta.failure("VERIFICATION_ERROR"))
    gate = _local_gateway_session(ctx, later + int(rng.uniform(60, 600) * US), leaver, ip)
    return Outcome(
        (
            Step("sign-in attempt by deprovisioned user", "T1078", OKTA, leaver.email, ((later, refused),)),
            Step("gateway login with a leftover local account", "T1078.003", gateway.NAME, leaver.login, tuple(gate)),
        ),
        leavers=((leaver.login, start),),
        setup=((OKTA, start, deactivate),),
    )


def _office_geo(person: Person) -> dict[str, Any]:
    o = person.office
    return okta.geo(o.city, o.state, o.country, o.postal_code, (o.lat, o.lon))


def _local_gateway_session(ctx: Ctx, ts: int, person: Person, ip: str) -> list[tuple[int, dict[str, Any]]]:
    who = gateway.Who(person.login, f"{ip}:{ctx.rng.randrange(49152, 65535)}")
    host = next(h for h in ctx.org.linux_hosts if h.kind == "db")
    sid = ctx.ids.uuid4()
    times = spread(ctx, ts, 6, 20.0)
    out = [(times[0], gateway.event(ctx, times[0], "user.login.local", who, gateway.login_fields(who, "local")))]
    start_fields = gateway.ssh_fields(host, sid, "ubuntu", 0) | {"proto": "ssh", "addr.remote": who.addr, "session_recording": "node"}
    out.append((times[1], gateway.event(ctx, times[1], "session.start", who, start_fields)))
    for ei, (t, (program, argv)) in enumerate(zip(times[2:5], (("id", []), ("ls", ["-la", "/srv/backups"]), ("scp", ["-t", "/tmp"])), strict=True), start=1):
        out.append((t, gateway.event(ctx, t, "session.command", who, gateway.ssh_fields(host, sid, "ubuntu", ei) | gateway.command_fields(program, argv, 4000 + ei))))
    out.append((times[5], gateway.event(ctx, times[5], "session.end", who, gateway.ssh_fields(host, sid, "ubuntu", 4) | {"interactive": True, "participants": [who.user]})))
    return out
