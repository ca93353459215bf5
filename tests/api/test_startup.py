"""A mis-calibrated operating point stops the service at start-up, not at first use."""

from __future__ import annotations

import base64

import pytest

from bordermatch.errors import ConfigError


def _settings(tmp_path, **kw):
    from bordermatch.store.config import ServiceSettings

    key = base64.b64encode(b"k" * 32).decode()
    return ServiceSettings(database_url=f"sqlite:///{tmp_path}/s.db", blob_dir=tmp_path / "b",
                           blob_keys=f"k1:{key}", run_purge_scheduler=False, **kw)


def test_uncalibrated_target_fmr_fails_create_app(tmp_path):
    from bordermatch.api.app import create_app

    with pytest.raises(ConfigError):
        create_app(_settings(tmp_path, target_fmr=1e-9))


def test_calibrated_default_starts(tmp_path):
    from bordermatch.api.app import create_app

    assert create_app(_settings(tmp_path)).title == "bordermatch"
