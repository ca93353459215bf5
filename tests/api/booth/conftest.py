"""The booth tests' world: a service whose trust store holds a test CSCA, on a clock inside
the test documents' validity."""

from __future__ import annotations

import pytest
from tests.api.booth_helpers import BOOTH_NOW, Passports, new_passports


@pytest.fixture
def clock():
    from bordermatch.store.clock import ManualClock

    return ManualClock(BOOTH_NOW)


@pytest.fixture
def passports() -> Passports:
    return new_passports()


@pytest.fixture
def settings(settings, tmp_path, passports):
    return settings.model_copy(update={"trust_dir": passports.trust(tmp_path / "trust")})
