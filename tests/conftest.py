"""Shared test fixtures: where the public test data lives, and tiny event tables."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The public test data beside the checkout (`../shared/data`)."""
    if not SHARED_DATA.is_dir():
        raise RuntimeError(f"test data not found at {SHARED_DATA}; it must sit beside the repository")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _private_rule_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Compiled-rule caches go to a temporary folder, never the user's own cache."""
    monkeypatch.setenv("AUDITLAKE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "auditlake-cache"))
