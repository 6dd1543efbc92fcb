"""What a synthetic source provides to the generator: a table row per lake source.

A row says how the source's background is planned hour by hour, how its records become bytes
(an encoder made once per run, so counters such as Windows `EventRecordID` or auditd serials
keep increasing from one day's file to the next), and how to read a record's native event id
for the ground truth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from auditlake.synth.activity import Ctx, Plan
from auditlake.synth.org import Org

Encoder = Callable[[Any], bytes]


@dataclass(frozen=True, slots=True)
class SourceGen:
    """One synthetic source. `disorder` is the share of adjacent records delivered swapped;
    `time_unit_us` is the resolution of the native timestamp (CloudTrail writes whole seconds),
    to which ground-truth times are truncated as the records' are."""

    name: str
    file_format: str
    plan_hour: Callable[[Ctx, int], Iterable[Plan]]
    encoder: Callable[[Org], Encoder]
    native_id: Callable[[Any], str]
    disorder: float = 0.0
    time_unit_us: int = 1


def json_line(record: Any) -> bytes:
    """A record as one JSON Lines line."""
    return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)


def json_line_encoder(org: Org) -> Encoder:
    """Stateless JSON Lines encoding, for sources whose ids are all in the record already."""
    del org
    return json_line


def json_bare_encoder(org: Org) -> Encoder:
    """A record as bare JSON, for containers that add their own separators (CloudTrail)."""
    del org
    return orjson.dumps


def frozen(value: Any) -> orjson.Fragment:
    """`value` serialized once, spliced verbatim into every record that shares it.

    Sessions share big sub-objects (an Okta client, a CloudTrail `userIdentity`); serializing
    them once per session instead of once per record makes encoding several times cheaper.
    The bytes are exactly what `orjson.dumps` would write in place.
    """
    return orjson.Fragment(orjson.dumps(value))


def field_id(*path: str) -> Callable[[Any], str]:
    """Native id reader for a (nested) field of a JSON record."""

    def read(record: Any) -> str:
        value = record
        for key in path:
            value = value[key]
        return str(value)

    return read
