"""GCP Cloud Audit Logs background: data engineers in storage and BigQuery, pipelines all day.

People list and read objects, run BigQuery jobs, look at instances and service accounts;
Airflow and Dataflow service accounts read and write buckets and insert jobs around the clock.
Reads land in the `data_access` log, changes in `activity`, as Cloud Audit Logs write them.
Records are `LogEntry` objects with an `AuditLog` `protoPayload`; `entry()` is shared with the
scenarios.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

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
from auditlake.synth.org import GcpProject
from auditlake.synth.picker import Picker
from auditlake.synth.sourcegen import SourceGen, json_line_encoder
from auditlake.synth.sources.origin import origin_ip

NAME = "gcp.audit"
SESSIONS_PER_PEAK_HOUR = 0.12
LOCATION = "us-central1"
DENIED = {"code": 7, "message": "PERMISSION_DENIED"}


@dataclass(frozen=True, slots=True)
class Method:
    """An audited method: service, method name, IAM permission, log (activity/data_access)."""

    service: str
    method: str
    permission: str
    log: str
    resource_type: str
    resource: str
    """Resource name template with {project}, {bucket}, {dataset} and {n} placeholders."""


@dataclass(frozen=True, slots=True)
class Principal:
    email: str
    ip: str
    user_agent: str


def entry(ctx: Ctx, ts: int, who: Principal, project: GcpProject, method: Method, *, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One LogEntry. `extra` may set `status` (a failure) or `request`/`response` payload parts."""
    rng = ctx.rng
    name = method.resource.format(project=project.project_id, bucket=rng.choice(project.buckets),
                                  dataset=rng.choice(project.datasets), n=rng.randrange(1, 40))
    status = (extra or {}).get("status", {})
    payload: dict[str, Any] = {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "status": status,
        "authenticationInfo": {"principalEmail": who.email},
        "requestMetadata": {"callerIp": who.ip, "callerSuppliedUserAgent": who.user_agent,
                            "requestAttributes": {"time": ctx.stamps.iso(ts, 6), "auth": {}}, "destinationAttributes": {}},
        "serviceName": method.service,
        "methodName": method.method,
        "authorizationInfo": [{"resource": name, "permission": method.permission, "granted": not status, "resourceAttributes": {}}],
        "resourceName": name,
        "resourceLocation": {"currentLocations": [LOCATION]},
    }
    if extra:
        payload.update({k: v for k, v in extra.items() if k != "status"})
    return {
        "protoPayload": payload,
        "insertId": ctx.ids.hex(8),
        "resource": {"type": method.resource_type, "labels": {"project_id": project.project_id, "location": LOCATION}},
        "timestamp": ctx.stamps.iso(ts, 9),
        "severity": "ERROR" if status else ("NOTICE" if method.log == "activity" else "INFO"),
        "logName": f"projects/{project.project_id}/logs/cloudaudit.googleapis.com%2F{method.log}",
        "receiveTimestamp": ctx.stamps.iso(ts + 80_000 + (ts & 0xFFFF), 9),
    }


def _read(service: str, method: str, permission: str, rtype: str, resource: str) -> Method:
    """A method logged in `data_access` (reads, and data writes such as object creation)."""
    return Method(f"{service}.googleapis.com", method, permission, "data_access", rtype, resource)


def _change(service: str, method: str, permission: str, rtype: str, resource: str) -> Method:
    """A method logged in `activity` (configuration and state changes; always on)."""
    return Method(f"{service}.googleapis.com", method, permission, "activity", rtype, resource)


OBJ = "projects/_/buckets/{bucket}/objects/part-{n:05d}.parquet"
BUCKET = "projects/_/buckets/{bucket}"
TABLE = "projects/{project}/datasets/{dataset}/tables/t{n}"
JOB = "projects/{project}/jobs/job_{n}"
INSTANCE = "projects/{project}/zones/us-central1-a/instances/worker-{n}"

GET_OBJECT = _read("storage", "storage.objects.get", "storage.objects.get", "gcs_bucket", OBJ)
CREATE_OBJECT = _read("storage", "storage.objects.create", "storage.objects.create", "gcs_bucket", OBJ)
INSERT_JOB = _read("bigquery", "google.cloud.bigquery.v2.JobService.InsertJob", "bigquery.jobs.create", "bigquery_project", JOB)

HUMAN_METHODS = Picker([
    (20, _read("storage", "storage.objects.list", "storage.objects.list", "gcs_bucket", BUCKET)),
    (15, GET_OBJECT),
    (4, CREATE_OBJECT),
    (4, _read("storage", "storage.buckets.get", "storage.buckets.get", "gcs_bucket", BUCKET)),
    (15, INSERT_JOB),
    (10, _read("bigquery", "google.cloud.bigquery.v2.TableService.GetTable", "bigquery.tables.get", "bigquery_dataset", TABLE)),
    (5, _read("bigquery", "google.cloud.bigquery.v2.DatasetService.ListDatasets", "bigquery.datasets.get", "bigquery_project", "projects/{project}")),
    (6, _read("compute", "v1.compute.instances.list", "compute.instances.list", "gce_instance", "projects/{project}/zones/us-central1-a/instances")),
    (3, _read("compute", "v1.compute.instances.get", "compute.instances.get", "gce_instance", INSTANCE)),
    (1, _change("compute", "v1.compute.instances.start", "compute.instances.start", "gce_instance", INSTANCE)),
    (1, _change("compute", "v1.compute.instances.stop", "compute.instances.stop", "gce_instance", INSTANCE)),
    (3, _read("iam", "google.iam.admin.v1.ListServiceAccounts", "iam.serviceAccounts.list", "service_account", "projects/{project}")),
    (2, _read("cloudresourcemanager", "GetIamPolicy", "resourcemanager.projects.getIamPolicy", "project", "projects/{project}")),
])

PIPELINE_METHODS = Picker([(5, GET_OBJECT), (4, CREATE_OBJECT), (3, INSERT_JOB)])


def plan_hour(ctx: Ctx, hour_us: int) -> Iterator[Plan]:
    rng = ctx.rng
    projects = ctx.org.gcp_projects
    for ts, person in session_starts(ctx, ctx.cohorts_of("gcp"), hour_us, SESSIONS_PER_PEAK_HOUR):
        who = Principal(person.email, origin_ip(rng, person), agents.GCLOUD if rng.random() < 0.6 else agents.BROWSERS[person.laptop_os][0])
        project = projects[0] if rng.random() < 0.6 else rng.choice(projects)
        for t in spread(ctx, ts, burst_size(rng, 6), 30.0):
            yield ctx.plan(t, _human, (who, project))
    yield from job_ticks(ctx, ctx.memo("jobs", lambda: _jobs(projects)), hour_us)


def _human(ctx: Ctx, ts: int, arg: tuple[Principal, GcpProject]) -> dict[str, Any]:
    who, project = arg
    method = HUMAN_METHODS(ctx.rng)
    extra = {"status": DENIED} if ctx.rng.random() < 0.01 else None
    return entry(ctx, ts, who, project, method, extra=extra)


def _pipeline(ctx: Ctx, ts: int, arg: tuple[Principal, GcpProject]) -> dict[str, Any]:
    who, project = arg
    return entry(ctx, ts, who, project, PIPELINE_METHODS(ctx.rng))


def _jobs(projects: tuple[GcpProject, ...]) -> list[Job]:
    ua = "apache-beam-python/2.61.0 google-cloud-storage/2.19.0 gl-python/3.11.11"
    return [
        Job((Principal(p.service_accounts[s], "gce-internal-ip" if s == 0 else "10.128.0.12", ua), p), period, _pipeline, poisson=True)
        for p, (s, period) in ((projects[0], (0, 100)), (projects[0], (1, 160)), (projects[1], (0, 300)))
    ]


def native_id(record: Mapping[str, Any]) -> str:
    """`<logName>/<insertId>`: an insertId qualified by its log, as METRICS.md §6.2 identifies
    a GCP entry (insertIds are only promised unique within a log)."""
    return f"{record['logName']}/{record['insertId']}"


GEN = SourceGen(NAME, "jsonl", plan_hour, json_line_encoder, native_id)
