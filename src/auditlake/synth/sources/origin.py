"""Where a person connects from: the office egress address most of the time, home otherwise.

Shared by every source so that one person's Okta, AWS, GitHub and gateway activity comes from
the same few addresses, which is what makes "session from a new country" stand out.
"""

from __future__ import annotations

import random

from auditlake.synth.org import Person

OFFICE_SHARE = 0.55


def origin_ip(rng: random.Random, person: Person) -> str:
    """The public address `person` connects from for one session."""
    return person.office.egress_ip if rng.random() < OFFICE_SHARE else person.home_ip
