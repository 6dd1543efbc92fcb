"""What an attack scenario is and what it returns: steps with their native records.

A scenario is one small function in the `SCENARIOS` table. It receives a `Ctx` seeded for that
scenario, the instant it starts and the end of the generated period, and returns an `Outcome`:
its steps (each with an ATT&CK technique, a lake source and native records), any lasting
effect on the background (a deprovisioned user stops working), and the records it needs in the
logs that are no part of the attack (IT deactivating that user).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from auditlake.synth.activity import Ctx


@dataclass(frozen=True, slots=True)
class Step:
    """One step of an attack: the records it leaves in one source, all at or after `records[0]`.

    `records` are `(ts_us, native record)` pairs, not yet encoded: sources that number their
    records (Windows `EventRecordID`, auditd serials) do so when the record is written.
    """

    name: str
    technique: str
    source: str
    actor: str
    records: tuple[tuple[int, Any], ...]


@dataclass(frozen=True, slots=True)
class Outcome:
    """A scenario's steps, in order, the logins it deprovisions (login, instant), and `setup`:
    `(source, ts_us, record)` written with the steps but left out of the ground truth, so the
    scenario's true start is the attacker's first action, not an administrator's."""

    steps: tuple[Step, ...]
    leavers: tuple[tuple[str, int], ...] = field(default=())
    setup: tuple[tuple[str, int, Any], ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Scenario:
    """A table row: stable key, human name, how long it may take, and its builder."""

    key: str
    name: str
    span_h: float
    build: Callable[[Ctx, int, int], Outcome]
