"""One small generation shared by the synth tests (generation is deterministic, so sharing is safe)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from auditlake.synth import SynthSummary, generate

SMALL = {"seed": 7, "start": date(2026, 3, 2), "days": 3, "scale": 0.05}


@pytest.fixture(scope="session")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthSummary]:
    """Three weekdays at 5 % volume, every source and every scenario."""
    out = tmp_path_factory.mktemp("synth-small")
    return out, generate(out, **SMALL)
