"""Which injected attack scenarios the alerts caught: ground truth against alert evidence.

The synthetic organisation's ground truth lists, per scenario step, the `event_uid`s of the
events that make it up. A step is caught when some alert's evidence contains one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl


@dataclass(frozen=True)
class ScenarioCatch:
    """One scenario: how many of its steps some alert caught, and by which rules."""

    scenario_id: str
    name: str
    steps: int
    caught_steps: int
    rules: tuple[str, ...]

    @property
    def caught(self) -> bool:
        return self.caught_steps > 0


def scenario_coverage(ground_truth: Path, alerts: pl.DataFrame) -> list[ScenarioCatch]:
    """Per scenario (in ground-truth order), the steps caught and the titles of the rules."""
    truth = pl.read_ndjson(ground_truth)
    evidence = (
        alerts.select("rule_title", "event_uids").explode("event_uids").rename({"event_uids": "event_uid"})
        if not alerts.is_empty() else pl.DataFrame(schema={"rule_title": pl.String, "event_uid": pl.String})
    )
    steps = truth.select("scenario_id", "scenario_name", "step", pl.col("event_ids").alias("event_uid"))
    hits = steps.explode("event_uid").join(evidence, on="event_uid", how="inner")
    out: list[ScenarioCatch] = []
    for (scenario_id, name), group in truth.group_by(["scenario_id", "scenario_name"], maintain_order=True):
        mine = hits.filter(pl.col("scenario_id") == scenario_id)
        out.append(ScenarioCatch(
            scenario_id=str(scenario_id),
            name=str(name),
            steps=group.height,
            caught_steps=mine["step"].n_unique(),
            rules=tuple(sorted(set(mine["rule_title"].to_list()))),
        ))
    return out
