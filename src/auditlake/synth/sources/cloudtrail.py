"""AWS CloudTrail background: people in SSO role sessions, and the machines that never sleep.

People start console or CLI sessions in working hours and make bursts of mostly read calls.
Around the clock, a monitoring integration and AWS Config poll Describe/List/Get, AWS services
call KMS, ECS tasks, EKS nodes and Lambda functions assume their roles, CI deploys, Terraform
refreshes. Records follow the CloudTrail record format (eventVersion 1.09) and are written as
gzip `{"Records": [...]}` delivery files. `record()` and `Caller` are shared with the scenarios.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

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
from auditlake.synth.clock import US
from auditlake.synth.org import AwsRole, Org, Person
from auditlake.synth.picker import Picker
from auditlake.synth.sourcegen import SourceGen, field_id, frozen, json_bare_encoder
from auditlake.synth.sources import cloudtrail_apis as apis
from auditlake.synth.sources.cloudtrail_apis import Api
from auditlake.synth.sources.origin import origin_ip

NAME = "aws.cloudtrail"
SESSIONS_PER_PEAK_HOUR = 0.22
"""Sessions a person (activity 1) starts per peak working hour."""

ACCOUNT_WEIGHTS = (0.45, 0.2, 0.28, 0.04, 0.03)
"""prod, staging, dev, security, shared: where people's sessions land."""
TLS = frozen({"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256"})


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls and from where: the parts of a record shared by a session's events.

    `identity` is serialized once (`identity_json`) and spliced into every record.
    """

    identity: Mapping[str, Any]
    ip: str
    user_agent: str
    account_id: str
    region: str = "us-east-1"
    extra: Mapping[str, Any] | None = None
    identity_json: orjson.Fragment = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "identity_json", frozen(self.identity))


def record(ctx: Ctx, ts: int, caller: Caller, api: Api, detail: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One CloudTrail record; `detail` overrides or adds fields (errors, responses, resources)."""
    rec: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": caller.identity_json,
        "eventTime": ctx.stamps.iso(ts, 0),
        "eventSource": api.source,
        "eventName": api.name,
        "awsRegion": caller.region,
        "sourceIPAddress": caller.ip,
        "userAgent": caller.user_agent,
        "requestParameters": api.params_json,
        "responseElements": None,
        "requestID": ctx.ids.uuid4(),
        "eventID": ctx.ids.uuid4(),
        "readOnly": api.read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": caller.account_id,
        "eventCategory": "Management",
    }
    if caller.extra:
        rec.update(caller.extra)
    if detail:
        rec.update(detail)
    return rec


def role_identity(ctx: Ctx, role: AwsRole, session_name: str, ts: int, invoked_by: str = "") -> dict[str, Any]:
    """`userIdentity` of an assumed-role session, with fresh temporary credentials."""
    identity: dict[str, Any] = {
        "type": "AssumedRole",
        "principalId": f"{role.role_id}:{session_name}",
        "arn": f"arn:aws:sts::{role.account_id}:assumed-role/{role.name}/{session_name}",
        "accountId": role.account_id,
        "accessKeyId": ids.aws_key_id(ctx.rng, "ASIA"),
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": role.role_id, "arn": role.arn,
                              "accountId": role.account_id, "userName": role.name},
            "attributes": {"creationDate": ctx.stamps.iso(ts, 0), "mfaAuthenticated": "false"},
        },
    }
    if invoked_by:
        identity["invokedBy"] = invoked_by
    return identity


def denied(api: Api, identity: Mapping[str, Any]) -> dict[str, Any]:
    """The error fields of a call the caller was not allowed to make."""
    message = (
        "You are not authorized to perform this operation."
        if api.denied.startswith("Client.")
        else f"User: {identity.get('arn')} is not authorized to perform: {api.service}:{api.name} "
        "because no identity-based policy allows the action"
    )
    return {"errorCode": api.denied, "errorMessage": message}


READS = Picker(apis.HUMAN_READS)
WRITES = Picker(apis.HUMAN_WRITES)
ACCOUNTS = Picker((w, i) for i, w in enumerate(ACCOUNT_WEIGHTS))


def plan_hour(ctx: Ctx, hour_us: int) -> Iterator[Plan]:
    """People's sessions and the machines' calls for one hour."""
    org = ctx.org
    for ts, person in session_starts(ctx, ctx.cohorts_of("aws"), hour_us, SESSIONS_PER_PEAK_HOUR):
        yield from _human_session(ctx, ts, person)
    yield from job_ticks(ctx, _jobs(ctx, org, hour_us), hour_us)


def _human_session(ctx: Ctx, ts: int, person: Person) -> Iterator[Plan]:
    rng = ctx.rng
    account = ctx.org.aws_accounts[ACCOUNTS(rng)]
    role = next(r for r in ctx.org.roles("sso") if r.account_id == account.account_id and f"_{person.aws_set}_" in r.name)
    ip = origin_ip(rng, person)
    console = rng.random() < 0.3
    ua = "AWS Internal" if console else agents.AWS_CLI[person.laptop_os]
    caller = Caller(role_identity(ctx, role, person.email, ts), ip, ua, account.account_id, extra={"tlsDetails": TLS})
    times = spread(ctx, ts, burst_size(rng, 12), 15.0)
    if console:
        yield ctx.plan(times[0], _console_login, (caller, person))
        times = times[1:]
    for t in times:
        yield ctx.plan(t, _human_call, caller)


def _human_call(ctx: Ctx, ts: int, caller: Caller) -> dict[str, Any]:
    rng = ctx.rng
    write = rng.random() < 0.1
    api = WRITES(rng) if write else READS(rng)
    fail = rng.random() < (0.05 if write else 0.012)
    return record(ctx, ts, caller, api, denied(api, caller.identity) if fail else None)


def _console_login(ctx: Ctx, ts: int, arg: tuple[Caller, Person]) -> dict[str, Any]:
    caller, person = arg
    api = Api("signin.amazonaws.com", "ConsoleLogin", False)
    return record(ctx, ts, caller, api, {
        "userAgent": agents.BROWSERS[person.laptop_os][0],
        "responseElements": {"ConsoleLogin": "Success"},
        "additionalEventData": {"LoginTo": "https://console.aws.amazon.com/console/home",
                                "MobileVersion": "No", "MFAUsed": "No"},
        "eventType": "AwsConsoleSignIn",
    })


def _jobs(ctx: Ctx, org: Org, hour_us: int) -> list[Job]:
    """The machine actors of this hour; role credentials rotate hourly, as STS sessions do."""
    prod = org.aws_accounts[0].account_id
    role = {r.name: r for r in org.aws_roles}

    def caller(name: str, session: str, ip: str, ua: str, invoked_by: str = "") -> Caller:
        return Caller(role_identity(ctx, role[name], session, hour_us, invoked_by), ip, ua, prod)

    service = {"type": "AWSService", "invokedBy": "secretsmanager.amazonaws.com"}
    vpce = {"vpcEndpointId": "vpce-0a1b2c3d4e5f60718"}
    return [
        Job((caller("datadog-integration", "DatadogAWSIntegration", "203.0.113.210", "Datadog/1.0 aws-sdk-go/1.55.5"), _MONITORING), 14, _service_call, poisson=True),
        Job((caller("AWSServiceRoleForConfig", "AWSConfig-Describe", "config.amazonaws.com", "config.amazonaws.com", "config.amazonaws.com"), _CONFIG), 40, _service_call, poisson=True),
        Job((caller("security-scanner", "prowler", "198.51.100.60", agents.BOTO3), _SCANNER), 150, _service_call, poisson=True),
        Job((Caller(service, "secretsmanager.amazonaws.com", "secretsmanager.amazonaws.com", prod), _KMS), 45, _service_call, poisson=True),
        Job((Caller(role_identity(ctx, role["orders-api-task-role"], "ecs-task", hour_us), "10.20.70.14", agents.AWS_SDK_GO, prod, extra=vpce), _TASK), 60, _service_call, poisson=True),
        Job((Caller(role_identity(ctx, role["payments-worker-task-role"], "ecs-task", hour_us), "10.20.71.33", agents.AWS_SDK_GO, prod, extra=vpce), _TASK), 90, _service_call, poisson=True),
        *(Job((role[name], svc), 900, _assume_role, phase_s=i * 97.0, jitter_s=30) for i, (name, svc) in enumerate(_ROLE_ASSUMERS)),
        Job(caller("github-actions-deployer", "GitHubActions", "203.0.113.221", agents.BOTO3), 1200, _ci_deploy, phase_s=311, jitter_s=600, expands=True),
        Job(caller("terraform-apply", "terraform-plan", "198.51.100.60", agents.TERRAFORM), 3600, _terraform_refresh, phase_s=1200, jitter_s=120, expands=True),
    ]


_MONITORING = Picker(apis.MONITORING_READS)
_CONFIG = Picker(apis.CONFIG_READS)
_SCANNER = Picker(apis.SCANNER_READS)
_KMS = Picker(apis.KMS_CALLS)
_TASK = Picker(apis.TASK_CALLS)
_ROLE_ASSUMERS = (
    ("orders-api-task-role", "ecs-tasks.amazonaws.com"),
    ("payments-worker-task-role", "ecs-tasks.amazonaws.com"),
    ("eks-node-group-role", "ec2.amazonaws.com"),
    ("lambda-image-resizer", "lambda.amazonaws.com"),
    ("lambda-invoice-export", "lambda.amazonaws.com"),
    ("backup-operator", "backup.amazonaws.com"),
)


def _service_call(ctx: Ctx, ts: int, arg: tuple[Caller, Picker[Api]]) -> dict[str, Any]:
    caller, pick = arg
    api = pick(ctx.rng)
    detail = {"errorCode": "ThrottlingException", "errorMessage": "Rate exceeded"} if ctx.rng.random() < 0.004 else None
    return record(ctx, ts, caller, api, detail)


def _assume_role(ctx: Ctx, ts: int, arg: tuple[AwsRole, str]) -> dict[str, Any]:
    """An AWS service assuming a workload's role: the bulk of real `AssumeRole` traffic."""
    role, service = arg
    rng = ctx.rng
    session = f"{service.split('.')[0]}-{ids.hex_id(rng, 8)}"
    caller = Caller({"type": "AWSService", "invokedBy": service}, service, service, role.account_id)
    api = Api("sts.amazonaws.com", "AssumeRole", True, {"roleArn": role.arn, "roleSessionName": session, "durationSeconds": 3600})
    return record(ctx, ts, caller, api, {
        "responseElements": {
            "credentials": {"accessKeyId": ids.aws_key_id(rng, "ASIA"), "sessionToken": ids.hex_id(rng, 24),
                            "expiration": ctx.stamps.iso(ts + 3600 * US, 0)},
            "assumedRoleUser": {"assumedRoleId": f"{role.role_id}:{session}",
                                "arn": f"arn:aws:sts::{role.account_id}:assumed-role/{role.name}/{session}"},
        },
        "resources": [{"accountId": role.account_id, "type": "AWS::IAM::Role", "ARN": role.arn}],
        "sharedEventID": ids.uuid4(rng),
    })


def _ci_deploy(ctx: Ctx, ts: int, caller: Caller) -> Iterator[Plan]:
    """A GitHub Actions deployment: web-identity federation, then ECR push and ECS update."""
    role = caller.identity["sessionContext"]["sessionIssuer"]
    web = Caller({"type": "WebIdentityUser", "principalId": "arn:aws:iam::oidc-provider/token.actions.githubusercontent.com:sts.amazonaws.com:repo:kestrel-labs/orders-api:ref:refs/heads/main",
                  "userName": "repo:kestrel-labs/orders-api:ref:refs/heads/main",
                  "identityProvider": "token.actions.githubusercontent.com"}, caller.ip, caller.user_agent, caller.account_id)
    assume = Api("sts.amazonaws.com", "AssumeRoleWithWebIdentity", True,
                 {"roleArn": role["arn"], "roleSessionName": "GitHubActions", "durationSeconds": 3600})
    yield ctx.plan(ts, _fixed_call, (web, assume))
    for t, api in zip(spread(ctx, ts + 2 * US, len(apis.CI_DEPLOY), 20.0), apis.CI_DEPLOY, strict=True):
        yield ctx.plan(t, _fixed_call, (caller, api))


def _terraform_refresh(ctx: Ctx, ts: int, caller: Caller) -> Iterator[Plan]:
    """A scheduled `terraform plan`: a quick burst of reads over everything it manages."""
    reads = apis.TERRAFORM_READS
    for t, api in zip(spread(ctx, ts, 3 * len(reads), 0.3), reads * 3, strict=True):
        yield ctx.plan(t, _fixed_call, (caller, api))


def _fixed_call(ctx: Ctx, ts: int, arg: tuple[Caller, Api]) -> dict[str, Any]:
    caller, api = arg
    return record(ctx, ts, caller, api)


GEN = SourceGen(
    name=NAME,
    file_format="cloudtrail",
    plan_hour=plan_hour,
    encoder=json_bare_encoder,
    native_id=field_id("eventID"),
    disorder=0.02,
    time_unit_us=US,
)
