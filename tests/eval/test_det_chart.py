"""The reports page's DET: measured points of the bundled calibration, operating points on them."""

from __future__ import annotations

import pytest

from bordermatch.eval import det_chart
from bordermatch.match.decide import OperatingPoint
from bordermatch.match.fusion import load_calibration, load_matcher


def test_det_points_are_the_calibrated_fmrs_and_their_view2_misses():
    meaning = load_calibration()["matchers"]["sface"]["meaning"]
    points = det_chart.det_points("sface")
    assert [p.fmr for p in points] == [1e-5, 1e-4, 1e-3]
    for p in points:
        m = meaning[f"{p.fmr:g}"]
        assert p.fnmr == pytest.approx(1 - m["tar_view2_genuine"])
        assert p.threshold == m["threshold"]
    # A DET falls as the FMR rises.
    assert points[0].fnmr > points[1].fnmr > points[2].fnmr


def test_operating_points_sit_on_the_calibrated_point_of_their_threshold():
    cascade = load_matcher("cascade")
    verify = cascade.operating_point(3e-4)  # no calibrated 3e-4: the 1e-4 threshold is used
    off_curve = OperatingPoint("sface", "FMR", 1e-3, 1.0)  # a threshold nobody calibrated
    search = OperatingPoint("sface", "FPIR", 1e-3, 5.0)
    marks = det_chart.mark({"verify": verify, "custom": off_curve, "search": search})
    assert [m.name for m in marks] == ["verify", "custom"]  # FPIR is not on this chart
    v = marks[0]
    expected = next(p for p in det_chart.det_points("cascade") if p.fmr == 1e-4)
    assert (v.target, v.fmr, v.fnmr) == (3e-4, 1e-4, expected.fnmr)
    assert marks[1].fnmr is None


def test_det_png_is_a_png():
    point = load_matcher("sface").operating_point(1e-4)
    png = det_chart.det_png("sface", det_chart.mark({"verify": point}), ("dlib",))
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
