"""The Okta batch path equals the per-record path on every frame it keeps (`batch_helpers`),
and keeps the ordinary events of real and synthetic System Logs, floats and all."""

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

from auditlake.sources import okta, okta_batch

SPEC = okta.SPEC
GEO = {"city": "Ashburn", "country": "United States", "geolocation": {"lat": 39.0437, "lon": -77.4875}}


def _event(**fields: Any) -> dict[str, Any]:
    """A failed MFA sign-in with Okta's usual nesting and geolocation floats; keyword arguments
    replace or add top-level fields (None removes one)."""
    event: dict[str, Any] = {
        "uuid": "98dd608f-8765-4798-9bbf-6b2a4d088991",
        "published": "2024-03-01T10:00:00.384Z",
        "eventType": "user.authentication.auth_via_mfa",
        "displayMessage": "Authentication of user via MFA",
        "severity": "WARN",
        "version": "0",
        "actor": {"id": "00u1", "type": "User", "alternateId": "ann@example.com", "displayName": "Ann"},
        "client": {"ipAddress": "198.51.100.7", "zone": "null", "device": "Computer",
                   "userAgent": {"rawUserAgent": "Mozilla/5.0", "os": "Mac OS X", "browser": "CHROME"},
                   "geographicalContext": GEO},
        "outcome": {"result": "FAILURE", "reason": "INVALID_CREDENTIALS"},
        "authenticationContext": {"externalSessionId": "idx123", "credentialType": "OTP"},
        "securityContext": {"isProxy": False, "asNumber": 64500},
        "transaction": {"type": "WEB", "id": "tx1", "detail": {}},
        "debugContext": {"debugData": {"requestId": "r1", "requestUri": "/idp/idx/identify",
                                       "url": "https://acme.okta.com/idp/idx/identify?",
                                       "behaviors": "{New Geo-Location=NEGATIVE}"}},
        "request": {"ipChain": [{"ip": "198.51.100.7", "geographicalContext": GEO, "version": "V4"}]},
        "target": [{"id": "0oa1", "type": "AppInstance", "alternateId": "Salesforce", "displayName": "SF"}],
    }
    return with_fields(event, fields)


def test_typical_event_is_kept_with_every_column_equal() -> None:
    table = assert_batch_equals_per_record(SPEC, frames_of([line(_event())]))
    row = table.to_pylist()[0]
    assert (row["action"], row["outcome"], row["auth_mfa"], row["source_tenant"]) == (
        "user.authentication.auth_via_mfa", "failure", True, "acme.okta.com")
    assert (row["target_type"], row["target_name"], row["src_ip_chain"]) == ("AppInstance", "Salesforce", ["198.51.100.7"])
    assert '"lat":39.0437' in row["request.ipChain"]


@pytest.mark.parametrize(
    ("fields", "kept"),
    [
        ({"eventType": ""}, False),
        ({"eventType": None}, False),
        ({"eventType": 3}, False),
        ({"eventtype": "user.session.start"}, False),
        ({"debugcontext": {"debugData": {}}}, False),
        ({"published": "2024-03-01T10:00:00+01:00"}, False),
        ({"published": 1709287200}, False),
        ({"published": "2024-03-01 10:00:00"}, True),
        ({"actor": "ann"}, False),
        ({"actor": None}, True),
        ({"actor": {"id": 7, "type": "Bogus", "alternateId": "", "displayName": "D"}}, True),
        ({"actor": {"id": {"x": 1}}}, False),
        ({"uuid": 1.5}, False),
        ({"uuid": ""}, True),
        ({"version": 1.5}, False),
        ({"severity": "ERROR", "outcome": {"result": "ALLOW"}}, True),
        ({"severity": None, "outcome": None}, True),
        ({"outcome": {"result": ["x"]}}, False),
        ({"client": "web"}, True),
        ({"client": {"ipAddress": {"v4": "1.2.3.4"}}}, False),
        ({"authenticationContext": {"externalSessionId": "unknown", "credentialType": "SMS"}}, True),
        ({"authenticationContext": {"externalSessionId": "", "credentialType": "PASSWORD"}}, True),
        ({"debugContext": {"debugData": {"factor": None}}}, True),
        ({"debugContext": {"debugData": {"factor": "OKTA_VERIFY_PUSH", "requestId": 5}}}, True),
        ({"debugContext": {"debugData": {"url": "https://login.okta.com/x", "origin": "https://b.oktapreview.com"}}}, True),
        ({"debugContext": {"debugData": {"url": "http://[bad", "redirectUri": 5}}}, True),
        ({"debugContext": {"debugData": {"risk": 0.5}}}, False),
        ({"debugContext": {"debugData": {"note": "\u001f", "x": [1e-05]}}}, True),
        ({"debugContext": "none"}, True),
        ({"request": {"ipChain": [{"ip": 5}, "x", {"ip": "10.0.0.1"}, {"ip": "10.0.0.2", "ip ": 1.25}]}}, True),
        ({"request": {"ipChain": []}}, True),
        ({"request": {"ipChain": {"ip": "10.0.0.1"}}}, True),
        ({"target": [{"type": ["x"], "id": 7, "alternateId": "", "displayName": {"a": 1}}]}, True),
        ({"target": [], "transaction": {"id": True}}, True),
        ({"target": ["x", {"id": "2"}]}, True),
        ({"target": {"id": "1"}}, True),
    ],
)
def test_keeps_what_it_can_vouch_for_and_declines_the_rest(fields: dict[str, Any], kept: bool) -> None:
    frames = frames_of([line(_event(**fields))])
    table = assert_batch_equals_per_record(SPEC, frames)
    assert (table.num_rows == 1) is kept
    assert_run_batch_equals_per_record(SPEC, frames)


def test_repeated_keys_read_as_simdjson_reads_them() -> None:
    raw = line(_event())[:-1] + b',"eventType":"user.session.start","request":{"ipChain":[{"ip":"1.1.1.1","ip":"2.2.2.2"}]}}'
    table = assert_batch_equals_per_record(SPEC, frames_of([raw]))
    assert table["action"].to_pylist() == ["user.authentication.auth_via_mfa"]


def test_unknown_placeholder_is_no_name_on_both_paths() -> None:
    events = [
        _event(actor={"id": "1.2.3.4", "type": "IP address", "alternateId": "unknown", "displayName": "1.2.3.4"}),
        _event(uuid="u2", actor={"id": "unknown", "type": "User", "alternateId": "unknown", "displayName": "unknown"},
               target=[{"id": "00T1", "type": "Token", "alternateId": "unknown", "displayName": "ci_key"}]),
    ]
    table = assert_batch_equals_per_record(SPEC, frames_of([line(e) for e in events]))
    assert table["actor_id"].to_pylist() == ["1.2.3.4", None]
    assert table["actor_name"].to_pylist() == ["1.2.3.4", None]
    assert table["target_name"].to_pylist() == ["Salesforce", "ci_key"]


ODD_ADDRESSES = ["vpn.acme.example", "unknown", "", "fe80::1%eth0", "1.2.3.4:443", "::ffff:10.0.0.1",
                 " 1.2.3.4 ", "1.2.3.4\n", "01.2.3.4", "2001:db8::7", "::", 7, True, None]
"""Client addresses that are not plain IPv4 ones: host names, Okta's placeholder, junk, IPv6's
odd forms, and JSON values that are no text."""


def test_client_address_is_src_ip_only_when_it_is_an_ip_address_on_both_paths() -> None:
    events = [_event(uuid=f"u{i}", client={"ipAddress": address}) for i, address in enumerate(ODD_ADDRESSES)]
    table = assert_batch_equals_per_record(SPEC, frames_of([line(e) for e in events]))
    assert table.num_rows == len(events)
    assert table["src_ip"].to_pylist() == [
        None, None, None, "fe80::1%eth0", None, "::ffff:10.0.0.1", None, None, None, "2001:db8::7", "::", None, None, None,
    ]
    assert table["src_host"].to_pylist() == [
        "vpn.acme.example", None, None, None, "1.2.3.4:443", None, " 1.2.3.4 ", "1.2.3.4\n", "01.2.3.4", None, None,
        "7", "true", None,
    ]
    assert table["src_ip_chain"].to_pylist() == [["198.51.100.7"]] * len(events)
    assert_run_batch_equals_per_record(SPEC, frames_of([line(e) for e in events]))


def test_real_okta_samples_equal_the_per_record_path(shared_data: Path) -> None:
    raws = sample_records(shared_data, "okta_systemlog.jsonl")
    table = assert_batch_equals_per_record(SPEC, frames_of(raws))
    assert table.num_rows >= 20
    assert_run_batch_equals_per_record(SPEC, frames_of(raws))


def test_a_synthetic_day_is_kept_whole(tmp_path: Path) -> None:
    chunk = synthetic_day(tmp_path, "okta.system")
    table = assert_batch_equals_per_record(SPEC, chunk)
    assert table.num_rows == len(chunk)


JSON = any_json([1.5, -0.0, 1e-05, 39.0437])
IP = st.ip_addresses().map(str)
ADDRESSES = st.one_of(
    IP, IP, st.sampled_from(ODD_ADDRESSES[:-3]), st.ip_addresses(v=6).map(lambda a: f"{a}%eth0"),
    st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"), IP.map(lambda a: f"{a}:443"), IP.map(lambda a: f" {a}"), PLAIN,
)
"""Client addresses: mostly IP addresses, often the odd forms the source's origin must sort."""


def _events(junk: bool) -> st.SearchStrategy[dict[str, Any]]:
    """System Log events: with `junk`, any field may hold any JSON value and the odd forms
    `normalize` refuses or reads its own way; without, fields hold what `normalize` reads
    (floats in the places Okta puts them)."""

    pick = picker(junk, JSON)

    strings = pick(PLAIN, ["", "\u001f", 7])
    urls = pick(st.sampled_from(["https://acme.okta.com/x", "https://ACME.okta-emea.com:443/", "http://[::1", "a://b",
                                 "https://login.okta.com/", "/relative"]))
    hop = pick(st.fixed_dictionaries({}, optional={"ip": pick(ADDRESSES), "geographicalContext": st.just(GEO)}))
    return st.fixed_dictionaries(
        {
            "eventType": pick(st.sampled_from(["user.session.start", "user.lifecycle.create", "group.user_membership.add",
                                               "user.authentication.auth_via_mfa", "app.oauth2.token"]), ["", 3]),
            "published": pick(st.sampled_from(["2024-03-01T10:00:00.384Z", "2024-03-01 10:00:00"]),
                              ["2024-02-30T00:00:00Z", "2024-03-01T10:00:00+01:00"]),
        },
        optional={
            "uuid": strings,
            "severity": pick(st.sampled_from(["INFO", "WARN", "ERROR", "DEBUG"])),
            "displayMessage": strings,
            "actor": pick(st.fixed_dictionaries({}, optional={k: strings for k in ("id", "type", "alternateId", "displayName")})),
            "client": pick(st.fixed_dictionaries({}, optional={
                "ipAddress": pick(ADDRESSES), "geographicalContext": st.just(GEO), "zone": strings,
                "userAgent": pick(st.fixed_dictionaries({"rawUserAgent": strings}))})),
            "outcome": pick(st.fixed_dictionaries({}, optional={
                "result": pick(st.sampled_from(["SUCCESS", "FAILURE", "DENY", "ALLOW"])), "reason": strings})),
            "authenticationContext": pick(st.fixed_dictionaries({}, optional={
                "externalSessionId": pick(st.sampled_from(["unknown", "idx1", ""])),
                "credentialType": pick(st.sampled_from(["OTP", "SMS", "PASSWORD"]))})),
            "debugContext": pick(st.fixed_dictionaries({"debugData": pick(st.fixed_dictionaries({}, optional={
                "requestId": strings, "requestUri": strings, "factor": pick(st.sampled_from(["PUSH", None])),
                "url": urls, "origin": urls, "redirectUri": urls, "risk": strings, "behaviors": strings}))})),
            "request": pick(st.fixed_dictionaries({"ipChain": pick(st.lists(hop, max_size=3))})),
            "target": pick(st.lists(pick(st.fixed_dictionaries({}, optional={
                k: strings for k in ("id", "type", "alternateId", "displayName")})), max_size=2)),
            "eventtype": JSON if junk else st.nothing(),
            "transaction": pick(st.fixed_dictionaries({"id": strings})),
            "securityContext": pick(st.fixed_dictionaries({"isProxy": st.booleans()})),
        },
    )


test_batch_equals_per_record_on_generated_records = generated_equality_test(
    SPEC,
    st.one_of(_events(junk=False), _events(junk=False), _events(junk=True)),
    st.fixed_dictionaries({}, optional={"eventType": JSON, "actor": JSON, "request": JSON}),
)


def test_spec_uses_the_batch_path() -> None:
    assert SPEC.batch is okta_batch.batch
