"""SigmaHQ regression conformance: each case's events, ingested through the Windows source,
fire its rule at least `match_count` times (at least once where no count is given).

Both spellings of every case are checked: the `.evtx` file and its evtx_dump-style `.json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from tests.conftest import SHARED_DATA

from auditlake.detection.compile import CompiledRule, compile_rules
from auditlake.detection.evaluate import evaluate, explain
from auditlake.ingest import ingest
from auditlake.lake.paths import LakePaths
from auditlake.lake.scan import scan_events

SIGMAHQ = SHARED_DATA / "sigmahq"
WINDOWS = "windows.eventlog"


@dataclass(frozen=True)
class Case:
    name: str
    rule_id: str
    events: Path
    match_count: int


def _cases() -> list[Case]:
    cases: list[Case] = []
    for info in sorted(SIGMAHQ.glob("regression_data/**/info.yml")):
        meta = yaml.safe_load(info.read_text(encoding="utf-8"))
        rule_id = meta["rule_metadata"][0]["id"]
        for test in meta.get("regression_tests_info") or []:
            evtx = SIGMAHQ / test["path"]
            for events in (evtx, evtx.with_suffix(".json")):
                name = f"{info.parent.name}{events.suffix}"
                cases.append(Case(name, rule_id, events, int(test.get("match_count", 1))))
    return cases


CASES = _cases()


def _rule_paths() -> dict[str, Path]:
    wanted = {case.rule_id for case in CASES}
    found: dict[str, Path] = {}
    for folder in ("rules", "rules-emerging-threats", "rules-threat-hunting"):
        for path in (SIGMAHQ / folder).rglob("*.yml"):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.startswith("id:"):
                    rule_id = line.split(":", 1)[1].strip()
                    if rule_id in wanted:
                        found[rule_id] = path
                    break
    return found


@pytest.fixture(scope="module")
def regression_rules() -> dict[str, CompiledRule]:
    ruleset = compile_rules(sorted(_rule_paths().values()))
    assert ruleset.failures == ()
    return dict(ruleset.by_id)


def test_the_corpus_has_every_case() -> None:
    """202 cases, each with an .evtx and a .json spelling (the README's counts)."""
    assert len(CASES) == 2 * 202
    assert all(case.events.is_file() for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_fires_its_rule(case: Case, regression_rules: dict[str, CompiledRule], tmp_path: Path) -> None:
    rule = regression_rules[case.rule_id]
    lake = LakePaths.at(tmp_path / "lake")
    summary = ingest([case.events], lake, source=WINDOWS, workers=1)
    assert not summary.quarantined
    frame = scan_events(lake)
    matches = evaluate([rule], frame, source=WINDOWS).collect().height
    if matches < case.match_count:
        details = [e.describe() for e in explain(rule, frame.collect(), source=WINDOWS)]
        pytest.fail(f"{rule.title}: {matches} < {case.match_count} matches; " + "; ".join(details))
