"""Sigma rules over a source a generic mapping writes: `logsource: {product: myapp, service:
audit}` reaches the lake source `myapp.audit`, and a field without a column of its own (deeper
than the native columns go, or inside an array) is read from the raw record by path."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from tests.application_log import MAPPING, rule

from auditlake.cli import main
from auditlake.detection.logsources import MAPPED_NAME, route, unsupported_reason
from auditlake.sources.generic import SAFE_NAME

RECORDS = [
    {"id": "a1", "ts": "2026-03-02T10:00:00Z", "op": "export", "who": {"name": "eve"},
     "deep": {"a": {"b": {"c": {"d": "secret-table"}}}}, "tags": [{"k": "pii"}, {"k": "bulk"}]},
    {"id": "a2", "ts": "2026-03-02T10:01:00Z", "op": "export", "who": {"name": "bob"},
     "deep": {"a": {"b": {"c": {"d": "public"}}}}, "tags": [{"k": "report"}]},
    {"id": "a3", "ts": "2026-03-02T10:02:00Z", "op": "login", "who": {"name": "eve"}},
]


def _lake(tmp_path: Path) -> Path:
    (tmp_path / "app.toml").write_text(MAPPING)
    (tmp_path / "app.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    lake = tmp_path / "lake"
    result = CliRunner().invoke(main, ["ingest", str(tmp_path / "app.jsonl"), "--mapping",
                                       str(tmp_path / "app.toml"), "--lake", str(lake)])
    assert result.exit_code == 0, result.output
    return lake


def _alerts(tmp_path: Path, lake: Path, rules: dict[str, str]) -> tuple[dict[str, set[str]], str]:
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    for name, text in rules.items():
        (folder / f"{name}.yml").write_text(text)
    result = CliRunner().invoke(main, ["detect", "--rules", str(folder), "--lake", str(lake), "--json",
                                       "--since", "2026-03-01", "--until", "2026-03-03"])
    assert result.exit_code == 0, result.output
    found: dict[str, set[str]] = {name: set() for name in rules}
    for line in result.stdout.splitlines():
        alert = json.loads(line)
        found[alert["rule_title"]].update(alert["event_uids"])
    return found, result.stderr


def test_rules_reach_a_mapped_source_by_product_and_service(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    found, stderr = _alerts(tmp_path, lake, {
        "native_column": rule("native_column", "{product: myapp, service: audit}", "{op: export, who.name: eve}"),
        "deeper_than_columns": rule("deeper_than_columns", "{product: myapp, service: audit}",
                                     "{deep.a.b.c.d|contains: secret}"),
        "inside_an_array": rule("inside_an_array", "{product: myapp, service: audit}", "{tags.k: bulk}"),
        "keyword": rule("keyword", "{product: myapp, service: audit}", "[\"secret-table\"]").replace(
            "  sel: [\"secret-table\"]\n  condition: sel", "  keywords: [\"secret-table\"]\n  condition: keywords"),
        "canonical_column": rule("canonical_column", "{product: myapp, service: audit}", "{actor_name: bob}"),
        "other_service": rule("other_service", "{product: myapp, service: admin}", "{op: export}"),
    })
    assert found == {
        "native_column": {"a1"},
        "deeper_than_columns": {"a1"},
        "inside_an_array": {"a1"},
        "keyword": {"a1"},
        "canonical_column": {"a2"},
        "other_service": set(),  # another mapping's source, not in this lake
    }
    warnings = [line for line in stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "other_service.yml" in warnings[0], stderr
    assert "names the source myapp.admin" in warnings[0]


def test_a_mapped_source_is_not_invented_for_logsources_the_lake_knows_or_refuses() -> None:
    assert [alt.source for alt in route("myapp", None, "audit")] == ["myapp.audit"]
    assert [alt.source for alt in route("myapp", None, None)] == ["myapp"]
    assert route("myapp", "authentication", "audit") == ()  # a category picks events: none to pick
    assert route("aws", None, "guardduty") == ()  # a product of built-in sources
    assert route("azure", None, "signinlogs") == () and unsupported_reason("azure", None, "signinlogs")
    assert route("my app", None, None) == ()  # no source can have that name
    assert MAPPED_NAME.pattern == SAFE_NAME.pattern
