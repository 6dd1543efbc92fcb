"""Kubernetes audit background: controllers and kubelets on a clock, people with kubectl.

Control-plane components renew leader leases, kubelets patch node status, controllers re-list
and watch, Argo CD and Prometheus poll; people run bursts of kubectl (get/list mostly, some
logs, the occasional patch, delete, exec or port-forward), a few denied by RBAC. Records are
`audit.k8s.io/v1` `Event`s at the `ResponseComplete` stage, as the API server's log backend
writes them. `event()`, `Client` and `ref()` are shared with the scenarios.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
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
from auditlake.synth.org import Person
from auditlake.synth.picker import Picker
from auditlake.synth.sourcegen import SourceGen, field_id, frozen, json_line_encoder
from auditlake.synth.sources.origin import origin_ip

NAME = "k8s.audit"
SESSIONS_PER_PEAK_HOUR = 0.14
K8S_VERSION = "v1.31.4-eks-2d5f260"
APISERVER_IPS = ["10.20.0.10"]
GROUPS = {"apps": "apps/v1", "coordination.k8s.io": "coordination.k8s.io/v1", "batch": "batch/v1",
          "argoproj.io": "argoproj.io/v1alpha1", "cert-manager.io": "cert-manager.io/v1",
          "discovery.k8s.io": "discovery.k8s.io/v1"}


@dataclass(frozen=True, slots=True)
class Client:
    """Who calls the API server: `user` info, source IPs and user agent, shared per actor."""

    user: Mapping[str, Any]
    source_ips: list[str]
    user_agent: str
    user_json: orjson.Fragment = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "user_json", frozen(self.user))


@dataclass(frozen=True, slots=True)
class Request:
    """What is asked: verb, `objectRef`, request URI, and the RBAC reason when allowed."""

    verb: str
    object_ref: Mapping[str, Any]
    uri: str
    reason: str = ""


def ref(resource: str, namespace: str | None = None, name: str | None = None,
        group: str = "", subresource: str | None = None) -> dict[str, Any]:
    """An `objectRef`, keys in the order the API server writes them."""
    out: dict[str, Any] = {"resource": resource}
    if namespace:
        out["namespace"] = namespace
    if name:
        out["name"] = name
    out["apiGroup"] = group
    out["apiVersion"] = GROUPS.get(group, "v1")
    if subresource:
        out["subresource"] = subresource
    return out


def uri_for(verb: str, object_ref: Mapping[str, Any]) -> str:
    """The request URI the verb and object imply (`?watch=true` for watches, `?limit=500` lists)."""
    group = object_ref.get("apiGroup")
    base = f"/apis/{GROUPS[group]}" if group else "/api/v1"
    ns = object_ref.get("namespace")
    path = f"{base}/namespaces/{ns}/{object_ref['resource']}" if ns else f"{base}/{object_ref['resource']}"
    if object_ref.get("name"):
        path += f"/{object_ref['name']}"
    if object_ref.get("subresource"):
        path += f"/{object_ref['subresource']}"
    if verb == "watch":
        return path + "?allowWatchBookmarks=true&resourceVersion=48213377&timeout=9m12s&watch=true"
    if verb == "list":
        return path + "?limit=500"
    return path


def request(verb: str, object_ref: Mapping[str, Any], reason: str = "") -> Request:
    return Request(verb, object_ref, uri_for(verb, object_ref), reason)


def event(ctx: Ctx, ts: int, client: Client, req: Request, code: int = 200) -> dict[str, Any]:
    """One audit Event at ResponseComplete; codes >= 400 carry RBAC's `forbid` decision."""
    allowed = code < 400
    rec: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": ctx.ids.uuid4(),
        "stage": "ResponseComplete",
        "requestURI": req.uri,
        "verb": req.verb,
        "user": client.user_json,
        "sourceIPs": client.source_ips,
        "userAgent": client.user_agent,
        "objectRef": req.object_ref,
        "responseStatus": _STATUS.get(code) or ({"metadata": {}, "code": code} if allowed else _forbidden(client, req, code)),
        "requestReceivedTimestamp": ctx.stamps.iso(ts, 6),
        "stageTimestamp": ctx.stamps.iso(ts + 900 + (ts & 0x3FFF), 6),
        "annotations": {"authorization.k8s.io/decision": "allow" if allowed else "forbid",
                        "authorization.k8s.io/reason": req.reason if allowed else ""},
    }
    return rec


_STATUS: dict[int, dict[str, Any]] = {code: {"metadata": {}, "code": code} for code in (101, 200, 201)}
"""Shared (never mutated) `responseStatus` objects of the common successful codes."""


def _forbidden(client: Client, req: Request, code: int) -> dict[str, Any]:
    ref_ = req.object_ref
    message = (f'{ref_["resource"]} is forbidden: User "{client.user["username"]}" cannot {req.verb} resource '
               f'"{ref_["resource"]}" in API group "{ref_.get("apiGroup", "")}" in the namespace "{ref_.get("namespace", "")}"')
    return {"metadata": {}, "status": "Failure", "message": message, "reason": "Forbidden",
            "details": {"kind": ref_["resource"]}, "code": code}


def service_account(namespace: str, name: str, agent: str) -> Client:
    user = {"username": f"system:serviceaccount:{namespace}:{name}", "uid": f"sa-{namespace}-{name}",
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"]}
    return Client(user, ["10.20.1.17"], agent)


def human(person: Person, ip: str) -> Client:
    user = {"username": person.email, "groups": [f"{person.department.lower()}-team", "system:authenticated"]}
    return Client(user, [ip], agents.KUBECTL[person.laptop_os])


def plan_hour(ctx: Ctx, hour_us: int) -> Iterator[Plan]:
    for ts, person in session_starts(ctx, ctx.cohorts_of("k8s"), hour_us, SESSIONS_PER_PEAK_HOUR):
        client = human(person, origin_ip(ctx.rng, person))
        namespace = ctx.rng.choice(ctx.org.namespaces[:8])
        for t in spread(ctx, ts, burst_size(ctx.rng, 6), 12.0):
            yield ctx.plan(t, _kubectl, (client, namespace, person.department))
    yield from job_ticks(ctx, ctx.memo("jobs", lambda: _jobs(ctx)), hour_us)


def _kubectl(ctx: Ctx, ts: int, arg: tuple[Client, str, str]) -> dict[str, Any]:
    client, namespace, department = arg
    verb, resource, group, sub = KUBECTL_PICK(ctx.rng)
    name = None if verb == "list" else f"{namespace}-{resource[:-1]}-{ctx.rng.randrange(1, 6)}"
    req = request(verb, ref(resource, namespace, name, group, sub), "RBAC: allowed by RoleBinding \"developers\"")
    denied = department != "SRE" and (verb in ("delete", "create") or resource == "secrets") and ctx.rng.random() < 0.3
    return event(ctx, ts, client, req, 403 if denied else (201 if verb == "create" else 200))


KUBECTL_PICK = Picker([
    (30, ("get", "pods", "", None)), (25, ("list", "pods", "", None)), (8, ("list", "deployments", "apps", None)),
    (6, ("get", "deployments", "apps", None)), (8, ("list", "events", "", None)), (10, ("get", "pods", "", "log")),
    (4, ("list", "services", "", None)), (3, ("get", "configmaps", "", None)), (2, ("patch", "deployments", "apps", None)),
    (1.5, ("delete", "pods", "", None)), (1, ("create", "pods", "", "portforward")), (0.4, ("create", "pods", "", "exec")),
    (1, ("list", "secrets", "", None)), (0.5, ("create", "jobs", "batch", None)),
])


def _jobs(ctx: Ctx) -> list[Job]:
    kcm = Client({"username": "system:kube-controller-manager", "groups": ["system:authenticated"]}, APISERVER_IPS,
                 f"kube-controller-manager/{K8S_VERSION} (linux/amd64) kubernetes/2d5f260/leader-election")
    sched = Client({"username": "system:kube-scheduler", "groups": ["system:authenticated"]}, APISERVER_IPS,
                   f"kube-scheduler/{K8S_VERSION} (linux/amd64) kubernetes/2d5f260/leader-election")
    jobs = [
        Job((kcm, request("update", ref("leases", "kube-system", "kube-controller-manager", "coordination.k8s.io"), "RBAC: allowed by ClusterRoleBinding \"system:kube-controller-manager\"")), 60, _fixed, jitter_s=2),
        Job((sched, request("update", ref("leases", "kube-system", "kube-scheduler", "coordination.k8s.io"), "RBAC: allowed by ClusterRoleBinding \"system:kube-scheduler\"")), 60, _fixed, phase_s=17, jitter_s=2),
    ]
    for i, node in enumerate(ctx.org.k8s_nodes):
        kubelet = Client({"username": f"system:node:{node}", "groups": ["system:nodes", "system:authenticated"]},
                         [f"10.20.{i}.{30 + i}"], f"kubelet/{K8S_VERSION} (linux/amd64) kubernetes/2d5f260")
        req = request("patch", ref("nodes", None, node, "", "status"), "")
        jobs.append(Job((kubelet, req), 600, _fixed, phase_s=i * 41.0, jitter_s=5))
    for namespace, name, verb, resource, group, period in _CONTROLLERS:
        client = service_account(namespace, name, f"kube-controller-manager/{K8S_VERSION} (linux/amd64) kubernetes/2d5f260/system:serviceaccount:{namespace}:{name}")
        req = request(verb, ref(resource, None, None, group), f"RBAC: allowed by ClusterRoleBinding \"system:controller:{name}\"")
        jobs.append(Job((client, req), period, _fixed, poisson=True))
    machine = ctx.org.machine
    argocd = service_account(machine("k8s", "argocd-application-controller").ident, "argocd-application-controller",
                             "argocd-application-controller/v2.13.3 (linux/amd64)")
    prom = service_account(machine("k8s", "prometheus-k8s").ident, "prometheus-k8s", "Prometheus/3.1.0")
    certs = service_account(machine("k8s", "cert-manager").ident, "cert-manager", "cert-manager/v1.16.2")
    jobs += [
        Job((argocd, ctx.org.namespaces), 170, _argocd, poisson=True),
        Job((prom, request("list", ref("endpoints", None, None), "RBAC: allowed by ClusterRoleBinding \"prometheus-k8s\"")), 130, _fixed, poisson=True),
        Job((certs, request("get", ref("secrets", "ingress-nginx", "wildcard-tls"), "RBAC: allowed by RoleBinding \"cert-manager\"")), 600, _fixed, poisson=True),
    ]
    return jobs


_CONTROLLERS = (
    ("kube-system", "replicaset-controller", "watch", "pods", "", 300),
    ("kube-system", "deployment-controller", "watch", "replicasets", "apps", 300),
    ("kube-system", "endpointslice-controller", "watch", "endpointslices", "discovery.k8s.io", 300),
    ("kube-system", "namespace-controller", "list", "namespaces", "", 600),
    ("kube-system", "coredns", "watch", "services", "", 400),
    ("kube-system", "aws-node", "list", "nodes", "", 900),
)


def _fixed(ctx: Ctx, ts: int, arg: tuple[Client, Request]) -> dict[str, Any]:
    client, req = arg
    return event(ctx, ts, client, req)


def _argocd(ctx: Ctx, ts: int, arg: tuple[Client, tuple[str, ...]]) -> dict[str, Any]:
    client, namespaces = arg
    namespace = namespaces[ctx.rng.randrange(0, 8)]
    verb, resource, group = ctx.rng.choice((("get", "deployments", "apps"), ("list", "services", ""), ("patch", "deployments", "apps")))
    name = None if verb == "list" else f"{namespace}-api"
    return event(ctx, ts, client, request(verb, ref(resource, namespace, name, group), "RBAC: allowed by ClusterRoleBinding \"argocd-application-controller\""))


GEN = SourceGen(NAME, "jsonl", plan_hour, json_line_encoder, field_id("auditID"), disorder=0.01)
