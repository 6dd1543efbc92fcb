"""Restrict a rule to the lake sources its logsource lives in, in each source's field names."""

from __future__ import annotations

from collections.abc import Sequence

from auditlake.detection import ir
from auditlake.detection.logsources import Alternative, effective_field_map


def routed_condition(
    condition: ir.Node, routes: Sequence[Alternative], source: str | None = None
) -> ir.Node:
    """OR over the routes of (source, route conditions, condition in the route's field names).

    Routes of one source whose field names leave the condition the same (Sysmon's and the
    Security log's process creations, for a rule on `CommandLine`) share one copy of it, their
    own conditions ORed: evaluated once per row instead of once per route.
    """
    shared: dict[tuple[str, ir.Node], list[ir.Node]] = {}
    for alt in routes:
        if source is not None and alt.source != source:
            continue
        renamed = ir.rename_fields(condition, effective_field_map(alt))
        own = ir.all_of([_condition_leaf(column, values) for column, values in alt.conditions])
        shared.setdefault((alt.source, renamed), []).append(own)
    return ir.any_of([
        ir.all_of([ir.Leaf("source", "eq", (name,), cased=True), ir.any_of(owns), renamed])
        for (name, renamed), owns in shared.items()
    ])


def _condition_leaf(column: str, values: Sequence[str | int]) -> ir.Node:
    numbers = tuple(v for v in values if isinstance(v, int))
    texts = tuple(str(v).lower() for v in values if not isinstance(v, int))
    leaves: list[ir.Node] = []
    if numbers:
        leaves.append(ir.Leaf(column, "num", numbers))
    if texts:
        leaves.append(ir.Leaf(column, "eq", texts))
    return ir.any_of(leaves)
