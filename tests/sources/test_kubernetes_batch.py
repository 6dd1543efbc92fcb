"""The Kubernetes batch path equals the per-record path on every frame it keeps
(`batch_helpers`), and keeps the ordinary events of real and synthetic audit logs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import strategies as st
from tests.sources.batch_helpers import (
    PLAIN,
    any_json,
    assert_batch_equals_per_record,
    assert_run_batch_equals_per_record,
    frames_of,
    generated_equality_test,
    line,
    picker,
    sample_records,
    synthetic_day,
    with_fields,
)

from auditlake.sources import kubernetes, kubernetes_batch
from auditlake.sources.base import Frame

SPEC = kubernetes.SPEC


def _event(**fields: Any) -> dict[str, Any]:
    """A pod exec by a user through RBAC; keyword arguments replace or add top-level fields
    (None removes one)."""
    event: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": "5f1c2b9e-1d0a-4c7e-9a55-3b2f7c9d0e11",
        "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/default/pods/web/exec?command=sh",
        "verb": "create",
        "user": {"username": "alice@example.com", "uid": "u-1", "groups": ["devs", "system:authenticated"]},
        "sourceIPs": ["10.0.0.9", "203.0.113.7"],
        "userAgent": "kubectl/v1.31.0",
        "objectRef": {"resource": "pods", "subresource": "exec", "namespace": "default", "name": "web", "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 101},
        "requestReceivedTimestamp": "2024-03-01T10:00:00.123456Z",
        "stageTimestamp": "2024-03-01T10:00:00.234567Z",
        "annotations": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": "RBAC: allowed"},
    }
    return with_fields(event, fields)


def _kept(table: pa.Table, frames: Sequence[Frame]) -> bool:
    return table.num_rows == len(frames)


def test_typical_event_is_kept_with_every_column_equal() -> None:
    table = assert_batch_equals_per_record(SPEC, frames_of([line(_event())]))
    row = table.to_pylist()[0]
    assert (row["action"], row["target_id"], row["src_ip"]) == ("create/pods/exec", "default/pods/web", "203.0.113.7")
    assert (row["actor_id"], row["actor_roles"], row["outcome"], row["status_code"]) == ("u-1", ["devs", "system:authenticated"], "success", "101")
    assert row["annotations.authorization.k8s.io/decision"] == "allow"


@pytest.mark.parametrize(
    ("fields", "kept"),
    [
        ({"stage": "RequestReceived"}, False),
        ({"stage": "Bogus"}, False),
        ({"stage": None}, True),
        ({"stage": ""}, True),
        ({"stage": "Panic"}, True),
        ({"verb": ""}, False),
        ({"verb": None}, False),
        ({"verb": 5}, False),
        ({"user": "alice"}, False),
        ({"user": {"username": 7}}, False),
        ({"user": {"username": "alice", "groups": ["a", 1]}}, False),
        ({"user": {"username": "alice", "groups": []}}, True),
        ({"user": {"username": "", "uid": ""}}, True),
        ({"user": None}, True),
        ({"sourceIPs": "10.0.0.1"}, False),
        ({"sourceIPs": []}, True),
        ({"sourceIPs": ["10.0.0.1", "2001:db8::1"]}, True),
        ({"sourceIPs": ["fe80::1%eth0"]}, True),
        ({"sourceIPs": ["010.0.0.1"]}, True),
        ({"sourceIPs": ["unknown"]}, True),
        ({"responseStatus": {"code": "200"}}, True),
        ({"responseStatus": {"code": "007"}}, True),
        ({"responseStatus": {"code": " 200"}}, False),
        ({"responseStatus": {"code": "2OO"}}, False),
        ({"responseStatus": {"code": True}}, False),
        ({"responseStatus": {"code": 2.5}}, False),
        ({"responseStatus": {"code": -1}}, False),
        ({"responseStatus": {"code": 404, "message": "not found"}}, True),
        ({"responseStatus": {"code": 403, "message": ""}}, True),
        ({"responseStatus": None}, True),
        ({"responseStatus": []}, False),
        ({"annotations": {"authorization.k8s.io/decision": "forbid"}}, True),
        ({"annotations": {"authorization.k8s.io/decision": 5, "authorization.k8s.io/reason": {"a": "b"}}}, True),
        ({"annotations": {"authorization.k8s.io/reason": None}}, True),
        ({"annotations": "allow"}, False),
        ({"requestReceivedTimestamp": "2024-03-01 10:00:00.38"}, True),
        ({"requestReceivedTimestamp": "2024-03-01T10:00:00.123456789Z"}, True),
        ({"requestReceivedTimestamp": "2024-03-01T10:00:00+02:00"}, False),
        ({"requestReceivedTimestamp": 1709287200}, False),
        ({"requestReceivedTimestamp": "1969-12-31T23:59:59Z"}, False),
        ({"requestReceivedTimestamp": None}, False),
        ({"stageTimestamp": None}, True),
        ({"stageTimestamp": ""}, False),
        ({"stageTimestamp": "2024-02-30T00:00:00Z"}, False),
        ({"auditID": None}, True),
        ({"auditID": ""}, True),
        ({"auditID": 12}, False),
        ({"objectRef": None, "requestURI": "/healthz?verbose#x"}, True),
        ({"objectRef": None, "requestURI": "/"}, True),
        ({"objectRef": None, "requestURI": "//evil/x"}, False),
        ({"objectRef": None, "requestURI": "http://x/y"}, False),
        ({"objectRef": None, "requestURI": "/a\tb"}, False),
        ({"objectRef": None, "requestURI": None}, True),
        ({"objectRef": {"resource": "nodes", "name": "n1", "apiGroup": ""}}, True),
        ({"objectRef": {"resource": "", "namespace": "ns"}, "requestURI": "/apis"}, True),
        ({"objectRef": "pods"}, False),
        ({"impersonatedUser": {"username": "system:serviceaccount:ns:sa", "groups": ["g"], "uid": "u-9"}}, True),
        ({"impersonatedUser": {"username": "bob"}}, True),
        ({"impersonatedUser": {"username": "", "groups": [1]}}, False),
        ({"requestObject": {"spec": {"replicas": 1.5}}}, False),
        ({"requestObject": {"note": "\u001f"}}, False),
        ({"requestObject": {"z": 1, "a": [True, None, {"b": "é"}]}}, True),
        ({"userAgent": ["x"]}, False),
    ],
)
def test_keeps_what_it_can_vouch_for_and_declines_the_rest(fields: dict[str, Any], kept: bool) -> None:
    frames = frames_of([line(_event(**fields))])
    table = assert_batch_equals_per_record(SPEC, frames)
    assert _kept(table, frames) is kept
    assert_run_batch_equals_per_record(SPEC, frames)


@pytest.mark.parametrize(
    ("username", "actor_type"),
    [("system:anonymous", "anonymous"), ("system:serviceaccount:kube-system:x", "service"),
     ("system:node:n1", "system"), ("alice", "user"), (None, "unknown")],
)
def test_actor_types(username: str | None, actor_type: str) -> None:
    user = {"username": username} if username is not None else {}
    table = assert_batch_equals_per_record(SPEC, frames_of([line(_event(user=user))]))
    assert table["actor_type"].to_pylist() == [actor_type]


def test_repeated_keys_read_as_simdjson_reads_them() -> None:
    raw = line(_event())[:-1] + b',"verb":"delete","annotations":{"authorization.k8s.io/decision":"allow",' \
        b'"authorization.k8s.io/decision":"forbid"}}'
    table = assert_batch_equals_per_record(SPEC, frames_of([raw]))
    assert table["action"].to_pylist() == ["create/pods/exec"]


def test_real_eks_samples_equal_the_per_record_path(shared_data: Path) -> None:
    raws = sample_records(shared_data, "amazon_eks_audit.jsonl")
    table = assert_batch_equals_per_record(SPEC, frames_of(raws))
    assert table.num_rows >= 10  # most samples lack requestReceivedTimestamp, which normalize refuses
    assert_run_batch_equals_per_record(SPEC, frames_of(raws))


def test_a_synthetic_day_is_kept_whole(tmp_path: Path) -> None:
    """The synthetic organisation's Kubernetes log: every event is kept by the batch path."""
    chunk = synthetic_day(tmp_path, "k8s.audit")
    table = assert_batch_equals_per_record(SPEC, chunk)
    assert table.num_rows == len(chunk)


JSON = any_json([1.5, 0.0, 1e-05])
_whole = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-5, 700), PLAIN),
                      lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(PLAIN, inner, max_size=3)),
                      max_leaves=6)
"""JSON without floats or control characters: what a clean record holds."""


def _events(junk: bool) -> st.SearchStrategy[dict[str, Any]]:
    """Audit events: with `junk`, any field may hold any JSON value and the odd forms
    `normalize` refuses or reads its own way; without, fields hold what `normalize` reads."""

    pick = picker(junk, JSON)

    times = pick(st.sampled_from(["2024-03-01T10:00:00Z", "2024-03-01 10:00:00.5", "2024-03-01T10:00:00.123456789Z"]),
                 ["2024-03-01T10:00:00+02:00", "2024-13-01T00:00:00Z", "", "1709287200"])
    names = pick(st.sampled_from(["alice", "system:anonymous", "system:serviceaccount:a:b", "system:x", ""]))
    strings = pick(PLAIN, ["", "\u001f"])
    people = pick(st.fixed_dictionaries({}, optional={
        "username": names, "uid": strings, "groups": pick(st.lists(PLAIN, max_size=3), [[1], "g"])}))
    return st.fixed_dictionaries(
        {"verb": pick(st.sampled_from(["get", "create", "patch", "deletecollection", "escalate"]), ["", 5]),
         "requestReceivedTimestamp": times},
        optional={
            "stage": pick(st.sampled_from(["ResponseComplete", "Panic", ""]), ["RequestReceived", "Other"]),
            "auditID": strings,
            "requestURI": pick(st.sampled_from(["/healthz", "/api?x#y", "/"]), ["//h/p", "/a\nb", "x:/y"]),
            "userAgent": strings,
            "user": people,
            "impersonatedUser": people,
            "objectRef": pick(st.fixed_dictionaries({}, optional={
                k: strings for k in ("resource", "subresource", "namespace", "name", "apiGroup", "apiVersion")})),
            "sourceIPs": pick(st.lists(st.one_of(st.ip_addresses().map(str), PLAIN), max_size=3)),
            "responseStatus": pick(st.fixed_dictionaries({}, optional={
                "code": pick(st.integers(0, 600), ["200", "0404", " 1", "x", -1, True]), "message": strings})),
            "annotations": pick(st.fixed_dictionaries({}, optional={
                "authorization.k8s.io/decision": pick(st.sampled_from(["allow", "forbid"])),
                "authorization.k8s.io/reason": strings})),
            "stageTimestamp": times,
            "requestObject": JSON if junk else _whole,
            "level": strings,
        },
    )


test_batch_equals_per_record_on_generated_records = generated_equality_test(
    SPEC,
    st.one_of(_events(junk=False), _events(junk=False), _events(junk=True)),
    st.fixed_dictionaries({}, optional={"verb": PLAIN, "user": JSON, "sourceIPs": JSON}),
)


def test_spec_uses_the_batch_path() -> None:
    assert SPEC.batch is kubernetes_batch.batch
