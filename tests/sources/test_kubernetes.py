"""Kubernetes audit events: stages, actor/impersonation, action, source IP, outcome, bad input."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditlake.errors import RecordError, RecordSkipped
from auditlake.schema import CANONICAL
from auditlake.sources import kubernetes
from auditlake.sources.base import Frame, Row
from auditlake.sources.framing import json_frames
from auditlake.sources.kubernetes import NonFinalStage, actor_type, detect, normalize
from auditlake.sources.records import Rejected, Skipped, normalize_frames
from auditlake.sources.table import rows_to_table

DATA = Path(__file__).parent / "data" / "k8s"
SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "samples"
EKS_SAMPLES = SAMPLES / "amazon_eks_audit.jsonl"


def ingest(path: Path) -> list[Row | Rejected | Skipped]:
    return list(normalize_frames(kubernetes.SPEC, json_frames(path)))


def by_uid(results: list[Row | Rejected | Skipped]) -> dict[str, Row]:
    return {r["event_uid"]: r for r in results if isinstance(r, dict)}


def event(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "auditID": "a-1",
        "stage": "ResponseComplete",
        "verb": "get",
        "user": {"username": "zed"},
        "objectRef": {"resource": "pods", "namespace": "ns", "name": "p"},
        "sourceIPs": ["10.0.0.1"],
        "responseStatus": {"code": 200},
        "requestReceivedTimestamp": "2024-03-01T00:00:00Z",
    }
    base.update(overrides)
    return base


def one(record: dict[str, object]) -> Row:
    return normalize(Frame(json.dumps(record).encode(), "t:1"))


# --- detection -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"apiVersion": "audit.k8s.io/v1", "kind": "Event"}, True),
        ({"apiVersion": "audit.k8s.io/v1beta1", "kind": "Event"}, True),
        ({"apiVersion": "audit.k8s.io/v1", "kind": "Policy"}, False),
        ({"auditID": "x", "verb": "get", "stage": "ResponseComplete"}, True),
        ({"apiVersion": "v1", "kind": "Event"}, False),  # a core/v1 Event is not an audit event
        ({"eventSource": "s3.amazonaws.com", "eventName": "GetObject"}, False),
        ({"event": "session.start", "code": "T2000I"}, False),
    ],
)
def test_detect(record: dict[str, object], expected: bool) -> None:
    assert detect(record) is expected


# --- the fixture file ------------------------------------------------------------------------


def test_only_final_stages_become_rows() -> None:
    results = ingest(DATA / "audit.jsonl")
    rows = by_uid(results)
    skipped = [r for r in results if isinstance(r, Skipped)]
    assert not [r for r in results if isinstance(r, Rejected)]
    assert sorted(rows) == [
        "0b7f6a1e-exec",
        "5c1d-impersonate",
        "77aa-healthz",
        "9e2a-forbidden",
        "c3c3-panic",
        "d4d4-authz-only",
    ]
    assert [r.location for r in skipped] == ["audit.jsonl:1", "audit.jsonl:5"]
    assert all(r.reason.startswith("non-final stage") for r in skipped)
    assert rows["0b7f6a1e-exec"]["stage"] == "ResponseComplete"
    assert rows["c3c3-panic"]["stage"] == "Panic"


def test_non_final_stage_raises_its_own_error_class() -> None:
    assert issubclass(NonFinalStage, RecordSkipped)  # counted as skipped by normalize_frames
    assert issubclass(NonFinalStage, RecordError)  # quarantined, not fatal, for older callers
    with pytest.raises(NonFinalStage, match="RequestReceived"):
        one(event(stage="RequestReceived"))
    with pytest.raises(NonFinalStage, match="ResponseStarted"):
        one(event(stage="ResponseStarted", requestReceivedTimestamp=None))


def test_exec_event_maps_every_canonical_column() -> None:
    row = by_uid(ingest(DATA / "audit.jsonl"))["0b7f6a1e-exec"]
    assert row["time"] == datetime(2024, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert row["source_logged_at"] == datetime(2024, 3, 1, 10, 0, 7, 500000, tzinfo=UTC)
    assert row["actor_id"] == "u-alice"
    assert row["actor_name"] == "alice@example.com"
    assert row["actor_type"] == "user"
    assert row["actor_original"] is None
    assert row["actor_roles"] == ["devs", "system:authenticated"]
    assert row["action"] == "create/pods/exec"
    assert row["service"] == "core"
    assert (row["target_type"], row["target_id"], row["target_name"]) == (
        "pods",
        "prod/pods/web-0",
        "web-0",
    )
    assert row["src_ip"] == "203.0.113.7"  # the last hop, not the client-settable first one
    assert row["src_ip_chain"] == ["198.51.100.4", "203.0.113.7"]
    assert row["user_agent"].startswith("kubectl/v1.29.1")
    assert (row["outcome"], row["status_code"]) == ("success", "101")
    assert row["outcome_reason"].startswith("RBAC: allowed by RoleBinding")
    assert (row["class_uid"], row["activity_id"], row["category"]) == (6003, 1, "api")
    assert row["request_id"] == "0b7f6a1e-exec"
    assert row["raw_format"] == "json"
    assert row["parser_version"] == "k8s.audit/1"


def test_exec_event_keeps_native_columns_as_text() -> None:
    row = by_uid(ingest(DATA / "audit.jsonl"))["0b7f6a1e-exec"]
    assert row["verb"] == "create"
    assert row["objectRef.resource"] == "pods"
    assert row["objectRef.subresource"] == "exec"
    assert row["user.username"] == "alice@example.com"
    assert row["user.groups"] == '["devs","system:authenticated"]'
    assert row["sourceIPs"] == '["198.51.100.4","203.0.113.7"]'
    assert row["responseStatus.code"] == "101"
    assert row["annotations.authorization.k8s.io/decision"] == "allow"
    assert json.loads(row["annotations"])["authorization.k8s.io/decision"] == "allow"
    assert row["requestReceivedTimestamp"] == "2024-03-01T10:00:00.123456Z"
    natives = {k: v for k, v in row.items() if k not in CANONICAL}
    assert all(isinstance(v, str) for v in natives.values())
    assert set(natives) <= {
        *kubernetes.NATIVE_PATHS,
        "annotations.authorization.k8s.io/decision",
        "annotations.authorization.k8s.io/reason",
    }


def test_impersonation_makes_the_impersonated_user_the_actor() -> None:
    row = by_uid(ingest(DATA / "audit.jsonl"))["5c1d-impersonate"]
    assert row["actor_name"] == "system:serviceaccount:ci:deployer"
    assert row["actor_id"] == "system:serviceaccount:ci:deployer"  # no uid: the username
    assert row["actor_type"] == "service"
    assert row["actor_original"] == "bob@example.com"
    assert row["actor_roles"] == ["system:serviceaccounts", "system:serviceaccounts:ci"]
    assert row["impersonatedUser.username"] == "system:serviceaccount:ci:deployer"
    assert row["action"] == "create/clusterrolebindings"
    assert row["service"] == "rbac.authorization.k8s.io"
    assert row["target_id"] == "clusterrolebindings/pwn"  # cluster-scoped: no namespace
    assert json.loads(row["requestObject"])["roleRef"]["name"] == "cluster-admin"
    assert row["outcome_reason"] is None  # empty authorization reason is no reason


def test_forbidden_request_is_a_failure_with_the_status_message() -> None:
    rows = by_uid(ingest(DATA / "audit.jsonl"))
    forbidden = rows["9e2a-forbidden"]
    assert (forbidden["outcome"], forbidden["status_code"]) == ("failure", "403")
    assert forbidden["outcome_reason"].startswith('secrets "admin-token" is forbidden')
    assert forbidden["actor_type"] == "anonymous"
    assert forbidden["responseStatus.reason"] == "Forbidden"
    authz_only = rows["d4d4-authz-only"]  # no responseStatus, but the authorizer said forbid
    assert (authz_only["outcome"], authz_only["status_code"]) == ("failure", None)
    assert authz_only["outcome_reason"] == "no RBAC policy matched"
    assert authz_only["target_id"] == "prod/configmaps"
    assert authz_only["activity_id"] == 2


def test_non_resource_request_and_panic() -> None:
    rows = by_uid(ingest(DATA / "audit.jsonl"))
    healthz = rows["77aa-healthz"]
    assert (healthz["action"], healthz["target_type"], healthz["target_id"]) == (
        "get",
        "url",
        "/healthz",
    )
    assert healthz.get("service") is None
    assert healthz["actor_type"] == "system"
    panic = rows["c3c3-panic"]  # a panic has no responseStatus: outcome unknown
    assert (panic["action"], panic["service"], panic["outcome"]) == (
        "patch/deployments",
        "apps",
        "unknown",
    )


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("system:serviceaccount:kube-system:coredns", "service"),
        ("system:anonymous", "anonymous"),
        ("system:node:ip-10-0-0-1", "system"),
        ("system:kube-controller-manager", "system"),
        ("alice@example.com", "user"),
        ("eks:addon-manager", "user"),
        (None, "unknown"),
    ],
)
def test_actor_type(username: str | None, expected: str) -> None:
    assert actor_type(username) == expected


def test_rows_fit_the_arrow_schema() -> None:
    rows = [r for r in ingest(DATA / "audit.jsonl") if isinstance(r, dict)]
    table = rows_to_table(rows)
    assert table.num_rows == 6
    assert table.column("src_ip_chain").type == CANONICAL["src_ip_chain"].type
    assert "annotations.authorization.k8s.io/decision" in table.column_names


def test_gzip_input(tmp_path: Path) -> None:
    path = tmp_path / "audit.log.gz"
    path.write_bytes(gzip.compress((DATA / "audit.jsonl").read_bytes()))
    assert sorted(by_uid(ingest(path))) == sorted(by_uid(ingest(DATA / "audit.jsonl")))


# --- bad input -------------------------------------------------------------------------------


def test_bad_records_are_rejected_with_reasons_and_good_ones_survive() -> None:
    results = ingest(DATA / "mixed.jsonl")
    assert len(results) == 12
    reasons = [r.reason if isinstance(r, Rejected) else "row" for r in results]
    assert reasons[0] == "row"
    assert reasons[1].startswith("truncated JSON")
    assert reasons[2] == "verb is a number, expected a string"
    assert reasons[3] == "user is an array, expected an object"
    assert reasons[4] == "sourceIPs is an object, expected an array"
    assert reasons[5] == "user.username is an object, expected a string"
    assert reasons[6] == "missing requestReceivedTimestamp"
    assert reasons[7] == "unparsable requestReceivedTimestamp 'yesterday at noon'"
    assert reasons[8] == "responseStatus.code is a string, expected an integer"
    assert reasons[9].startswith("unknown stage 'Halfway'")
    assert reasons[10] == "record is an array, not a JSON object"
    assert reasons[11] == "row"
    rows = by_uid(results)
    assert rows["ok-1"]["action"] == "delete/pods"
    last = rows["ok-2"]  # status code as digits is accepted; a non-IP never becomes src_ip
    assert (last["outcome"], last["status_code"]) == ("failure", "404")
    assert (last["src_ip"], last["src_ip_chain"]) == (None, ["not-an-ip"])


def test_huge_field_still_ingests(tmp_path: Path) -> None:
    big = "A" * (5 << 20)
    lines = [
        event(auditID="before"),
        event(auditID="big", requestObject={"data": big}),
        event(auditID="after"),
    ]
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    rows = by_uid(ingest(path))
    assert len(json.loads(rows["big"]["requestObject"])["data"]) == 5 << 20
    assert rows["big"]["action"] == "get/pods"
    assert rows["before"]["action"] == rows["after"]["action"] == "get/pods"


def test_huge_first_record_still_ingests_in_any_framing(tmp_path: Path) -> None:
    records = [
        event(auditID="big", requestObject={"data": "A" * (5 << 20)}),
        event(auditID="after"),
    ]
    lines = tmp_path / "big-first.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    array = tmp_path / "big-first.json"
    array.write_text(json.dumps(records, indent=1))
    for path in (lines, array):
        assert sorted(by_uid(ingest(path))) == ["after", "big"], path.name


def test_invalid_utf8_is_rejected_and_neighbours_survive(tmp_path: Path) -> None:
    good = json.dumps(event(auditID="good")).encode()
    bad = json.dumps(event(auditID="bad", userAgent="XX")).encode().replace(b"XX", b"\xff\xfe")
    path = tmp_path / "utf8.jsonl"
    path.write_bytes(b"\n".join([good, bad, good.replace(b'"good"', b'"good2"')]) + b"\n")
    results = ingest(path)
    assert [type(r).__name__ for r in results] == ["dict", "Rejected", "dict"]
    assert results[1].reason.startswith("invalid UTF-8 at byte")


def test_missing_stage_is_treated_as_complete() -> None:
    row = one(event(stage=None))
    assert row["action"] == "get/pods"


def test_integer_beyond_64_bits_is_read_not_a_reason() -> None:
    frames = [Frame(b'{"auditID":"x","verb":"get","stage":"Panic","n":1' + b"0" * 30 + b"}", "t:1")]
    [result] = normalize_frames(kubernetes.SPEC, frames)
    assert isinstance(result, Rejected)
    assert result.reason == "missing requestReceivedTimestamp"


# --- public samples (Panther rule tests; many hold only the fields a rule reads) --------------


def sample_results() -> list[tuple[str, Row | Rejected | Skipped]]:
    lines = [json.loads(line) for line in EKS_SAMPLES.read_text().splitlines() if line.strip()]
    frames = [Frame(json.dumps(s["event"]).encode(), s["test_name"]) for s in lines]
    return list(
        zip([f.location for f in frames], normalize_frames(kubernetes.SPEC, frames), strict=True)
    )


@pytest.mark.skipif(not EKS_SAMPLES.exists(), reason="shared samples not present")
def test_every_sample_is_a_row_or_a_clear_rejection() -> None:
    results = sample_results()
    allowed = ("missing requestReceivedTimestamp", "missing verb")
    for name, result in results:
        if isinstance(result, Rejected):
            assert result.reason.startswith(allowed), (name, result.reason)
    skipped = [r.reason for _, r in results if isinstance(r, Skipped)]
    assert skipped == ["non-final stage ResponseStarted (only ResponseComplete/Panic are kept)"] * 2
    rows = [r for _, r in results if isinstance(r, dict)]
    assert len(rows) >= 10
    rows_to_table(rows)


@pytest.mark.skipif(not EKS_SAMPLES.exists(), reason="shared samples not present")
def test_full_samples_map_correctly() -> None:
    rows = {name: r for name, r in sample_results() if isinstance(r, dict)}
    scanner = rows["Anonymous API Access Web Scanner Allowed"]
    assert scanner["time"] == datetime(2024, 11, 13, 18, 34, 10, 595141, tzinfo=UTC)
    assert (scanner["actor_name"], scanner["actor_type"]) == ("system:anonymous", "anonymous")
    assert (scanner["action"], scanner["target_id"]) == ("get", "/version")
    assert (scanner["src_ip"], scanner["outcome"]) == ("44.238.138.237", "success")
    assert scanner["user_agent"] == "python-requests/2.31.0"
    denied = rows["Anonymous API Access Web Scanner Denied"]
    assert (denied["outcome"], denied["status_code"]) == ("failure", "403")
    forbidden = rows["system username - public ip - 403"]
    assert (forbidden["outcome"], forbidden["status_code"]) == ("failure", "403")
    assert forbidden["action"] == "watch/endpointslices"
    assert (forbidden["service"], forbidden["target_id"]) == ("discovery.k8s.io", "endpointslices")
    assert forbidden["actor_id"] == "5e4461f9-f529-4e66-9343-0b0cc9452284"
    assert forbidden["actor_type"] == "service"
    assert forbidden["source_logged_at"] == datetime(2022, 11, 29, 22, 46, 38, 13000, tzinfo=UTC)
    node = next(r for r in rows.values() if r["actor_name"] == "system:node:suspicious-node")
    assert node["action"] == "create/serviceaccounts/token"
    assert node["target_id"] == "kube-system/serviceaccounts/kube-proxy"
    assert (node["actor_type"], node["src_ip"]) == ("system", "1.2.3.4")
