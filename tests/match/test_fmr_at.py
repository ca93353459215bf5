"""The false match rate a calibrated score corresponds to, as the review page states it."""

from __future__ import annotations

import math

import pytest

from bordermatch.errors import ConfigError
from bordermatch.match.fusion import Matcher, load_matcher, matcher_from_spec


def _matcher(table: dict[str, float]) -> Matcher:
    return matcher_from_spec("m", {"primary": {"weights": {"m": 10.0}, "bias": 0.0},
                                   "thresholds": table})


def test_between_calibrated_points_it_interpolates_log_linearly():
    m = _matcher({"1e-3": 1.0, "1e-4": 3.0, "1e-5": 5.0})
    at = m.fmr_at(2.0)  # half-way between 1e-3 and 1e-4 on the log scale
    assert at.relation == "~" and at.lower == 1e-4 and at.upper == 1e-3
    assert math.isclose(at.fmr, 10 ** -3.5, rel_tol=1e-9)
    assert math.isclose(m.fmr_at(3.0).fmr, 1e-4, rel_tol=1e-9)  # a threshold is its rate
    assert math.isclose(m.fmr_at(1.0).fmr, 1e-3, rel_tol=1e-9)


def test_outside_the_table_nothing_is_claimed_beyond_its_ends():
    m = _matcher({"1e-3": 1.0, "1e-4": 3.0, "1e-5": 5.0})
    above = m.fmr_at(15.1)
    assert (above.relation, above.fmr) == ("<=", 1e-5)
    assert m.fmr_at(5.0).relation == "<="  # at the strictest threshold: at most its rate
    below = m.fmr_at(0.5)
    assert (below.relation, below.fmr) == (">", 1e-3)


def test_the_bundled_calibration_agrees_with_its_own_thresholds():
    m = load_matcher("sface")
    for fmr, threshold in m.thresholds:
        at = m.fmr_at(threshold)
        assert at.fmr == pytest.approx(fmr, rel=1e-9) or at.relation == "<="
    scores = [-5.0, 0.0, 1.0, 2.0, 3.0, 4.0, 10.0]
    rates = [m.fmr_at(s).fmr for s in scores]
    assert rates == sorted(rates, reverse=True)  # a higher score never means a higher FMR


def test_an_uncalibrated_matcher_refuses():
    with pytest.raises(ConfigError):
        _matcher({}).fmr_at(1.0)
