"""Okta System Log: mapping of real-shaped events, Panther's samples, and bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from auditlake.sources import okta
from auditlake.sources.base import Frame, Row
from auditlake.sources.fields import load_json_object
from auditlake.sources.framing import json_frames
from auditlake.sources.records import Rejected, normalize_frames
from auditlake.sources.table import rows_to_table

DATA = Path(__file__).parent / "data" / "okta"
SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "samples"


def ingest(path: Path) -> list[Row | Rejected]:
    return list(normalize_frames(okta.SPEC, json_frames(path)))


def rows_by_uid(results: list[Row | Rejected]) -> dict[str, Row]:
    return {r["event_uid"]: r for r in results if isinstance(r, dict)}


def reasons(results: list[Row | Rejected]) -> list[str]:
    return [r.reason for r in results if isinstance(r, Rejected)]


@pytest.fixture(scope="module")
def fixture_rows() -> dict[str, Row]:
    results = ingest(DATA / "system_log.jsonl")
    assert reasons(results) == []
    return rows_by_uid(results)


def test_successful_login_maps_who_where_and_session(fixture_rows: dict[str, Row]) -> None:
    row = fixture_rows["9f4b8a6e-1c2d-11ef-9a3b-0b5e6f7a8c9d"]
    assert row["time"] == datetime(2024, 5, 20, 8, 15, 30, 123000, tzinfo=UTC)
    assert (row["actor_id"], row["actor_name"], row["actor_type"]) == (
        "00u1abcd2EFGH3ijk4x7", "alice@acme.example", "user",
    )
    assert row["action"] == "user.session.start"
    assert row["src_ip"] == "198.51.100.23"
    assert row["src_ip_chain"] == ["198.51.100.23", "203.0.113.9"]
    assert row["src_country"] == "France"
    assert row["user_agent"].startswith("Mozilla/5.0 (X11; Linux x86_64")
    assert row["session_id"] == "102xYzAbC9dEfGhIjKlMnOp"
    assert row["correlation_id"] == "ZkqR3vXh0sQ5Yb2tP7n1AAAA"
    assert row["request_id"] == "ZkqR3vXh0sQ5Yb2tP7n1AAAA"
    assert (row["outcome"], row["outcome_reason"]) == ("success", None)
    assert (row["class_uid"], row["activity_id"], row["category"]) == (3002, 1, "authentication")
    assert (row["target_type"], row["target_id"], row["target_name"]) == (
        "AppInstance", "0oa1pqrs2TUVW3xyz4x7", "Okta Dashboard",
    )
    assert row["source_tenant"] == "acme.okta.com"
    assert row["severity_id"] == 1
    assert row["auth_mfa"] is None  # a password login says nothing about MFA


def test_native_columns_keep_okta_names_and_sigma_lowercase_aliases(
    fixture_rows: dict[str, Row],
) -> None:
    row = fixture_rows["9f4b8a6e-1c2d-11ef-9a3b-0b5e6f7a8c9d"]
    assert row["eventType"] == row["eventtype"] == "user.session.start"
    assert row["displayMessage"] == row["displaymessage"] == "User login to Okta"
    assert row["legacyEventType"] == "core.user_auth.login_success"
    assert row["outcome.result"] == "SUCCESS"
    assert row["securityContext.isProxy"] == "false"
    assert row["client.geographicalContext.city"] == "Lyon"
    assert row["debugContext.debugData.requestUri"] == "/idp/idx/identify"
    assert row["debugContext.debugData.behaviors"].startswith("{New Geo-Location=NEGATIVE")
    assert row["debugContext.debugData.risk"] == "{level=LOW}"
    assert json.loads(row["debugContext.debugData"])["threatSuspected"] == "false"
    assert json.loads(row["target"])[0]["type"] == "AppInstance"
    assert [hop["ip"] for hop in json.loads(row["request.ipChain"])][1] == "203.0.113.9"


def test_mfa_failure_challenge_and_group_events(fixture_rows: dict[str, Row]) -> None:
    mfa = fixture_rows["a1b2c3d4-1c2d-11ef-9a3b-0b5e6f7a8c9d"]
    assert mfa["auth_mfa"] is True
    assert mfa["class_uid"] == 3002

    failed = fixture_rows["b2c3d4e5-1c2d-11ef-9a3b-0b5e6f7a8c9d"]
    assert (failed["outcome"], failed["outcome_reason"]) == ("failure", "INVALID_CREDENTIALS")
    assert failed["session_id"] is None  # Okta writes "unknown"
    assert failed["severity_id"] == 3
    assert failed["securityContext.isProxy"] == "true"
    assert "target_type" not in failed  # empty target[]

    group = fixture_rows["c3d4e5f6-1c2d-11ef-9a3b-0b5e6f7a8c9d"]
    assert (group["actor_type"], group["actor_name"]) == ("system", "system@okta.com")
    assert (group["class_uid"], group["activity_id"], group["category"]) == (3006, 3, "iam")
    assert (group["target_type"], group["target_name"]) == ("User", "bob@acme.example")
    assert group["src_ip"] is None
    assert group["src_ip_chain"] is None

    challenge = fixture_rows["d4e5f6a7-1c2d-11ef-9a3b-0b5e6f7a8c9d"]
    assert challenge["outcome"] == "unknown"
    assert (challenge["class_uid"], challenge["category"]) == (6003, "api")


def test_lowercase_top_level_keys_are_read_as_okta_spelling(fixture_rows: dict[str, Row]) -> None:
    row = fixture_rows["e5f6a7b8-1c2d-11ef-9a3b-0b5e6f7a8c9d"]
    assert row["action"] == row["eventType"] == row["eventtype"] == "user.lifecycle.create"
    assert row["displaymessage"] == "Create okta user"
    assert row["time"] == datetime(2024, 5, 20, 11, 30, 0, 250000, tzinfo=UTC)
    assert row["actor_type"] == "service"
    assert row["outcome"] == "success"  # ALLOW
    assert (row["class_uid"], row["activity_id"]) == (3001, 1)
    assert row["session_id"] == "trs-scim-42"
    assert row["debugContext.debugData.requestUri"] == "/api/v1/users"
    assert row["target_name"] == "carol@acme.example"


def test_json_array_input_as_returned_by_the_logs_api() -> None:
    rows = rows_by_uid(ingest(DATA / "system_log_array.json"))
    assert set(rows) == {
        "f6a7b8c9-1c2d-11ef-9a3b-0b5e6f7a8c9d", "a7b8c9d0-1c2d-11ef-9a3b-0b5e6f7a8c9d",
    }
    logout = rows["f6a7b8c9-1c2d-11ef-9a3b-0b5e6f7a8c9d"]
    assert (logout["class_uid"], logout["activity_id"]) == (3002, 2)
    reset = rows["a7b8c9d0-1c2d-11ef-9a3b-0b5e6f7a8c9d"]
    assert (reset["class_uid"], reset["activity_id"], reset["src_ip"]) == (3001, 11, "2001:db8::7")


def test_rows_fit_the_canonical_schema(fixture_rows: dict[str, Row]) -> None:
    table = rows_to_table(list(fixture_rows.values()))
    assert table.num_rows == len(fixture_rows)
    assert table.schema.field("src_ip_chain").type == pa.list_(pa.string())
    assert table.schema.field("eventtype").type == pa.string()
    assert all(r["raw_format"] == "json" and r["parser_version"] == "okta.system/1"
               for r in fixture_rows.values())


def test_detect_recognises_okta_and_nothing_else() -> None:
    for line in (DATA / "system_log.jsonl").read_bytes().splitlines():
        assert okta.detect(json.loads(line))
    assert okta.detect(load_json_object((DATA / "system_log.jsonl").read_bytes().splitlines()[0]))
    assert not okta.detect({"eventType": "x", "uuid": "u", "published": "p", "actor": "bob"})
    assert not okta.detect({"eventSource": "s3.amazonaws.com", "eventName": "GetObject"})
    assert not okta.detect({"action": "repo.create", "actor": "bob", "created_at": 1})


def test_bad_records_are_rejected_with_reasons_and_the_rest_still_ingest() -> None:
    results = ingest(DATA / "bad.jsonl")
    assert len(results) == 12
    rows = rows_by_uid(results)
    assert set(rows) == {"good-1", "good-2"}
    got = reasons(results)
    assert got[0].startswith("truncated JSON")
    assert got[1] == "eventType is a number, expected a string"
    assert got[2] == "eventType is an object, expected a string"
    assert got[3] == "actor is an array, expected an object"
    assert got[4] == "missing published"
    assert got[5] == "unparsable published 'yesterday at noon'"
    assert got[6] == "published has type list, not a time"
    assert got[7] == "client.ipAddress is an object, expected a string"
    assert got[8].startswith("record is ") and got[8].endswith("not a JSON object")
    assert got[9] == "missing eventType"
    odd = rows["good-2"]
    assert (odd["actor_id"], odd["actor_type"], odd["outcome"]) == ("42", "unknown", "unknown")
    assert "target_type" not in odd and odd["src_ip_chain"] is None


def _write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _event(uid: str, **extra: object) -> dict[str, object]:
    return {
        "uuid": uid, "published": "2024-05-22T01:00:00Z", "eventType": "user.session.start",
        "actor": {"id": "00u1", "type": "User", "alternateId": "alice@acme.example"}, **extra,
    }


def test_okta_unknown_placeholder_is_no_actor_or_target_name() -> None:
    threat = _event(
        "u1", eventType="security.threat.detected",
        actor={"id": "1.2.3.4", "type": "IP address", "alternateId": "unknown", "displayName": "1.2.3.4"},
    )
    token = _event(
        "u2", eventType="system.api_token.create",
        actor={"id": "unknown", "type": "User", "alternateId": "unknown", "displayName": "Homer Simpson"},
        target=[{"id": "00T1", "type": "Token", "alternateId": "unknown", "displayName": "ci_key"}],
    )
    rows = [okta.normalize(Frame(json.dumps(e).encode(), "f:1")) for e in (threat, token)]
    assert (rows[0]["actor_id"], rows[0]["actor_name"]) == ("1.2.3.4", "1.2.3.4")
    assert (rows[1]["actor_id"], rows[1]["actor_name"]) == (None, "Homer Simpson")
    assert (rows[1]["target_id"], rows[1]["target_name"]) == ("00T1", "ci_key")


@pytest.mark.parametrize(
    ("address", "src_ip", "src_host"),
    [
        ("198.51.100.7", "198.51.100.7", None),
        ("2001:db8::7", "2001:db8::7", None),
        ("::ffff:10.0.0.1", "::ffff:10.0.0.1", None),
        ("fe80::1%eth0", "fe80::1%eth0", None),
        ("vpn.acme.example", None, "vpn.acme.example"),
        ("1.2.3.4:443", None, "1.2.3.4:443"),
        (" 1.2.3.4 ", None, " 1.2.3.4 "),
        ("unknown", None, None),
        ("", None, None),
    ],
)
def test_client_address_is_src_ip_only_when_it_is_an_ip_address(
    address: str, src_ip: str | None, src_host: str | None
) -> None:
    """Rules match `src_ip` as a CIDR: any other text is a host name, but Okta's `unknown`;
    the native column keeps what Okta wrote, and the chain is kept as written."""
    event = _event("u1", client={"ipAddress": address}, request={"ipChain": [{"ip": address}, {"ip": "10.0.0.9"}]})
    row = okta.normalize(Frame(json.dumps(event).encode(), "f:1"))
    assert (row.get("src_ip"), row.get("src_host")) == (src_ip, src_host)
    assert row["client.ipAddress"] == address
    assert row["src_ip_chain"] == [address, "10.0.0.9"]


def test_a_five_megabyte_field_still_ingests(tmp_path: Path) -> None:
    huge = "A" * (5 << 20)
    path = _write_lines(tmp_path / "big.jsonl", [
        json.dumps(_event("before")).encode(),
        json.dumps(_event("huge", displayMessage=huge)).encode(),
        json.dumps(_event("after")).encode(),
    ])
    rows = rows_by_uid(ingest(path))
    assert set(rows) == {"before", "huge", "after"}
    assert rows["huge"]["displayMessage"] == rows["huge"]["displaymessage"] == huge
    assert rows["huge"]["actor_id"] == "00u1"


def test_invalid_utf8_is_rejected_and_neighbours_survive(tmp_path: Path) -> None:
    good = json.dumps(_event("broken", displayMessage="caf_")).encode()
    broken = good.replace(b"caf_", b"caf\xe9")
    path = _write_lines(tmp_path / "utf8.jsonl", [
        json.dumps(_event("before")).encode(), broken, json.dumps(_event("after")).encode(),
    ])
    results = ingest(path)
    assert set(rows_by_uid(results)) == {"before", "after"}
    [rejected] = [r for r in results if isinstance(r, Rejected)]
    assert rejected.reason.startswith("invalid UTF-8 at byte")
    assert rejected.raw == broken and rejected.location == "utf8.jsonl:2"


def test_integer_too_large_for_64_bits_is_read_as_its_digits(tmp_path: Path) -> None:
    big = json.dumps(_event("big-int", n=0)).encode().replace(b'"n": 0', b'"n": ' + b"9" * 30)
    path = _write_lines(tmp_path / "bigint.jsonl", [big, json.dumps(_event("ok")).encode()])
    results = ingest(path)
    assert set(rows_by_uid(results)) == {"big-int", "ok"} and reasons(results) == []
    assert rows_by_uid(results)["big-int"]["raw"].encode() == big


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared/data/samples is not beside the checkout")
def test_every_panther_sample_is_a_row_or_a_clear_rejection() -> None:
    lines = (SAMPLES / "okta_systemlog.jsonl").read_text().splitlines()
    samples = [json.loads(line) for line in lines]
    frames = [Frame(json.dumps(s["event"]).encode(), f"sample:{i}") for i, s in enumerate(samples)]
    results = list(normalize_frames(okta.SPEC, frames))
    assert len(results) == len(samples)
    rows = [r for r in results if isinstance(r, dict)]
    allowed = ("missing published", "unparsable published", "missing eventType")
    assert all(reason.startswith(allowed) for reason in reasons(results)), reasons(results)
    assert len(rows) >= 50
    assert rows_to_table(rows).num_rows == len(rows)
    by_name = {s["test_name"]: r for s, r in zip(samples, results, strict=True)}
    proxy = by_name["Anonymizing Proxy Used"]  # a full event, with Panther's lower-cased keys
    assert isinstance(proxy, dict)
    assert proxy["time"] == datetime(2022, 6, 22, 18, 18, 29, 15000, tzinfo=UTC)
    assert (proxy["actor_id"], proxy["actor_name"]) == ("00abc123", "homer.simpson@duff.com")
    assert (proxy["action"], proxy["eventType"]) == ("user.session.start", "user.session.start")
    assert (proxy["src_ip"], proxy["src_ip_chain"]) == ("1.3.2.4", ["1.3.2.4"])
    assert (proxy["outcome"], proxy["outcome_reason"]) == (
        "failure", "FastPass declined phishing attempt",
    )
    assert proxy["session_id"] == "100-abc-9999"
    assert proxy["securityContext.isProxy"] == "true"
    assert proxy["target_name"] == "peter.griffin@company.com"
    assert proxy["class_uid"] == 3002
