"""Injected attack scenarios: the table, and when each one happens in a generated period.

Each row is one small builder (see `model.Scenario`); start times are drawn from the seed and the
scenario's key, so adding a scenario never moves the others.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from auditlake import tables
from auditlake.synth.activity import Ctx
from auditlake.synth.clock import HOUR_US
from auditlake.synth.org import Org
from auditlake.synth.scenarios import cloud, data, hosts, identity
from auditlake.synth.scenarios.model import Outcome, Scenario, Step
from auditlake.synth.truth import Run

__all__ = ["SCENARIOS", "Outcome", "Scenario", "Step", "schedule"]


def unique_table(rows: Iterable[Scenario]) -> tuple[Scenario, ...]:
    """The rows in order, refusing a repeated key instead of letting the last one win."""
    return tuple(tables.unique_table(((row.key, row) for row in rows), what="scenario").values())


SCENARIOS: tuple[Scenario, ...] = unique_table([
    Scenario("okta_spray_mfa_fatigue", "Password spray, MFA fatigue, session from a new country", 3, identity.spray_mfa_fatigue),
    Scenario("aws_iam_privilege_escalation", "AWS IAM privilege escalation with a leaked access key", 2, cloud.iam_privesc),
    Scenario("aws_cloudtrail_tampering", "CloudTrail StopLogging and DeleteTrail", 1, cloud.cloudtrail_tamper),
    Scenario("k8s_exec_secrets", "kubectl exec into a pod, then secrets read", 1, data.k8s_exec_secrets),
    Scenario("github_mass_clone", "Mass repository clone", 1, data.github_mass_clone),
    Scenario("gateway_bulk_export", "Bulk database export through the gateway", 1, data.gateway_bulk_export),
    Scenario("windows_lsass_dump", "LSASS memory access by a credential dumper", 1, hosts.lsass_dump),
    Scenario("deprovisioned_user_login", "Login by a deprovisioned user", 10, identity.deprovisioned_login),
    Scenario("windows_log_cleared", "Windows Security log cleared", 1, hosts.windows_log_cleared),
    Scenario("linux_audit_rules_deleted", "Linux audit rules deleted with sudo auditctl -D", 1, hosts.audit_rules_deleted),
    Scenario("gcp_sa_key_persistence", "GCP service-account key and project owner for an outsider", 1, cloud.gcp_sa_key_persistence),
])


def schedule(org: Org, seed: int, start_us: int, end_us: int, scenarios: Iterable[Scenario] = SCENARIOS) -> list[Run]:
    """Every scenario built at a seed-chosen start inside [start_us, end_us)."""
    runs = []
    for number, scenario in enumerate(scenarios, start=1):
        rng = random.Random(f"scenario:{seed}:{scenario.key}")
        earliest = start_us + HOUR_US
        latest = end_us - HOUR_US - int(scenario.span_h * HOUR_US)
        begin = earliest + int(rng.random() * max(0, latest - earliest))
        outcome = scenario.build(Ctx(org, rng), begin, end_us)
        runs.append(Run(f"S{number:02d}-{scenario.key}", scenario, begin, outcome))
    return runs
