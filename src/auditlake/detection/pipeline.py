"""The `auditlake` processing pipeline: what pySigma does to a rule before the backend sees it.

It marks the conversion as lake-routed (the backend then restricts each rule to the lake
sources its logsource lives in, with per-source field names; see `logsources.py`) and resolves
`|expand` placeholders from configured values. A placeholder nobody configured stays in the
rule and the backend rejects that rule, naming the placeholder: a rule never silently matches
nothing because `%Admins%` was left empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations.placeholder import ValueListPlaceholderTransformation
from sigma.processing.transformations.state import SetStateTransformation

ROUTING_STATE_KEY = "auditlake_routing"


def auditlake_pipeline(placeholders: Mapping[str, Sequence[str]] | None = None) -> ProcessingPipeline:
    """The pipeline, with `placeholders` (name → values) for `|expand` rules."""
    values = {name: list(v) for name, v in (placeholders or {}).items()}
    items = [
        ProcessingItem(
            identifier="auditlake_routing",
            transformation=SetStateTransformation(ROUTING_STATE_KEY, True),
        )
    ]
    if values:
        items.append(
            ProcessingItem(
                identifier="auditlake_placeholders",
                transformation=ValueListPlaceholderTransformation(include=sorted(values)),
            )
        )
    return ProcessingPipeline(
        name="auditlake lake routing and placeholders",
        priority=20,
        items=items,
        vars=values,
        allowed_backends=frozenset({"polars"}),
    )
