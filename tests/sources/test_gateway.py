"""Teleport-style gateway events: actor, remote address, targets, outcome, classes, bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditlake.schema import CANONICAL
from auditlake.sources import gateway
from auditlake.sources.base import Frame, Row
from auditlake.sources.framing import json_frames
from auditlake.sources.gateway import detect, normalize, strip_port
from auditlake.sources.records import Rejected, normalize_frames
from auditlake.sources.registry import detect_path
from auditlake.sources.table import rows_to_table

DATA = Path(__file__).parent / "data" / "gateway"
SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "samples"
TELEPORT_SAMPLES = SAMPLES / "gravitational_teleportaudit.jsonl"


def ingest(path: Path) -> list[Row | Rejected]:
    return list(normalize_frames(gateway.SPEC, json_frames(path)))


def by_uid(results: list[Row | Rejected]) -> dict[str, Row]:
    return {r["event_uid"]: r for r in results if isinstance(r, dict)}


def one(record: dict[str, object]) -> Row:
    base: dict[str, object] = {"event": "session.start", "uid": "x", "time": "2024-03-01T00:00:00Z"}
    return normalize(Frame(json.dumps({**base, **record}).encode(), "t:1"))


@pytest.fixture(scope="module")
def rows() -> dict[str, Row]:
    return by_uid(ingest(DATA / "teleport.jsonl"))


# --- detection -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"event": "user.login", "code": "T1000I"}, True),
        ({"event": "auth", "code": "T3007W"}, True),
        ({"event": "cert.create", "code": "TC000I"}, True),  # Teleport codes may hold letters
        ({"event": "access_list.create", "code": "TAL001I"}, True),  # newer, longer codes
        ({"event": "okta.sync.failure", "code": "TOK003E"}, True),
        ({"event": "spiffe.svid.issued", "code": "TSPIFFE000I"}, True),
        ({"event": "auth_preference.update", "code": "TCAUTH001I"}, True),
        ({"event": "github.updated", "code": "T80002I"}, True),
        ({"event": "discovery_config.create", "code": "DC001I"}, True),
        ({"event": "port", "code": "T3003S"}, True),
        ({"event": "session.start", "uid": "u", "time": "t", "sid": "s"}, True),
        ({"event": "session.start", "uid": "u", "time": "t"}, False),
        ({"event": "user.login", "code": "200"}, False),
        ({"event": 5, "code": "T1000I"}, False),
        ({"apiVersion": "audit.k8s.io/v1", "kind": "Event"}, False),
        ({"eventSource": "s3.amazonaws.com", "eventName": "GetObject"}, False),
    ],
)
def test_detect(record: dict[str, object], expected: bool) -> None:
    assert detect(record) is expected


# --- the fixture file ------------------------------------------------------------------------


def test_every_fixture_record_becomes_a_row(rows: dict[str, Row]) -> None:
    assert sorted(rows, key=lambda u: int(u.split("-")[1])) == [f"gw-{i}" for i in range(1, 12)]
    table = rows_to_table(list(rows.values()))
    assert table.num_rows == 11
    assert table.column("auth_mfa").type == CANONICAL["auth_mfa"].type


def test_local_login_with_mfa(rows: dict[str, Row]) -> None:
    row = rows["gw-1"]
    assert row["time"] == datetime(2024, 3, 1, 9, 0, 0, 500000, tzinfo=UTC)
    assert (row["actor_id"], row["actor_name"], row["actor_original"]) == ("alice@example.com",) * 3
    assert row["actor_type"] == "user"
    assert (row["action"], row["status_code"]) == ("user.login", "T1000I")
    assert row["src_ip"] == "198.51.100.20"
    assert row["user_agent"] == "Mozilla/5.0"
    assert (row["outcome"], row["auth_mfa"]) == ("success", True)
    assert (row["class_uid"], row["activity_id"], row["category"]) == (3002, 1, "authentication")
    assert row["source_tenant"] == "tele.example.com"
    assert row["addr.remote"] == "198.51.100.20:51234"  # native name, dot and all
    assert row["mfa_device.mfa_device_type"] == "WebAuthn"


def test_failed_sso_login(rows: dict[str, Row]) -> None:
    row = rows["gw-2"]
    assert (row["outcome"], row["outcome_reason"]) == (
        "failure",
        "access denied: user not in allowed group",
    )
    assert row["status_code"] == "T1000W"
    assert row["auth_mfa"] is None  # MFA of an SSO login is the IdP's business
    assert row["src_ip"] == "203.0.113.66"


def test_ssh_session_with_nested_ipv6_address(rows: dict[str, Row]) -> None:
    row = rows["gw-3"]
    assert row["src_ip"] == "2001:db8::7"
    assert (row["session_id"], row["host"]) == ("sess-1", "web-1.internal")
    assert (row["target_type"], row["target_id"], row["target_name"]) == (
        "server",
        "node-uuid-1",
        "root",
    )
    assert (row["class_uid"], row["category"]) == (6003, "session")
    assert row["addr.remote"] == "[2001:db8::7]:3022"
    assert row["addr.local"] == "10.0.0.5:3022"
    assert row["server_labels.env"] == "prod"


def test_commands_are_process_events(rows: dict[str, Row]) -> None:
    command = rows["gw-4"]
    assert (command["class_uid"], command["activity_id"], command["category"]) == (
        1007,
        1,
        "process",
    )
    assert command["argv"] == '["-s","http://169.254.169.254/latest/meta-data/"]'
    assert (command["pid"], command["return_code"]) == ("4242", "0")
    assert command["outcome"] == "success"
    exec_ = rows["gw-5"]  # no `success`: the E code says it failed
    assert (exec_["class_uid"], exec_["outcome"]) == (1007, "failure")
    assert exec_["outcome_reason"] == "exit status 1"  # a command's error is its `exitError`
    assert (exec_["target_id"], exec_["target_name"]) == ("web-2.internal", "ubuntu")
    assert exec_["command"] == "cat /etc/shadow"


def test_database_events(rows: dict[str, Row]) -> None:
    start, query = rows["gw-6"], rows["gw-7"]
    for row in (start, query):
        assert (row["target_type"], row["target_id"], row["target_name"]) == (
            "database",
            "orders-pg/orders",
            "orders",
        )
        assert row["session_id"] == "dbsess-9"
        assert row["db_user"] == "app_rw"
    assert (start["class_uid"], start["category"]) == (6003, "session")
    assert (query["class_uid"], query["category"]) == (6005, "data_access")
    assert query["db_query"] == "SELECT * FROM customers"


def test_kube_request_cert_and_access_request(rows: dict[str, Row]) -> None:
    kube = rows["gw-8"]
    assert (kube["target_type"], kube["target_id"], kube["class_uid"]) == (
        "kubernetes_cluster",
        "prod-eks",
        6003,
    )
    assert (kube["outcome"], kube["outcome_reason"]) == ("success", None)  # response_code 200
    cert = rows["gw-9"]  # issued by the auth server itself: no user
    assert (cert["actor_id"], cert["actor_type"], cert.get("actor_original")) == (
        None,
        "system",
        None,
    )
    assert cert["identity.user"] == "bot-ci"
    assert cert["identity.traits"] == "{}"
    request = rows["gw-10"]
    assert (request["action"], request["category"]) == ("access_request.create", "iam")
    assert request["roles"] == '["prod-admin"]'


def test_builtin_system_user(rows: dict[str, Row]) -> None:
    row = rows["gw-11"]
    assert (row["actor_name"], row["actor_type"], row.get("actor_original")) == (
        "system",
        "system",
        None,
    )
    assert (row["outcome"], row["outcome_reason"]) == ("failure", "ssh: cert has expired")


def test_native_columns_never_shadow_canonical_ones(rows: dict[str, Row]) -> None:
    for row in rows.values():
        natives = {k: v for k, v in row.items() if k not in CANONICAL}
        assert "time" not in natives and "user_agent" not in natives
        assert all(isinstance(v, str) for v in natives.values())
        assert row["raw"].startswith("{")


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("192.0.2.1:35194", "192.0.2.1"),
        ("[::1]:3022", "::1"),
        ("[2001:db8::7]:3022", "2001:db8::7"),
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8::7", "2001:db8::7"),
        ("proxy.example.com:3080", "proxy.example.com"),
    ],
)
def test_strip_port(address: str, expected: str) -> None:
    assert strip_port(address) == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"success": False, "code": "T2000I"}, "failure"),  # `success` wins over the code
        ({"success": True, "code": "T1000W"}, "success"),
        ({"success": "false"}, "failure"),
        ({"code": "T2000I"}, "success"),
        ({"code": "T3007W"}, "failure"),
        ({"code": "t2000e"}, "failure"),
        ({"event": "port", "code": "T3003S"}, "success"),  # a port forward stopped
        ({"code": "T2000X"}, "unknown"),
        ({}, "unknown"),
    ],
)
def test_outcome(fields: dict[str, object], expected: str) -> None:
    assert one(fields)["outcome"] == expected


KUBE = {"event": "kube.request", "code": "T3009I"}  # every API call the proxy passes on
COMMAND = {"event": "session.command", "code": "T4000I"}  # enhanced session recording
APP = {"event": "app.session.request", "code": "T2009I"}
NETWORK = {"event": "session.network", "code": "T4002I"}
EXEC = {"event": "exec", "code": "T3002I"}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({**KUBE, "response_code": 403}, ("failure", "HTTP 403")),
        ({**KUBE, "response_code": 400}, ("failure", "HTTP 400")),
        ({**KUBE, "response_code": 500, "error": "etcd down"}, ("failure", "etcd down")),
        ({**KUBE, "response_code": "404"}, ("failure", "HTTP 404")),  # a number as text
        ({**KUBE, "response_code": 399}, ("success", None)),
        ({**KUBE, "response_code": 201}, ("success", None)),
        ({**KUBE}, ("success", None)),
        ({"event": "kube.request", "response_code": 403}, ("failure", "HTTP 403")),  # no code
        ({**COMMAND, "return_code": -2}, ("failure", "execve returned -2")),
        ({**COMMAND, "return_code": "-13"}, ("failure", "execve returned -13")),
        ({**COMMAND, "return_code": -2, "error": "ENOENT"}, ("failure", "ENOENT")),
        ({**COMMAND, "return_code": 0}, ("success", None)),
        ({**COMMAND, "return_code": "0"}, ("success", None)),
        ({**APP, "status_code": 502}, ("failure", "HTTP 502")),
        ({**APP, "status_code": 304}, ("success", None)),
        ({**NETWORK, "action": 1}, ("failure", "denied")),
        ({**NETWORK, "action": "DENIED"}, ("failure", "denied")),
        ({**NETWORK, "action": 0}, ("success", None)),
        ({**EXEC, "exitCode": "1"}, ("failure", "exit code 1")),
        ({"event": "exec", "exitCode": "-1", "exitError": "killed"}, ("failure", "killed")),
        ({**EXEC, "exitCode": "0"}, ("success", None)),
        ({"event": "scp", "code": "T3004I", "exitCode": 1}, ("failure", "exit code 1")),
        # each field is read for the events that define it, not by its name everywhere
        ({"event": "session.disk", "code": "T4001I", "return_code": 3}, ("success", None)),
        ({"event": "session.start", "code": "T2000I", "response_code": 500}, ("success", None)),
        ({"event": "sftp", "code": "TS001I", "action": 1}, ("success", None)),
    ],
)
def test_result_fields_show_failures_the_code_letter_misses(
    fields: dict[str, object], expected: tuple[str, str | None]
) -> None:
    row = one(fields)
    assert (row["outcome"], row["outcome_reason"]) == expected


def test_the_success_flag_still_decides_and_an_error_still_names_the_reason() -> None:
    row = one({"event": "exec", "code": "T3002I", "exitCode": "2", "success": True})
    assert (row["outcome"], row["outcome_reason"]) == ("success", None)
    row = one({"event": "user.login", "code": "T1000W", "error": "bad password", "exitError": "x"})
    assert (row["outcome"], row["outcome_reason"]) == ("failure", "bad password")


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({**KUBE, "response_code": 403.5}, "response_code is a number, expected an integer"),
        ({**KUBE, "response_code": True}, "response_code is a boolean, expected an integer"),
        ({**KUBE, "response_code": "Forbidden"}, "response_code is a string, expected an integer"),
        ({**KUBE, "response_code": {"n": 1}}, "response_code is an object, expected an integer"),
        ({**COMMAND, "return_code": [-2]}, "return_code is an array, expected an integer"),
        ({**EXEC, "exitCode": "exit status 1"}, "exitCode is a string, expected an integer"),
        ({**NETWORK, "action": "blocked"}, "action is a string, expected an integer"),
        ({**APP, "status_code": 2.0}, "status_code is a number, expected an integer"),
    ],
)
def test_a_result_field_of_the_wrong_type_rejects_only_its_record(
    fields: dict[str, object], reason: str
) -> None:
    base: dict[str, object] = {"time": "2024-03-01T00:00:00Z", "user": "alice"}
    records = [
        {**base, **KUBE, "uid": "before", "response_code": 200},
        {**base, **fields, "uid": "bad"},
        {**base, **KUBE, "uid": "after", "response_code": 503},
    ]
    frames = [Frame(json.dumps(r).encode(), f"t:{n}") for n, r in enumerate(records, 1)]
    results = list(normalize_frames(gateway.SPEC, frames))
    assert [r.reason if isinstance(r, Rejected) else r["outcome"] for r in results] == [
        "success",
        reason,
        "failure",
    ]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"addr.remote": "[::1]:3022"}, {"src_ip": "::1"}),
        ({"addr": {"remote": "10.0.0.1:1"}}, {"src_ip": "10.0.0.1"}),
        ({"addr_remote": "10.0.0.2:2"}, {"src_ip": "10.0.0.2"}),
        ({"addr.remote": "proxy.internal:3080"}, {"src_host": "proxy.internal"}),
        ({"addr.remote": "[2001:db8:feed:baf00::1]:1"}, {}),  # malformed: kept only natively
    ],
)
def test_remote_address_forms(fields: dict[str, object], expected: dict[str, str]) -> None:
    row = one(fields)
    assert {k: row[k] for k in ("src_ip", "src_host") if row.get(k)} == expected


def test_a_log_opening_with_newer_event_codes_is_recognised(tmp_path: Path) -> None:
    codes = ["TAL001I", "TAL002E", "TSI000I", "TSPIFFE000I", "TOK003E", "T1000W"]
    records = [
        {"event": "x", "code": code, "uid": f"u{i}", "time": "2024-03-01T10:00:00Z", "user": "alice"}
        for i, code in enumerate(codes)
    ]
    path = tmp_path / "teleport.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert detect_path(path) is gateway.SPEC


def test_bot_users_are_services() -> None:
    assert one({"user": "bot-ci"})["actor_type"] == "service"


# --- bad input -------------------------------------------------------------------------------


def test_bad_records_are_rejected_with_reasons_and_good_ones_survive() -> None:
    results = ingest(DATA / "mixed.jsonl")
    reasons = [r.reason if isinstance(r, Rejected) else "row" for r in results]
    assert reasons == [
        "row",
        reasons[1],
        "event is a number, expected a string",
        "user is an object, expected a string",
        "addr.remote is a number, expected host:port text",
        "success is a number, expected true or false",
        "missing time",
        "unparsable time '2023-09-20T23:00:000.000000Z'",
        "missing event",
        "record is an array, not a JSON object",
        "row",
    ]
    assert reasons[1].startswith("truncated JSON")
    rows = by_uid(results)
    assert rows["ok-1"]["target_id"] == "n-1"
    last = rows["ok-2"]  # epoch seconds, a bare IP without port, hostname as target
    assert last["time"] == datetime(2024, 3, 2, 8, 0, 7, tzinfo=UTC)
    assert (last["src_ip"], last["target_id"], last["host"]) == ("10.1.1.1", "db-1", "db-1")


def test_huge_field_still_ingests(tmp_path: Path) -> None:
    records = [
        {"event": "db.session.query", "uid": "small", "time": "2024-03-01T00:00:00Z", "user": "u"},
        {
            "event": "db.session.query",
            "uid": "big",
            "time": "2024-03-01T00:00:01Z",
            "user": "u",
            "db_query": "SELECT '" + "x" * (5 << 20) + "'",
        },
        {"event": "db.session.query", "uid": "after", "time": "2024-03-01T00:00:02Z", "user": "u"},
    ]
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    rows = by_uid(ingest(path))
    assert len(rows["big"]["db_query"]) == (5 << 20) + 9
    assert sorted(rows) == ["after", "big", "small"]


def test_invalid_utf8_is_rejected_and_neighbours_survive(tmp_path: Path) -> None:
    good = b'{"event":"exec","uid":"u1","time":"2024-03-01T00:00:00Z","user":"a"}'
    bad = b'{"event":"exec","uid":"u2","time":"2024-03-01T00:00:00Z","user":"\xc3\x28"}'
    path = tmp_path / "utf8.jsonl"
    path.write_bytes(good + b"\n" + bad + b"\n" + good.replace(b"u1", b"u3") + b"\n")
    results = ingest(path)
    assert [type(r).__name__ for r in results] == ["dict", "Rejected", "dict"]
    assert results[1].reason.startswith("invalid UTF-8")


# --- public samples ------------------------------------------------------------------------


def sample_results() -> list[tuple[str, Row | Rejected]]:
    lines = [json.loads(line) for line in TELEPORT_SAMPLES.read_text().splitlines() if line.strip()]
    frames = [Frame(json.dumps(s["event"]).encode(), s["test_name"]) for s in lines]
    return list(
        zip([f.location for f in frames], normalize_frames(gateway.SPEC, frames), strict=True)
    )


@pytest.mark.skipif(not TELEPORT_SAMPLES.exists(), reason="shared samples not present")
def test_every_sample_is_detected_and_a_row_or_a_clear_rejection() -> None:
    lines = [json.loads(line) for line in TELEPORT_SAMPLES.read_text().splitlines() if line.strip()]
    assert all(detect(s["event"]) for s in lines)
    results = sample_results()
    rejected = {name: r.reason for name, r in results if isinstance(r, Rejected)}
    assert rejected == {"A role was created": "unparsable time '2023-09-20T23:00:000.000000Z'"}
    rows_to_table([r for _, r in results if isinstance(r, dict)])


@pytest.mark.skipif(not TELEPORT_SAMPLES.exists(), reason="shared samples not present")
def test_full_samples_map_correctly() -> None:
    rows = {name: r for name, r in sample_results() if isinstance(r, dict)}
    ssh_error = rows["SSH Errors"]
    assert (ssh_error["action"], ssh_error["outcome"], ssh_error["class_uid"]) == (
        "auth",
        "failure",
        3002,
    )
    assert ssh_error["outcome_reason"].startswith('ssh: principal "jack" not in the set')
    nmap = rows["Nmap with args"]
    assert (nmap["actor_name"], nmap["target_name"], nmap["program"]) == ("panther", "root", "nmap")
    assert nmap["time"] == datetime(2020, 8, 17, 21, 13, 47, 117000, tzinfo=UTC)
    assert nmap["session_id"] == "a3562a0e-e57f-4273-9f69-eedb6cd029cb"
    assert (nmap["class_uid"], nmap["category"]) == (1007, "process")
    root = rows["User logged in as root"]
    assert (root["src_ip"], root["host"], root["target_name"]) == (
        "192.0.2.1",
        "ip-10-0-0-1.us-west-2.compute.internal",
        "root",
    )
    mfa = rows["User logged in with MFA"]
    assert (mfa["auth_mfa"], mfa["actor_id"], mfa["outcome"]) == (True, "max.mustermann", "success")
    assert (
        mfa.get("src_ip") is None
    )  # "baf00" is not an IPv6 group: only the native column keeps it
    no_mfa = rows["User logged in without MFA"]
    assert (no_mfa["auth_mfa"], no_mfa["src_ip"]) == (
        False,
        "2001:db8:face:face:face:face:face:face",
    )
