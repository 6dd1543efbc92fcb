"""GitHub audit log: mapping of real-shaped events, Panther's samples, and bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditlake.sources import github
from auditlake.sources.base import Frame, Row
from auditlake.sources.framing import json_frames
from auditlake.sources.records import Rejected, normalize_frames
from auditlake.sources.table import rows_to_table

DATA = Path(__file__).parent / "data" / "github"
SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "samples"


def ingest(path: Path) -> list[Row | Rejected]:
    return list(normalize_frames(github.SPEC, json_frames(path)))


def rows_by_uid(results: list[Row | Rejected]) -> dict[str, Row]:
    return {r["event_uid"]: r for r in results if isinstance(r, dict)}


def reasons(results: list[Row | Rejected]) -> list[str]:
    return [r.reason for r in results if isinstance(r, Rejected)]


@pytest.fixture(scope="module")
def fixture_rows() -> dict[str, Row]:
    results = ingest(DATA / "audit.jsonl")
    assert reasons(results) == []
    return rows_by_uid(results)


def test_repo_create_maps_actor_origin_token_and_repository(fixture_rows: dict[str, Row]) -> None:
    row = fixture_rows["doc-repo-create"]
    assert row["time"] == datetime(2024, 5, 20, 8, 15, 30, 123000, tzinfo=UTC)
    assert row["action"] == "repo.create"
    assert (row["actor_id"], row["actor_name"], row["actor_type"]) == (
        "1234567", "alice-gh", "user",
    )
    assert (row["src_ip"], row["src_country"]) == ("198.51.100.23", "FR")
    assert row["user_agent"] == "GitHub CLI 2.49.0"
    assert row["source_tenant"] == "acme"
    assert row["credential_id"] == "kZ3x6m0QmLw1b3Hc8vY9zP4TQeRr2sH7G2bC5gN1aA0="
    assert (row["target_type"], row["target_id"], row["target_name"]) == (
        "repository", "acme/payments-api", "acme/payments-api",
    )
    assert (row["outcome"], row["outcome_reason"]) == ("success", None)
    assert (row["class_uid"], row["category"]) == (6003, "api")
    assert row.get("session_id") is None


def test_every_top_level_key_is_a_native_column_except_canonical_names(
    fixture_rows: dict[str, Row],
) -> None:
    row = fixture_rows["doc-repo-create"]
    assert row["@timestamp"] == "1716192930123"
    assert row["programmatic_access_type"] == "Fine-grained personal access token"
    assert row["token_scopes"] == "repo,workflow"
    assert (row["org_id"], row["public_repo"], row["visibility"]) == ("4242", "false", "private")
    assert row["actor_location.country_code"] == "FR"
    assert json.loads(row["actor_location"]) == {"country_code": "FR"}
    # canonical names hold the canonical values; the native spelling is not a second column
    assert row["action"] == "repo.create" and row["actor_id"] == "1234567"
    assert row["user_agent"] == "GitHub CLI 2.49.0"
    pat = fixture_rows["doc-pat"]
    assert json.loads(pat["data"]) == {"token_name": "deploy", "permissions": {"contents": "read"}}


def test_membership_token_bot_and_workflow_events(fixture_rows: dict[str, Row]) -> None:
    member = fixture_rows["doc-add-member"]
    assert (member["target_type"], member["target_id"], member["target_name"]) == (
        "user", "7654321", "bob-gh",
    )
    assert (member["class_uid"], member["category"]) == (3006, "iam")
    assert member["src_ip"] is None  # IP disclosure off

    clone = fixture_rows["doc-git-clone"]
    assert clone["time"] == datetime(2024, 5, 20, 8, 20, 9, 423000, tzinfo=UTC)
    assert (clone["actor_name"], clone["actor_type"]) == ("dependabot[bot]", "service")
    assert (clone["target_type"], clone["target_id"]) == ("repository", "acme/payments-api")
    assert clone["at_sign_timestamp"] == "2024-05-20 08:20:09.423"

    run = fixture_rows["doc-workflow"]
    assert run["time"] == datetime(2024, 5, 20, 9, 0, 0, 500000, tzinfo=UTC)
    assert (run["actor_id"], run["actor_type"]) == ("github-actions", "service")
    assert (run["outcome"], run["outcome_reason"]) == ("failure", "failure")

    pat = fixture_rows["doc-pat"]
    assert (pat["class_uid"], pat["category"], pat["actor_id"]) == (3001, "iam", "3333333")

    team = fixture_rows["doc-team"]
    assert (team["class_uid"], team["target_type"]) == (3006, "user")
    assert team["target_name"] == "dave-gh"

    alert = fixture_rows["doc-alert"]
    assert (alert["actor_type"], alert["actor_id"]) == ("system", "github")


def test_json_array_input_and_schema() -> None:
    results = ingest(DATA / "audit_array.json")
    rows = rows_by_uid(results)
    assert set(rows) == {"arr-1", "arr-2"}
    assert rows["arr-1"]["name"] == "main"
    assert json.loads(rows["arr-2"]["config"])["url"] == "https://hooks.example/ci"
    assert rows["arr-2"]["hook_id"] == "111222333444555"
    table = rows_to_table(list(rows.values()))
    assert table.column("target_id").to_pylist() == ["acme/payments-api"] * 2
    assert rows["arr-1"]["parser_version"] == "github.audit/1"


def test_detect_recognises_github_and_nothing_else() -> None:
    for line in (DATA / "audit.jsonl").read_bytes().splitlines():
        assert github.detect(json.loads(line))
    assert not github.detect({"action": "login", "actor": "a", "created_at": 1})  # no dot
    assert not github.detect({"action": "repo.create", "actor": "a"})  # no time
    okta_like = {"action": "a.b", "actor": {}, "eventType": "x", "published": "p", "created_at": 1}
    assert not github.detect(okta_like)
    gcp_like = {"action": "a.b", "actor": "x", "protoPayload": {}, "created_at": 1}
    assert not github.detect(gcp_like)
    assert not github.detect({"eventSource": "s3.amazonaws.com", "eventName": "GetObject"})


def test_bad_records_are_rejected_with_reasons_and_the_rest_still_ingest() -> None:
    results = ingest(DATA / "bad.jsonl")
    assert len(results) == 12
    rows = rows_by_uid(results)
    assert set(rows) == {"good-1", "good-2"}
    got = reasons(results)
    assert got[0].startswith("truncated JSON")
    assert got[1:9] == [
        "action is a number, expected a string",
        "missing action",
        "actor is an object, expected a string",
        "actor is an array, expected a string",
        "missing timestamp (@timestamp or created_at)",
        "unparsable created_at 'last tuesday'",
        "@timestamp is a boolean, not a time",
        "actor_ip is an object, expected a string",
    ]
    assert got[9].startswith("record is ") and got[9].endswith("not a JSON object")
    odd = rows["good-2"]
    assert odd["time"] == datetime(2024, 5, 20, 13, 0, 9, tzinfo=UTC)  # epoch seconds
    assert (odd["action"], odd["class_uid"]) == ("login", 6003)
    assert odd["source_tenant"] == "acme"  # the first of a list of orgs
    assert "target_type" not in odd  # repo is not a name, user is empty


def _event(uid: str, **extra: object) -> dict[str, object]:
    return {"@timestamp": 1716210000000, "_document_id": uid, "action": "repo.create",
            "actor": "alice-gh", "repo": "acme/x", **extra}


@pytest.mark.parametrize(
    ("address", "src_ip", "src_host"),
    [
        ("203.0.113.7", "203.0.113.7", None),
        ("2001:db8::7", "2001:db8::7", None),
        ("::ffff:10.0.0.1", "::ffff:10.0.0.1", None),
        ("fe80::1%eth0", "fe80::1%eth0", None),
        ("runner.acme.example", None, "runner.acme.example"),
        ("unknown", None, "unknown"),
        ("1.2.3.4:443", None, "1.2.3.4:443"),
        (" 1.2.3.4 ", None, " 1.2.3.4 "),
        ("", None, None),
    ],
)
def test_actor_ip_is_src_ip_only_when_it_is_an_ip_address(
    address: str, src_ip: str | None, src_host: str | None
) -> None:
    """Rules match `src_ip` as a CIDR: any other text is taken for a host name, as CloudTrail's
    and GCP's are; the native column keeps what GitHub wrote."""
    row = github.normalize(Frame(json.dumps(_event("d1", actor_ip=address)).encode(), "f:1"))
    assert (row.get("src_ip"), row.get("src_host")) == (src_ip, src_host)
    assert row["actor_ip"] == address


def _write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_a_five_megabyte_field_still_ingests(tmp_path: Path) -> None:
    huge = "x" * (5 << 20)
    path = _write_lines(tmp_path / "big.jsonl", [
        json.dumps(_event("before")).encode(),
        json.dumps(_event("huge", user_agent=huge, data={"blob": huge})).encode(),
        json.dumps(_event("after")).encode(),
    ])
    rows = rows_by_uid(ingest(path))
    assert set(rows) == {"before", "huge", "after"}
    assert rows["huge"]["user_agent"] == huge
    assert len(rows["huge"]["data"]) > 5 << 20


def test_invalid_utf8_is_rejected_and_neighbours_survive(tmp_path: Path) -> None:
    good = json.dumps(_event("broken", name="r_sum_")).encode()
    broken = good.replace(b"r_sum_", b"r\xc3sum\xff")
    path = _write_lines(tmp_path / "utf8.jsonl", [
        json.dumps(_event("before")).encode(), broken, json.dumps(_event("after")).encode(),
    ])
    results = ingest(path)
    assert set(rows_by_uid(results)) == {"before", "after"}
    [rejected] = [r for r in results if isinstance(r, Rejected)]
    assert rejected.reason.startswith("invalid UTF-8 at byte")
    assert rejected.raw == broken


def test_integer_too_large_for_64_bits_is_read_as_its_digits(tmp_path: Path) -> None:
    small = json.dumps(_event("big", repo_id=0)).encode()
    big = small.replace(b'"repo_id": 0', b'"repo_id": -' + b"9" * 25)
    path = _write_lines(tmp_path / "bigint.jsonl", [big, json.dumps(_event("ok")).encode()])
    results = ingest(path)
    assert set(rows_by_uid(results)) == {"big", "ok"} and reasons(results) == []
    assert rows_by_uid(results)["big"]["raw"].encode() == big


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared/data/samples is not beside the checkout")
def test_every_panther_sample_is_a_row_or_a_clear_rejection() -> None:
    lines = (SAMPLES / "github_audit.jsonl").read_text().splitlines()
    samples = [json.loads(line) for line in lines]
    frames = [Frame(json.dumps(s["event"]).encode(), f"sample:{i}") for i, s in enumerate(samples)]
    results = list(normalize_frames(github.SPEC, frames))
    assert len(results) == len(samples)
    rows = [r for r in results if isinstance(r, dict)]
    allowed = ("missing timestamp", "unparsable created_at")
    assert all(reason.startswith(allowed) for reason in reasons(results)), reasons(results)
    # only the partial test events (no time at all) and a garbled created_at are rejected
    for sample, result in zip(samples, results, strict=True):
        if not any(k in sample["event"] for k in github.TIME_FIELDS):
            assert isinstance(result, Rejected)
        elif isinstance(result, Rejected):
            assert result.reason.startswith("unparsable created_at")
    assert len(rows) >= 60
    assert rows_to_table(rows).num_rows == len(rows)
    by_name = {s["test_name"]: r for s, r in zip(samples, results, strict=True)}
    clone = by_name["git.clone-false"]
    assert isinstance(clone, dict)
    assert clone["event_uid"] == "KCYtigpnShPBSohA4OXbRg=="
    assert clone["time"] == datetime(2023, 11, 20, 21, 20, 9, 423000, tzinfo=UTC)
    assert (clone["actor_id"], clone["actor_name"]) == ("123456789", "acme-inc-user")
    assert (clone["src_ip"], clone["src_country"]) == ("5.6.7.8", "US")
    assert clone["credential_id"] == "0771cae4d170dc02a6ff393d9946cd684d6145c1="
    assert (clone["target_type"], clone["target_id"]) == ("repository", "acme-inc/a-repo")
    assert (clone["source_tenant"], clone["outcome"]) == ("acme-inc", "success")
    assert clone["programmatic_access_type"] == "OAuth access token"
