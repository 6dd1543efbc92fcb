"""A field whose path crosses a JSON array, at any level, matches when any element does.

Sigma writes no index: `requestObject.subjects.name` is the name of any subject, and
`argv: '-Pn'` is true of a command one of whose arguments is `-Pn`. That holds for any path
read from the raw record or an object column, and for a column holding a field's JSON array
as text (Teleport's `argv`), not only for the arrays the engine knows by name; every path of
the engine (all rules on all rows, candidate rows, `raw` read late) agrees.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sigma.collection import SigmaCollection
from tests.detection.engine_paths import matched_by_every_path

from auditlake.detection.compile import CompiledRule, compile_collection
from auditlake.ingest import ingest
from auditlake.lake.paths import LakePaths
from auditlake.lake.scan import scan_events

GATEWAY = "gateway.teleport"
K8S = "k8s.audit"
OKTA = "okta.system"
REPO = Path(__file__).resolve().parents[2]


def _rules(logsource: str, selections: dict[str, str]) -> list[CompiledRule]:
    """One rule per (name, selection body in YAML flow style), titled by its name."""
    documents = [
        f"title: {name}\nid: 0b0c7a8e-1f7e-4a4e-9d0e-{n:012}\nlogsource: {logsource}\n"
        f"detection:\n  sel: {body}\n  condition: sel\n"
        for n, (name, body) in enumerate(selections.items())
    ]
    ruleset = compile_collection(SigmaCollection.from_yaml("---\n".join(documents)))
    assert not ruleset.failures, ruleset.failures
    return list(ruleset.rules)


def _matched(rules: list[CompiledRule], frame: pl.DataFrame, source: str, key: str) -> set[tuple[str, str]]:
    """(the record's `key`, rule title) matched, the same by every path of the engine."""
    keys = dict(zip(frame["event_uid"], frame["raw"].str.json_path_match(f"$.{key}"), strict=True))
    return {(keys[uid], title) for uid, title in matched_by_every_path(rules, frame, source)}


def _lake_events(tmp_path: Path, source: str, records: list[dict[str, Any]]) -> pl.DataFrame:
    path = tmp_path / f"{source}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    lake = LakePaths.at(tmp_path / "lake")
    assert not ingest([path], lake, source=source, workers=1).quarantined
    return scan_events(lake, sources=[source]).collect()


def _command(uid: str, argv: list[str]) -> dict[str, Any]:
    return {"argv": argv, "code": "T4000I", "event": "session.command", "login": "root", "path": "/bin/nmap",
            "program": "nmap", "sid": "s1", "time": "2026-03-05T06:00:00Z", "uid": uid, "user": "panther"}


def test_a_teleport_argv_matches_by_member(tmp_path: Path) -> None:
    long = [f"-o{i}" for i in range(40)] + ["-Pn"]  # far beyond any fixed number of members
    events = _lake_events(tmp_path, GATEWAY, [
        _command("scan", ["-v", "-iR", "100000", "-Pn", "-p", "80"]),
        _command("long", long),
        _command("version", ["-v", "-iR", "100000", "-sV", "-p", "80"]),
        _command("quoted", ['-e "x"', "C:\\tmp\\a"]),
        {**_command("message", []), "argv": "[INFO] -Pn"},  # a string that only looks like an array
    ])
    assert events.schema["argv"] == pl.String  # the array is the column's JSON text
    rules = _rules("{product: teleport, service: audit}", {
        "pn": "{argv: '-Pn'}",
        "ends": "{argv|endswith: ['i0', 'Pn']}",
        "quoted": """{argv: '-e "x"'}""",
        "path": "{argv|contains: 'tmp\\a'}",
        "text": "{argv|startswith: '[info]'}",
        "message": "{argv: '[INFO] -Pn'}",
    })
    assert _matched(rules, events, GATEWAY, "uid") == {
        ("scan", "pn"), ("long", "pn"), ("scan", "ends"), ("long", "ends"), ("quoted", "quoted"),
        ("quoted", "path"), ("message", "text"), ("message", "message"), ("message", "ends")}


def _pod(uid: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse", "auditID": uid,
            "stage": "ResponseComplete", "requestURI": "/api/v1/namespaces/p/pods", "verb": "create",
            "user": {"username": "ana@example.com", "groups": ["dev"]}, "sourceIPs": ["198.51.100.7"],
            "objectRef": {"resource": "pods", "namespace": "p", "apiVersion": "v1"},
            "responseStatus": {"code": 201}, "requestObject": {"kind": "Pod", "spec": spec},
            "requestReceivedTimestamp": "2026-03-05T14:16:02.000000Z", "stageTimestamp": "2026-03-05T14:16:02.100000Z"}


def test_kubernetes_paths_through_any_array_match_any_element(tmp_path: Path) -> None:
    """Subjects of a binding, init containers of a pod: arrays no table names."""
    binding = json.loads((REPO / "rules" / "kubernetes" / "kubernetes_clusterrolebinding_cluster_admin"
                          / "match_backdoor_binding.jsonl").read_text().splitlines()[0])
    second_subject = json.loads(json.dumps(binding))
    second_subject["auditID"] = "second-subject"
    second_subject["requestObject"]["subjects"].insert(0, {"kind": "Group", "name": "devs"})
    privileged = {"securityContext": {"privileged": True}}
    events = _lake_events(tmp_path, K8S, [
        binding,
        second_subject,
        _pod("init-privileged", {"containers": [{"name": "main", "image": "alpine:3.20"}],
                                 "initContainers": [{"name": "a", "image": "busybox"}, {"name": "b", **privileged}]}),
        _pod("main-privileged", {"containers": [{"name": "main", "image": "alpine", **privileged}]}),
        _pod("capabilities", {"containers": [{"name": "x", "securityContext": {"capabilities": {"add": ["NET_RAW", "SYS_ADMIN"]}}}]}),
        _pod("nothing", {"containers": [{"name": "main", "image": "nginx"}]}),
    ])
    rules = _rules("{product: kubernetes, service: audit}", {
        "user-subject": "{requestObject.subjects.kind: User, requestObject.subjects.name|endswith: '@kestrel.example'}",
        "group-subject": "{requestObject.subjects.kind: Group}",
        "init-privileged": "{requestObject.spec.initContainers.securityContext.privileged: 'true'}",
        "main-privileged": "{requestObject.spec.containers.securityContext.privileged: 'true'}",
        "init-image": "{requestObject.spec.initContainers.image: busybox}",
        "sys-admin": "{requestObject.spec.containers.securityContext.capabilities.add: SYS_ADMIN}",
        "capabilities": "{capabilities: '*'}",  # SigmaHQ's flat name, mapped into the pod spec
    })
    assert _matched(rules, events, K8S, "auditID") == {
        ("9ead49b2-7f65-405e-adfc-80f8160f1c6e", "user-subject"), ("second-subject", "user-subject"),
        ("second-subject", "group-subject"), ("init-privileged", "init-privileged"),
        ("main-privileged", "main-privileged"), ("init-privileged", "init-image"),
        ("capabilities", "sys-admin"), ("capabilities", "capabilities")}


def _okta(uid: str, **fields: Any) -> dict[str, Any]:
    return {"uuid": uid, "published": "2026-03-02T10:00:00.000Z", "eventType": "user.session.start",
            "version": "0", "severity": "INFO", "actor": {"alternateId": "ana@example.com", "type": "User"},
            **fields}


@pytest.mark.parametrize(("condition", "expected"), [
    ("sel", {"nested", "object"}),
    ("not sel", {"no-match", "absent", "empty"}),
    ("missing", {"absent", "empty"}),
    ("present", {"nested", "object", "no-match"}),
])
def test_arrays_in_arrays_and_presence(tmp_path: Path, condition: str, expected: set[str]) -> None:
    """`debugContext.steps.checks.result`: checks is an array inside each step of an array."""
    steps = [{"checks": [{"result": "ok"}, {"result": "ok"}]}, {"checks": [{"result": "ok"}, {"result": "DENY"}]}]
    events = _lake_events(tmp_path, OKTA, [
        _okta("nested", debugContext={"steps": steps}),
        _okta("object", debugContext={"steps": {"checks": {"result": "deny"}}}),  # no array at all
        _okta("no-match", debugContext={"steps": [{"checks": [{"result": "ok"}]}]}),
        _okta("absent", debugContext={"steps": [{"other": 1}]}),
        _okta("empty", debugContext={"steps": []}),
    ])
    rule = f"""title: t
id: 5b0b7c4e-0d6e-4c55-9d55-000000000011
logsource: {{product: okta, service: okta}}
detection:
  sel:
    debugContext.steps.checks.result: deny
  missing:
    debugContext.steps.checks.result: null
  present:
    debugContext.steps.checks.result|exists: true
  condition: {condition}
"""
    rules = list(compile_collection(SigmaCollection.from_yaml(rule)).rules)
    assert {uid for uid, _ in _matched(rules, events, OKTA, "uuid")} == expected


# -- any element at any level, against a reference ----------------------------------------

KEYS = ("a", "b", "c")
leaf = st.sampled_from(["x", "X/y", "ab", 'q"r', "z\\w", "é", 7, True, None])


def _value(depth: int) -> st.SearchStrategy[Any]:
    """The value at `KEYS[:depth]`: an object holding the next key, a list of such objects,
    a leaf; at the end of the path a leaf or a list of leaves."""
    if depth == len(KEYS):
        return st.one_of(leaf, st.lists(leaf, max_size=3))
    inner = st.fixed_dictionaries({}, optional={KEYS[depth]: _value(depth + 1), "o": leaf})
    return st.one_of(inner, st.lists(inner, max_size=3), leaf)


def _reference(value: Any, keys: tuple[str, ...]) -> list[str]:
    """Every value at `keys` below `value`, each list standing for its members, as text."""
    if isinstance(value, list):
        return [found for member in value for found in _reference(member, keys)]
    if not keys:
        if value is None or isinstance(value, dict):
            return []
        return [json.dumps(value) if not isinstance(value, str) else value]
    return _reference(value[keys[0]], keys[1:]) if isinstance(value, dict) and keys[0] in value else []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(_value(1), min_size=1, max_size=8), data=st.data())
def test_any_element_at_any_level_matches(records: list[Any], data: st.DataObject) -> None:
    """Okta records with `a.b.c` nested in objects and arrays at random: a rule on the path
    matches exactly the records a reference walk finds a matching value in."""
    wanted = data.draw(st.sampled_from(["x", "x/y", "ab", 'q"r', "z\\w", "é", "7", "true"]))
    modifier = data.draw(st.sampled_from(["", "|contains", "|startswith"]))
    rows = [{"event_uid": f"e{i}", "source": OKTA, "raw": json.dumps({"uuid": f"e{i}", "a": r})}
            for i, r in enumerate(records)]
    frame = pl.DataFrame(rows, schema={"event_uid": pl.String, "source": pl.String, "raw": pl.String})
    value = json.dumps(wanted.replace("\\", "\\\\"))  # a Sigma value, its backslash escaped
    rules = _rules("{product: okta, service: okta}", {"t": f"{{'a.b.c{modifier}': {value}}}"})
    test = {"": str.__eq__, "|contains": str.__contains__, "|startswith": str.startswith}[modifier]
    expected = {(f"e{i}", "t") for i, r in enumerate(records)
                if any(test(v.lower(), wanted.lower()) for v in _reference({"a": r}, KEYS))}
    assert _matched(rules, frame, OKTA, "uuid") == expected
