"""The GitHub batch path equals the per-record path on every frame it keeps (`batch_helpers`),
and keeps the ordinary entries of real and synthetic audit logs, whatever keys they carry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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

from auditlake.sources import github, github_batch

SPEC = github.SPEC


def _entry(**fields: Any) -> dict[str, Any]:
    """A member added to a team by a person; keyword arguments replace or add top-level fields
    (None removes one)."""
    entry: dict[str, Any] = {
        "@timestamp": 1709287200943,
        "_document_id": "d1",
        "action": "team.add_member",
        "actor": "ann",
        "actor_id": 7,
        "actor_ip": "203.0.113.7",
        "actor_location": {"country_code": "DE"},
        "created_at": 1709287200943,
        "org": "acme",
        "team": "acme/sre",
        "user": "bob",
        "user_id": 9,
        "operation_type": "modify",
        "programmatic_access_type": None,
    }
    return with_fields(entry, fields)


def test_typical_entry_is_kept_with_every_column_equal() -> None:
    table = assert_batch_equals_per_record(SPEC, frames_of([line(_entry())]))
    row = table.to_pylist()[0]
    assert (row["target_type"], row["target_id"], row["src_country"], row["class_uid"]) == ("user", "9", "DE", 3006)
    assert (row["operation_type"], row["time"].isoformat()) == ("modify", "2024-03-01T10:00:00.943000+00:00")


@pytest.mark.parametrize(
    ("fields", "kept"),
    [
        ({"action": ""}, False),
        ({"action": None}, False),
        ({"action": 5}, False),
        ({"@timestamp": None, "created_at": "2023-01-31 18:58:27.638"}, True),
        ({"@timestamp": None, "created_at": None, "at_sign_timestamp": 1709287200}, True),
        ({"@timestamp": 1709287200123456}, True),
        ({"@timestamp": 7258118400000}, False),
        ({"@timestamp": "garbage"}, False),
        ({"@timestamp": True}, False),
        ({"@timestamp": None, "created_at": None}, False),
        ({"actor": {"login": "ann"}}, False),
        ({"actor": "dependabot[bot]", "actor_is_bot": True}, True),
        ({"actor": "github", "actor_id": None}, True),
        ({"actor": None, "actor_is_bot": "true"}, True),
        ({"actor_ip": ["1.2.3.4"]}, False),
        ({"org": ["acme", "other"], "business": "biz"}, True),
        ({"org": [5, ""], "team": None, "user": None}, True),
        ({"org": {"name": "acme"}, "repo": "acme/r", "user": None}, True),
        ({"user": None, "repo": ["", "acme/r"], "action": "repo.create"}, True),
        ({"user": "bob", "repo": "acme/r", "action": "repo.add_collaborator"}, True),
        ({"user": "bob", "repo": "acme/r", "action": "repo.create"}, True),
        ({"team": None, "data": {"team": "acme/ops"}, "user": None}, True),
        ({"conclusion": "TIMED_OUT"}, True),
        ({"conclusion": "", "result": "denied"}, True),
        ({"conclusion": {"x": 1}}, False),
        ({"Weird": 1}, False),
        ({"dotted.key": 1}, False),
        ({"raw": "x"}, False),
        ({"_time": "x"}, False),
        ({"": "empty key"}, True),
        ({"config": {"url": "https://x", "insecure_ssl": "0"}, "events": ["push", "pull_request"]}, True),
        ({"config": {"ratio": 0.5}}, False),
        ({"hook_note": "\u001f"}, False),
        ({"permissions": {"contents": "write"}, "token_scopes": "repo,workflow", "hashed_token": "h"}, True),
    ],
)
def test_keeps_what_it_can_vouch_for_and_declines_the_rest(fields: dict[str, Any], kept: bool) -> None:
    frames = frames_of([line(_entry(**fields))])
    table = assert_batch_equals_per_record(SPEC, frames)
    assert (table.num_rows == 1) is kept
    assert_run_batch_equals_per_record(SPEC, frames)


def test_keys_differing_from_row_to_row_become_columns_of_the_rows_holding_them() -> None:
    raws = [line(_entry(a_only=1)), line(_entry(b_only={"x": [1, 2]})), line(_entry())]
    table = assert_batch_equals_per_record(SPEC, frames_of(raws))
    assert table["a_only"].to_pylist() == ["1", None, None]
    assert table["b_only"].to_pylist() == [None, '{"x":[1,2]}', None]


def test_repeated_keys_read_as_simdjson_reads_them() -> None:
    raw = line(_entry())[:-1] + b',"action":"repo.destroy","org":"other"}'
    table = assert_batch_equals_per_record(SPEC, frames_of([raw]))
    assert (table["action"].to_pylist(), table["source_tenant"].to_pylist()) == (["team.add_member"], ["acme"])


ODD_ADDRESSES = ["runner.acme.example", "unknown", "", "fe80::1%eth0", "1.2.3.4:443", "::ffff:10.0.0.1",
                 " 1.2.3.4 ", "1.2.3.4\n", "01.2.3.4", "2001:db8::7", "::", 7, True, None]
"""Actor addresses that are not plain IPv4 ones: host names, junk, IPv6's odd forms, and JSON
values that are no text."""


def test_actor_ip_is_src_ip_only_when_it_is_an_ip_address_on_both_paths() -> None:
    entries = [_entry(_document_id=f"d{i}", actor_ip=address) for i, address in enumerate(ODD_ADDRESSES)]
    table = assert_batch_equals_per_record(SPEC, frames_of([line(e) for e in entries]))
    assert table.num_rows == len(entries)
    assert table["src_ip"].to_pylist() == [
        None, None, None, "fe80::1%eth0", None, "::ffff:10.0.0.1", None, None, None, "2001:db8::7", "::", None, None, None,
    ]
    assert table["src_host"].to_pylist() == [
        "runner.acme.example", "unknown", None, None, "1.2.3.4:443", None, " 1.2.3.4 ", "1.2.3.4\n", "01.2.3.4", None,
        None, "7", "true", None,
    ]
    assert_run_batch_equals_per_record(SPEC, frames_of([line(e) for e in entries]))


def test_a_key_named_as_the_address_flag_is_a_native_column_only() -> None:
    table = assert_batch_equals_per_record(SPEC, frames_of([line(_entry(_is_ip=True, actor_ip="runner.acme.example"))]))
    assert (table["src_ip"].to_pylist(), table["src_host"].to_pylist()) == ([None], ["runner.acme.example"])


def test_refused_attempts_and_membership_classes_are_equal_on_both_paths() -> None:
    actions = ["protected_branch.rejected_ref_update", "user.two_factor_challenge_failure",
               "protected_branch.policy_override", "repo.add_member", "business.add_admin", "repo.archived"]
    frames = frames_of([line(_entry(action=a, _document_id=a, team=None, repo="acme/api",
                                    reasons=[{"code": "required_status_checks"}])) for a in actions])
    table = assert_batch_equals_per_record(SPEC, frames)
    assert table["outcome"].to_pylist() == ["failure", "failure", "success", "success", "success", "success"]
    assert table["class_uid"].to_pylist() == [6003, 3001, 6003, 3006, 3006, 6003]


def test_real_github_samples_equal_the_per_record_path(shared_data: Path) -> None:
    raws = sample_records(shared_data, "github_audit.jsonl")
    table = assert_batch_equals_per_record(SPEC, frames_of(raws))
    assert table.num_rows >= 50
    assert_run_batch_equals_per_record(SPEC, frames_of(raws))


def test_a_synthetic_day_is_kept_whole(tmp_path: Path) -> None:
    chunk = synthetic_day(tmp_path, "github.audit")
    table = assert_batch_equals_per_record(SPEC, chunk)
    assert table.num_rows == len(chunk)


JSON = any_json([1.5, 1e-05])
IP = st.ip_addresses().map(str)
ADDRESSES = st.one_of(
    IP, IP, st.sampled_from(ODD_ADDRESSES[:-3]), st.ip_addresses(v=6).map(lambda a: f"{a}%eth0"),
    st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"), IP.map(lambda a: f"{a}:443"), IP.map(lambda a: f" {a}"), PLAIN,
)
"""Actor addresses: mostly IP addresses, often the odd forms the source's origin must sort."""


def _entries(junk: bool) -> st.SearchStrategy[dict[str, Any]]:
    """Audit-log entries: with `junk`, any field may hold any JSON value and the odd forms
    `normalize` refuses or reads its own way; without, fields hold what `normalize` reads."""

    pick = picker(junk, JSON)

    strings = pick(PLAIN, ["", "\u001f", 7])
    names = pick(st.one_of(PLAIN, st.lists(st.one_of(PLAIN, st.integers(0, 9)), max_size=2)))
    times = pick(st.one_of(st.integers(10**12, 2 * 10**12), st.sampled_from(["2023-01-31 18:58:27.638", 1709287200])),
                 ["", "x", 7258118400000, True])
    extra_keys = st.dictionaries(st.sampled_from(["operation_type", "transport_protocol", "permission", "visibility",
                                                  "config", "events", "Odd", "x.y", "_keys"]),
                                 st.one_of(PLAIN, st.integers(0, 9), st.booleans(), st.lists(PLAIN, max_size=2)),
                                 max_size=4)
    base = st.fixed_dictionaries(
        {"action": pick(st.sampled_from(["team.add_member", "repo.create", "org.remove_member", "git.clone",
                                         "repo.add_collaborator", "user.login", "repo.add_member",
                                         "business.add_admin", "protected_branch.rejected_ref_update",
                                         "user.two_factor_challenge_failure"]), ["", 3]),
         "@timestamp": times},
        optional={
            "created_at": times, "actor": pick(st.sampled_from(["ann", "github", "dependabot[bot]", "x[bot]", ""])),
            "actor_id": strings, "actor_ip": pick(ADDRESSES, ["", "\u001f", 7]), "actor_is_bot": pick(st.booleans()),
            "actor_location": pick(st.fixed_dictionaries({"country_code": strings})),
            "org": names, "business": names, "user": names, "repo": names, "repository": names, "team": names,
            "data": pick(st.fixed_dictionaries({"team": names})), "user_id": strings,
            "conclusion": pick(st.sampled_from(["success", "FAILURE", "timed_out", ""])), "result": strings,
            "hashed_token": strings, "token_id": strings, "request_id": strings, "_document_id": strings,
        },
    )
    return st.builds(lambda entry, extra: {**entry, **extra} if junk else {**extra, **entry}, base, extra_keys)


test_batch_equals_per_record_on_generated_records = generated_equality_test(
    SPEC,
    st.one_of(_entries(junk=False), _entries(junk=False), _entries(junk=True)),
    st.fixed_dictionaries({}, optional={"action": JSON, "org": JSON, "@timestamp": JSON}),
)


def test_spec_uses_the_batch_path() -> None:
    assert SPEC.batch is github_batch.batch
