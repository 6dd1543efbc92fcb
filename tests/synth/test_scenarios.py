"""The scenario table: unique keys, and every scenario fits its window for many seeds."""

from __future__ import annotations

from datetime import date

import pytest

from auditlake.synth import build_org
from auditlake.synth.clock import DAY_US, day_start_us
from auditlake.synth.registry import GENERATORS
from auditlake.synth.scenarios import SCENARIOS, Scenario, schedule, unique_table

REQUIRED = {"okta_spray_mfa_fatigue", "aws_iam_privilege_escalation", "aws_cloudtrail_tampering", "k8s_exec_secrets",
            "github_mass_clone", "gateway_bulk_export", "windows_lsass_dump", "deprovisioned_user_login"}


def test_table_has_the_required_scenarios_once() -> None:
    keys = [s.key for s in SCENARIOS]
    assert set(keys) >= REQUIRED and len(keys) == len(set(keys))
    with pytest.raises(ValueError, match="listed twice"):
        unique_table([SCENARIOS[0], SCENARIOS[0]])


@pytest.mark.parametrize(("seed", "days"), [(1, 1), (2, 2), (7, 7), (99, 3)])
def test_every_step_has_records_inside_the_period(seed: int, days: int) -> None:
    begin = day_start_us(date(2026, 3, 2))
    end = begin + days * DAY_US
    runs = schedule(build_org(seed), seed, begin, end)
    assert [r.scenario.key for r in runs] == [s.key for s in SCENARIOS]
    for run in runs:
        assert run.outcome.steps, run.scenario_id
        for step in run.outcome.steps:
            assert step.records and step.source in GENERATORS and step.technique and step.name and step.actor
            assert all(begin <= ts < end for ts, _ in step.records), (run.scenario_id, step.name)


def test_schedule_is_deterministic_and_seed_dependent() -> None:
    begin = day_start_us(date(2026, 3, 2))
    starts = {seed: [r.start_us for r in schedule(build_org(seed), seed, begin, begin + 7 * DAY_US)] for seed in (1, 1, 2)}
    assert starts[1] == [r.start_us for r in schedule(build_org(1), 1, begin, begin + 7 * DAY_US)]
    assert starts[1] != starts[2]


def test_deprovisioned_user_is_a_leaver_from_the_deactivation() -> None:
    begin = day_start_us(date(2026, 3, 2))
    run = next(r for r in schedule(build_org(7), 7, begin, begin + 7 * DAY_US) if r.scenario.key == "deprovisioned_user_login")
    (login, gone), = run.outcome.leavers
    (source, deactivated, _), = run.outcome.setup
    assert (source, gone) == ("okta.system", deactivated) and gone < run.outcome.steps[0].records[0][0]
    assert isinstance(SCENARIOS[0], Scenario) and login
