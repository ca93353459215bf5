"""1:1 FNMR of lane tracks against their own references, and the document threshold fit."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tests.lane.test_lane_pipeline import _degraded, _event, _pipeline, _templates

from bordermatch.errors import ConfigError
from bordermatch.lane.events import TruthOccupant
from bordermatch.lane.operating_points import document_operating_point, load_document_point
from bordermatch.lane.runner import load_event
from bordermatch.lane.verification import (
    VerificationData,
    compare_vehicle,
    daylight,
    fnmr_table,
    table_markdown,
)


def test_daylight_follows_the_local_hour_of_the_timestamp():
    assert daylight("2026-03-01T12:00:00+00:00") == "day"
    assert daylight("2026-03-01T23:30:00-05:00") == "night"
    assert daylight("2026-03-01T06:59:00") == "night"
    assert daylight("not a time") == "unknown"


def _observed(tmp_path, references):
    pipe = _pipeline(["RED", "BLUE", "GREEN"],
                     np.vstack([references, np.eye(8, dtype=np.float32)[:1]]))
    obs = pipe.observe(*load_event(_event(tmp_path), pipe))
    return pipe, obs


def test_mated_scores_by_row_and_camera_and_nonmated_without_the_vehicle(tmp_path):
    t = _degraded(_templates(), 0.85)
    pipe, obs = _observed(tmp_path, t)
    truth = (TruthOccupant("RED", "r1-left"), TruthOccupant("BLUE", "r2-right"),
             TruthOccupant(None, "r1-right"), TruthOccupant("NOT-ENROLLED", "r3-left"))
    data = compare_vehicle(pipe, obs, truth)
    assert [(m.seat, m.daylight) for m in data.mated] == [("r1-left", "night"),
                                                          ("r2-right", "night")]  # 00:00
    for m in data.mated:
        assert m.score == pytest.approx(0.85, abs=0.01)  # JPEG frames
        assert set(m.by_camera) == {"windshield", "side-left"}
    # Two tracks, each against GREEN only: RED and BLUE are in the vehicle.
    assert data.nonmated_scores().shape == (2,)
    table = fnmr_table(data, 0.86, 1e-3)
    assert table["overall"] == {"n": 2, "fnmr": 1.0, "no_capture": 0}
    assert fnmr_table(data, 0.8, 1e-3)["row"] == {
        "row1": {"n": 1, "fnmr": 0.0, "no_capture": 0},
        "row2": {"n": 1, "fnmr": 0.0, "no_capture": 0}}
    assert fnmr_table(data, 0.8, 1e-3)["camera"]["side-left"]["n"] == 2
    text = "\n".join(table_markdown(table))
    assert "| row row1 | 1 | 100.0% | 0 |" in text and "| camera windshield | 2 |" in text


def test_an_occupant_without_a_captured_track_is_a_miss(tmp_path):
    t = _templates()
    pipe, obs = _observed(tmp_path, t)
    obs.tracks.clear()
    data = compare_vehicle(pipe, obs, (TruthOccupant("RED", "r1-left"),))
    assert data.mated[0].score is None and data.nonmated == []
    assert fnmr_table(data, 0.0, 1e-3)["overall"] == {"n": 1, "fnmr": 1.0, "no_capture": 1}


def test_the_document_threshold_is_fitted_on_nonmated_comparisons(tmp_path):
    pipe, obs = _observed(tmp_path, _templates())
    data = VerificationData([], [np.linspace(0, 1, 1000, dtype=np.float32)])
    with pytest.raises(ConfigError):  # no mated comparisons
        document_operating_point(data, "fake", 1e-3, "test")
    data.extend(compare_vehicle(pipe, obs, (TruthOccupant("RED", "r1-left"),)))
    point = document_operating_point(data, "fake", 1e-2, "test")
    nonmated = data.nonmated_scores()
    assert point.rate == "FMR" and point.samples == nonmated.size
    assert np.mean(nonmated >= point.match) <= 1e-2 < np.mean(nonmated >= point.match - 1e-3)
    path = tmp_path / "doc.json"
    point.save(path)
    assert load_document_point("fake", path) == point
    json_point = json.loads(path.read_text())
    path.write_text(json.dumps({**json_point, "rate": "FPIR"}))
    with pytest.raises(ConfigError, match="not an FMR one"):
        load_document_point("fake", path)


def test_the_bundled_document_point_is_lane_fitted_and_only_for_its_fmr(tmp_path):
    from bordermatch.lane.operating_points import default_document_path, document_point_for
    from bordermatch.match.fusion import load_matcher

    bundled = load_document_point("sface", default_document_path("sface"))
    assert bundled.rate == "FMR" and bundled.target == 1e-3 and bundled.samples >= 100_000
    assert document_point_for("sface", 1e-3) == bundled
    # Stills calibration for any other FMR; an explicit file wins over both.
    assert document_point_for("sface", 1e-2).match == \
        load_matcher("sface").operating_point(1e-2).match
    path = tmp_path / "doc.json"
    from dataclasses import replace

    replace(bundled, match=2.5).save(path)
    assert document_point_for("sface", 1e-3, path).match == 2.5


def test_the_bundled_normalised_points_come_with_their_raw_fallback(tmp_path):
    from dataclasses import replace

    from bordermatch.lane.operating_points import default_document_path, document_points

    raw = load_document_point("sface", default_document_path("sface"))
    for norm in ("snorm", "tnorm"):
        point = load_document_point("sface", default_document_path("sface", norm))
        assert point.normalisation == norm and point.samples >= 100_000
        assert document_points("sface", 1e-3, norm=norm) == (point, raw)
    snorm = load_document_point("sface", default_document_path("sface", "snorm"))
    assert document_points("sface", 1e-3) == (snorm, raw)  # the default
    assert document_points("sface", 1e-3, norm=None) == (raw, None)
    # No normalised point at another FMR: the stills calibration alone.
    point, fallback = document_points("sface", 1e-2)
    assert point.normalisation is None and fallback is None
    # A calibrated file wins; a normalised one still brings the raw fallback.
    replace(snorm, match=2.5).save(tmp_path / "s.json")
    assert document_points("sface", 1e-3, tmp_path / "s.json") == (
        replace(snorm, match=2.5), raw)
    raw.save(tmp_path / "r.json")
    assert document_points("sface", 1e-3, tmp_path / "r.json") == (raw, None)
