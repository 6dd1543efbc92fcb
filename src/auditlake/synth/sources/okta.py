"""Okta System Log background: sign-ins with MFA, single sign-on to apps, token grants.

A person signs in once or twice a day (sign-on policy, Okta Verify push, session start), then
opens apps over the next hours (`user.authentication.sso`); a few sign-ins fail on a mistyped
password first. Integrations obtain OAuth tokens around the clock. Records are System Log
`LogEntry` objects as the `/api/v1/logs` API returns them; `event()` is shared with scenarios.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from auditlake.synth import agents
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
from auditlake.synth.org import Org, Person
from auditlake.synth.picker import Picker
from auditlake.synth.sourcegen import SourceGen, field_id, frozen, json_line_encoder
from auditlake.synth.sources.origin import origin_ip

NAME = "okta.system"
SIGNINS_PER_PEAK_HOUR = 0.1
APP_VISITS_PER_PEAK_HOUR = 0.14

EVENT_TYPES: dict[str, tuple[str, str | None]] = {
    "user.session.start": ("User login to Okta", "core.user_auth.login_success"),
    "user.session.end": ("User logout from Okta", "core.user_auth.logout_success"),
    "policy.evaluate_sign_on": ("Evaluation of sign-on policy", None),
    "system.push.send_factor_verify_push": ("Push notification sent for verification", None),
    "user.authentication.auth_via_mfa": ("Authentication of user via MFA", "core.user.factor.attempt_success"),
    "user.mfa.okta_verify.deny_push": ("User rejected Okta push verify", "core.user.factor.attempt_fail"),
    "user.authentication.sso": ("User single sign on to app", "app.auth.sso"),
    "user.account.lock": ("Max sign in attempts exceeded", "core.user_auth.account_locked"),
    "user.lifecycle.deactivate": ("Deactivate Okta user", "core.user.config.user_deactivated"),
    "app.oauth2.as.token.grant.access_token": ("OAuth2 access token is granted", None),
    "user.account.update_password": ("User update password for Okta", "core.user.config.password_update.success"),
}
"""eventType → (displayMessage, legacyEventType)."""

APPS: tuple[tuple[float, tuple[str, str]], ...] = (
    (10, ("0oa1slackkestrel0001", "Slack")),
    (9, ("0oa1gworkspace00001", "Google Workspace")),
    (6, ("0oa1zoomkestrel00001", "Zoom")),
    (6, ("0oa1atlassian0000001", "Atlassian Cloud")),
    (5, ("0oa1awsidc000000001", "AWS IAM Identity Center")),
    (5, ("0oa1githubent000001", "GitHub Enterprise Cloud")),
    (3, ("0oa1teleport0000001", "Teleport")),
    (3, ("0oa1datadog00000001", "Datadog")),
    (3, ("0oa1salesforce00001", "Salesforce")),
    (2, ("0oa1workday0000001", "Workday")),
)
APP_PICK = Picker(APPS)
SECURITY_CONTEXT = frozen({"asNumber": 64500, "asOrg": "example broadband", "isp": "example broadband",
                           "domain": "example.net", "isProxy": False})
OUTCOMES = {"SUCCESS": {"result": "SUCCESS", "reason": None}, "ALLOW": {"result": "ALLOW", "reason": None}}


@dataclass(frozen=True, slots=True)
class Session:
    """What a sign-in session's events share: actor, client, request chain and session ids,
    each serialized once (see `sourcegen.frozen`)."""

    actor: orjson.Fragment
    client: orjson.Fragment
    request: orjson.Fragment
    auth: orjson.Fragment

    @classmethod
    def of(cls, actor: Mapping[str, Any], client: Mapping[str, Any], request: Mapping[str, Any], auth: Mapping[str, Any]) -> Session:
        return cls(frozen(actor), frozen(client), frozen(request), frozen(auth))


def actor(person: Person) -> dict[str, Any]:
    return {"id": person.okta_id, "type": "User", "alternateId": person.email,
            "displayName": person.display_name, "detailEntry": None}


def geo(city: str, state: str | None, country: str, postal: str | None = None, at: tuple[float, float] = (0.0, 0.0)) -> dict[str, Any]:
    """A `geographicalContext`; `at` is (latitude, longitude)."""
    return {"city": city, "state": state, "country": country, "postalCode": postal,
            "geolocation": {"lat": at[0], "lon": at[1]}}


def session_for(ctx: Ctx, person: Person, ip: str, where: Mapping[str, Any], ua: tuple[str, str, str]) -> Session:
    """A new sign-in session of `person` from `ip` located at `where`, with browser `ua`."""
    client = {"userAgent": {"rawUserAgent": ua[0], "os": ua[1], "browser": ua[2]}, "zone": "null",
              "device": "Computer", "id": None, "ipAddress": ip, "geographicalContext": where}
    request = {"ipChain": [{"ip": ip, "geographicalContext": where, "version": "V4", "source": None}]}
    auth = {"authenticationProvider": None, "credentialProvider": None, "credentialType": None,
            "issuer": None, "interface": None, "authenticationStep": 0,
            "rootSessionId": "idx" + ctx.ids.hex(11), "externalSessionId": "idx" + ctx.ids.hex(11)}
    return Session.of(actor(person), client, request, auth)


def event(ctx: Ctx, ts: int, session: Session, event_type: str, detail: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One LogEntry; `detail` sets `outcome`, `target`, `debugContext` extras or `severity`."""
    display, legacy = EVENT_TYPES[event_type]
    request_id = ctx.ids.hex(12)
    rec: dict[str, Any] = {
        "actor": session.actor,
        "client": session.client,
        "device": None,
        "authenticationContext": session.auth,
        "displayMessage": display,
        "eventType": event_type,
        "outcome": OUTCOMES["SUCCESS"],
        "published": ctx.stamps.iso(ts, 3),
        "securityContext": SECURITY_CONTEXT,
        "severity": "INFO",
        "debugContext": {"debugData": {"requestId": request_id, "requestUri": "/idp/idx/identify", "url": "/idp/idx/identify?"}},
        "legacyEventType": legacy,
        "transaction": {"type": "WEB", "id": request_id, "detail": {}},
        "uuid": ctx.ids.uuid4(),
        "version": "0",
        "request": session.request,
        "target": None,
    }
    if detail:
        rec.update(detail)
    return rec


def failure(reason: str) -> dict[str, Any]:
    return {"outcome": {"result": "FAILURE", "reason": reason}, "severity": "WARN"}


def user_target(person: Person) -> list[dict[str, Any]]:
    return [{"id": person.okta_id, "type": "User", "alternateId": person.email,
             "displayName": person.display_name, "detailEntry": None}]


def app_target(app: tuple[str, str], person: Person) -> list[dict[str, Any]]:
    app_id, name = app
    return [
        {"id": app_id, "type": "AppInstance", "alternateId": name, "displayName": name, "detailEntry": {"signOnModeType": "SAML_2_0"}},
        {"id": "0ua" + person.okta_id[3:], "type": "AppUser", "alternateId": person.email, "displayName": person.display_name, "detailEntry": None},
    ]


def plan_hour(ctx: Ctx, hour_us: int) -> Iterator[Plan]:
    groups = ctx.cohorts_of("*")
    for ts, person in session_starts(ctx, groups, hour_us, SIGNINS_PER_PEAK_HOUR):
        yield from _sign_in(ctx, ts, person)
    for ts, person in session_starts(ctx, groups, hour_us, APP_VISITS_PER_PEAK_HOUR):
        session = _home_session(ctx, person)
        for t in spread(ctx, ts, burst_size(ctx.rng, 2), 400.0):
            yield ctx.plan(t, _sso, (session, person))
    yield from job_ticks(ctx, ctx.memo("jobs", lambda: _jobs(ctx.org)), hour_us)


def _home_session(ctx: Ctx, person: Person) -> Session:
    office = person.office
    where = geo(office.city, office.state, office.country, office.postal_code, (office.lat, office.lon))
    return session_for(ctx, person, origin_ip(ctx.rng, person), where, agents.BROWSERS[person.laptop_os])


def _sign_in(ctx: Ctx, ts: int, person: Person) -> Iterator[Plan]:
    """Policy, (a mistyped password,) Okta Verify push, MFA, session start, then a few apps."""
    rng = ctx.rng
    session = _home_session(ctx, person)
    steps: list[tuple[str, Mapping[str, Any] | None]] = [("policy.evaluate_sign_on", {"outcome": OUTCOMES["ALLOW"]})]
    if rng.random() < 0.04:
        steps.append(("user.session.start", failure("INVALID_CREDENTIALS")))
    steps += [("system.push.send_factor_verify_push", None), ("user.authentication.auth_via_mfa", None),
              ("user.session.start", None)]
    times = spread(ctx, ts, len(steps), 3.0)
    for t, (kind, detail) in zip(times, steps, strict=True):
        yield ctx.plan(t, _fixed, (session, kind, detail))
    for t in spread(ctx, times[-1] + 5 * US, burst_size(rng, 3), 600.0)[: 6]:
        yield ctx.plan(t, _sso, (session, person))
    if rng.random() < 0.15:
        yield ctx.plan(times[-1] + int(rng.uniform(1800, 14400) * US), _fixed, (session, "user.session.end", None))


def _fixed(ctx: Ctx, ts: int, arg: tuple[Session, str, Mapping[str, Any] | None]) -> dict[str, Any]:
    session, kind, detail = arg
    return event(ctx, ts, session, kind, detail)


def _sso(ctx: Ctx, ts: int, arg: tuple[Session, Person]) -> dict[str, Any]:
    session, person = arg
    return event(ctx, ts, session, "user.authentication.sso", {"target": app_target(APP_PICK(ctx.rng), person)})


def _client_session(client_id: str, name: str) -> Session:
    """The constant session of an integration that authenticates with client credentials."""
    actor_ = {"id": client_id, "type": "PublicClientApp", "alternateId": name, "displayName": name, "detailEntry": None}
    where = geo("Ashburn", "Virginia", "United States", "20149", (39.0437, -77.4875))
    return Session.of(actor_, {"userAgent": {"rawUserAgent": "okta-sdk-python/2.9.8", "os": "Unknown", "browser": "UNKNOWN"},
                               "zone": "null", "device": "Unknown", "id": client_id, "ipAddress": "203.0.113.230",
                               "geographicalContext": where},
                      {"ipChain": [{"ip": "203.0.113.230", "geographicalContext": where, "version": "V4", "source": None}]},
                      {"authenticationProvider": None, "credentialProvider": None, "credentialType": None, "issuer": None,
                       "interface": None, "authenticationStep": 0, "rootSessionId": None, "externalSessionId": None})


_AUTH_SERVER = frozen([{"id": "aus1kestreldefault01", "type": "AuthorizationServer", "alternateId": "default",
                        "displayName": "default", "detailEntry": None}])


def _token_grant(ctx: Ctx, ts: int, session: Session) -> dict[str, Any]:
    return event(ctx, ts, session, "app.oauth2.as.token.grant.access_token", {"target": _AUTH_SERVER})


def _jobs(org: Org) -> list[Job]:
    scim, terraform = org.machine("okta", "SCIM provisioning"), org.machine("okta", "terraform-okta")
    return [
        Job(_client_session(scim.ident, scim.name), 150, _token_grant, poisson=True),
        Job(_client_session(terraform.ident, terraform.name), 600, _token_grant, poisson=True),
    ]

GEN = SourceGen(NAME, "jsonl", plan_hour, json_line_encoder, field_id("uuid"), time_unit_us=1000)
