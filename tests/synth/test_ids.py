"""Native ids: well-formed, seeded, unique."""

from __future__ import annotations

import random
import uuid

from auditlake.synth.ids import IdPool, aws_key_id, doc_id, numeric_id, okta_id, uuid4


def test_uuids_are_version_4_and_reproducible() -> None:
    for make in (uuid4, lambda r: IdPool(r).uuid4()):
        value = make(random.Random(3))
        parsed = uuid.UUID(value)
        assert str(parsed) == value and parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert make(random.Random(3)) == value != make(random.Random(4))


def test_pool_ids_are_unique_across_refills() -> None:
    pool = IdPool(random.Random(9))
    ids = [pool.uuid4() for _ in range(50_000)] + [pool.hex(16) for _ in range(1000)]
    assert len(set(ids)) == len(ids)


def test_vendor_shapes() -> None:
    rng = random.Random(5)
    assert len(doc_id(rng)) == 22
    assert aws_key_id(rng, "AKIA").startswith("AKIA") and len(aws_key_id(rng, "ASIA")) == 20
    assert okta_id(rng).startswith("00u") and len(okta_id(rng)) == 20
    assert len(numeric_id(rng, 12)) == 12
