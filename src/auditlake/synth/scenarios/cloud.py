"""Cloud control-plane attacks: IAM privilege escalation, CloudTrail tampering, GCP persistence."""

from __future__ import annotations

from typing import Any

import orjson

from auditlake.synth import agents, ids
from auditlake.synth.activity import Ctx, spread
from auditlake.synth.clock import US
from auditlake.synth.names import ATTACKER_ORIGINS
from auditlake.synth.org import AwsUser
from auditlake.synth.scenarios.model import Outcome, Step
from auditlake.synth.sources import cloudtrail, gcp
from auditlake.synth.sources.cloudtrail import Caller
from auditlake.synth.sources.cloudtrail_apis import Api

CLOUDTRAIL = cloudtrail.NAME
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
STAR_POLICY = orjson.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}).decode()
Records = tuple[tuple[int, dict[str, Any]], ...]


def _attacker_ip(ctx: Ctx) -> str:
    return ATTACKER_ORIGINS[ctx.rng.randrange(len(ATTACKER_ORIGINS))][0]


def iam_user_caller(user: AwsUser, key: str, ip: str, ua: str) -> Caller:
    identity = {"type": "IAMUser", "principalId": user.user_id, "arn": user.arn, "accountId": user.account_id,
                "accessKeyId": key, "userName": user.name}
    return Caller(identity, ip, ua, user.account_id)


def _calls(ctx: Ctx, start: int, caller: Caller, calls: list[tuple[Api, dict[str, Any] | None]], gap_s: float) -> Records:
    times = spread(ctx, start, len(calls), gap_s)
    return tuple((t, cloudtrail.record(ctx, t, caller, api, detail)) for t, (api, detail) in zip(times, calls, strict=True))


def _iam(name: str, params: dict[str, Any] | None, read_only: bool) -> Api:
    return Api("iam.amazonaws.com", name, read_only, params)


def iam_privesc(ctx: Ctx, start: int, end: int) -> Outcome:
    """A leaked legacy access key: recon, a new key for the break-glass admin, admin policies
    for itself and another user, then the stolen admin key in use."""
    del end
    users = {u.name: u for u in ctx.org.aws_users}
    leaked, admin, other = users["jenkins-legacy"], users["breakglass-admin"], users["partner-sftp-sync"]
    ip, ua = _attacker_ip(ctx), agents.AWS_CLI["linux"]
    caller = iam_user_caller(leaked, leaked.access_key, ip, ua)
    recon = _calls(ctx, start, caller, [
        (Api("sts.amazonaws.com", "GetCallerIdentity", True), None),
        (_iam("ListUsers", {"maxItems": 1000}, True), None),
        (_iam("ListAttachedUserPolicies", {"userName": leaked.name}, True), None),
        (_iam("ListAccessKeys", {"userName": admin.name}, True), None),
    ], 20.0)
    t = recon[-1][0] + 45 * US
    new_key = ids.aws_key_id(ctx.rng, "AKIA")
    create_key = _calls(ctx, t, caller, [(_iam("CreateAccessKey", {"userName": admin.name}, False), {
        "responseElements": {"accessKey": {"userName": admin.name, "accessKeyId": new_key, "status": "Active",
                                           "createDate": ctx.stamps.iso(t, 0)}}})], 1.0)
    t += 70 * US
    attach = _calls(ctx, t, caller, [(_iam("AttachUserPolicy", {"userName": leaked.name, "policyArn": ADMIN_POLICY}, False), None)], 1.0)
    t += 50 * US
    inline = _calls(ctx, t, caller, [(_iam("PutUserPolicy", {"userName": other.name, "policyName": "sync-maintenance",
                                                             "policyDocument": STAR_POLICY}, False), None)], 1.0)
    t += 240 * US
    stolen = iam_user_caller(admin, new_key, ip, agents.BOTO3)
    use = _calls(ctx, t, stolen, [
        (Api("sts.amazonaws.com", "GetCallerIdentity", True), None),
        (Api("s3.amazonaws.com", "ListBuckets", True, {"Host": "s3.amazonaws.com"}), None),
        (Api("secretsmanager.amazonaws.com", "ListSecrets", True), None),
        (Api("secretsmanager.amazonaws.com", "GetSecretValue", True, {"secretId": "prod/payments/stripe"}), None),
    ], 15.0)
    return Outcome((
        Step("IAM discovery with a leaked key", "T1087.004", CLOUDTRAIL, leaked.arn, recon),
        Step("access key created for another user", "T1098.001", CLOUDTRAIL, leaked.arn, create_key),
        Step("AdministratorAccess attached to a user", "T1098.003", CLOUDTRAIL, leaked.arn, attach),
        Step("admin inline policy put on another user", "T1098.003", CLOUDTRAIL, leaked.arn, inline),
        Step("new admin key used from the attacker's address", "T1078.004", CLOUDTRAIL, admin.arn, use),
    ))


def cloudtrail_tamper(ctx: Ctx, start: int, end: int) -> Outcome:
    """A hijacked admin SSO session looks at the trail, stops logging, then deletes the trail."""
    del end
    person = ctx.rng.choice([p for p in ctx.org.people if p.aws_set == "PlatformAdmin"] or list(ctx.org.people))
    account = ctx.org.aws_accounts[0]
    role = next(r for r in ctx.org.roles("sso") if r.account_id == account.account_id and "_PlatformAdmin_" in r.name)
    caller = Caller(cloudtrail.role_identity(ctx, role, person.email, start), _attacker_ip(ctx), agents.AWS_CLI["linux"], account.account_id)
    trail = f"arn:aws:cloudtrail:us-east-1:{account.account_id}:trail/org-trail"
    look = _calls(ctx, start, caller, [
        (Api("cloudtrail.amazonaws.com", "DescribeTrails", True, {"includeShadowTrails": True}), None),
        (Api("cloudtrail.amazonaws.com", "GetTrailStatus", True, {"name": trail}), None),
        (Api("cloudtrail.amazonaws.com", "GetEventSelectors", True, {"trailName": trail}), None),
    ], 12.0)
    t = look[-1][0] + 40 * US
    stop = _calls(ctx, t, caller, [(Api("cloudtrail.amazonaws.com", "StopLogging", False, {"name": trail}), None)], 1.0)
    delete = _calls(ctx, t + 95 * US, caller, [(Api("cloudtrail.amazonaws.com", "DeleteTrail", False, {"name": trail}), None)], 1.0)
    actor = caller.identity["arn"]
    return Outcome((
        Step("trail discovery", "T1526", CLOUDTRAIL, actor, look),
        Step("CloudTrail StopLogging", "T1562.008", CLOUDTRAIL, actor, stop),
        Step("CloudTrail DeleteTrail", "T1562.008", CLOUDTRAIL, actor, delete),
    ))


def gcp_sa_key_persistence(ctx: Ctx, start: int, end: int) -> Outcome:
    """A data engineer's stolen session mints a service-account key and makes an outsider owner."""
    del end
    person = ctx.rng.choice(ctx.org.users_of("gcp") or ctx.org.people)
    project = ctx.org.gcp_projects[0]
    who = gcp.Principal(person.email, _attacker_ip(ctx), agents.GCLOUD)
    sa = project.service_accounts[2]
    key_method = gcp.Method("iam.googleapis.com", "google.iam.admin.v1.CreateServiceAccountKey", "iam.serviceAccountKeys.create",
                            "activity", "service_account", f"projects/-/serviceAccounts/{sa}")
    key = gcp.entry(ctx, start, who, project, key_method, extra={
        "request": {"@type": "type.googleapis.com/google.iam.admin.v1.CreateServiceAccountKeyRequest", "name": f"projects/-/serviceAccounts/{sa}"},
        "response": {"@type": "type.googleapis.com/google.iam.admin.v1.ServiceAccountKey",
                     "name": f"projects/{project.project_id}/serviceAccounts/{sa}/keys/{ctx.ids.hex(20)}"}})
    t = start + 180 * US
    policy_method = gcp.Method("cloudresourcemanager.googleapis.com", "SetIamPolicy", "resourcemanager.projects.setIamPolicy",
                               "activity", "project", f"projects/{project.project_id}")
    grant = gcp.entry(ctx, t, who, project, policy_method, extra={
        "serviceData": {"@type": "type.googleapis.com/google.iam.v1.logging.AuditData",
                        "policyDelta": {"bindingDeltas": [{"action": "ADD", "role": "roles/owner", "member": "user:ops-contractor@mail.example"}]}}})
    return Outcome((
        Step("service account key created", "T1098.001", gcp.NAME, person.email, ((start, key),)),
        Step("project owner granted to an outside account", "T1098.003", gcp.NAME, person.email, ((t, grant),)),
    ))
