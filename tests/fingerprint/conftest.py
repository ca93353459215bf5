"""Fixtures for the fingerprint tests: the shared fingerprint data and the NBIS backend.

Tests that need either skip cleanly when it is absent (``../shared/data`` or nbis-py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def fp_data(shared_data: Path) -> Path:
    path = shared_data / "fingerprints"
    if not (path / "upek" / "1_1.png").is_file():
        pytest.skip(f"fingerprint data not found under {path}")
    return path


@pytest.fixture(scope="session")
def nbis_backend():
    try:
        return pytest.importorskip("nbis")
    except OSError as exc:  # a wheel whose libraries do not load here
        pytest.skip(f"nbis does not load: {exc}")
