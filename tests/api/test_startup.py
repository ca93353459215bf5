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


def test_a_missing_or_wrong_lane_operating_point_fails_create_app(tmp_path):
    """No silent fallback to uncalibrated 1:N thresholds (issue 8)."""
    from bordermatch.api.app import create_app
    from bordermatch.match.decide import OperatingPoint

    with pytest.raises(ConfigError, match="no open-set operating point"):
        create_app(_settings(tmp_path, search_operating_point=tmp_path / "missing.json"))
    one_to_one = tmp_path / "fmr.json"
    OperatingPoint("sface", "FMR", 1e-4, 2.0).save(one_to_one)
    with pytest.raises(ConfigError, match="not an FPIR one"):
        create_app(_settings(tmp_path, search_operating_point=one_to_one))


def test_vehicle_lanes_get_the_snorm_document_point_with_its_raw_fallback(tmp_path):
    from bordermatch.service.thresholds import build_thresholds

    th = build_thresholds(_settings(tmp_path))
    assert th.document.normalisation == "snorm" and th.document.target == 1e-3
    assert th.document_fallback is not None and th.document_fallback.normalisation is None
    # At an FMR no lane calibration exists for: the stills point, raw, alone.
    other = build_thresholds(_settings(tmp_path, document_fmr=1e-2))
    assert other.document.normalisation is None and other.document_fallback is None
