"""threshold_for_rate: the smallest threshold meeting a target FMR or FPIR, ties matching."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bordermatch.errors import MetricError
from bordermatch.eval.metrics import fmr, fpir
from bordermatch.match.calibrate import threshold_for_rate

impostors = st.lists(st.floats(-1, 1, allow_nan=False, width=32), min_size=1, max_size=200)


@given(impostors, st.floats(1e-3, 1.0))
def test_threshold_meets_target_and_is_smallest(imp, target):
    assume(target >= 1 / len(imp))
    t = threshold_for_rate(imp, target)
    tolerated = target * (1 + 1e-9)  # the documented reading of the target
    assert fmr(imp, t) <= tolerated
    # Any threshold at or below the next lower observed score would exceed the target
    # (unless every impostor is allowed to match).
    below = [s for s in imp if s < t]
    if below and tolerated < 1.0:
        assert fmr(imp, max(below)) > tolerated


def test_ties_are_accepted_or_rejected_together():
    imp = [0.1] * 5 + [0.9] * 5  # half of the impostors tie at 0.9
    t = threshold_for_rate(imp, 0.3)
    assert t > 0.9  # accepting the tie would give FMR 0.5
    assert fmr(imp, t) == 0.0
    assert fmr(imp, 0.9) == 0.5  # a score at the threshold matches


def test_exact_counts():
    imp = np.arange(1000) / 1000.0
    t = threshold_for_rate(imp, 1e-2)  # 10 impostors may match: 0.990 .. 0.999
    assert fmr(imp, t) == 0.01
    assert 0.989 < t <= 0.990


@pytest.mark.parametrize("target", [0.0, -0.1, 1.5, float("nan")])
def test_target_outside_unit_interval(target):
    with pytest.raises(MetricError):
        threshold_for_rate([0.1, 0.2], target)


def test_target_below_one_over_n_is_refused():
    with pytest.raises(MetricError, match="cannot calibrate"):
        threshold_for_rate(np.zeros(999), 1e-3)
    threshold_for_rate(np.zeros(1000), 1e-3)  # exactly 1/n is fine


@pytest.mark.parametrize("bad", [[], [float("nan")], [[0.1]]])
def test_bad_impostors(bad):
    with pytest.raises(MetricError):
        threshold_for_rate(bad, 0.5)


@given(st.lists(st.floats(-1, 1), min_size=20, max_size=300),
       st.sampled_from([0.05, 0.1, 0.2, 0.5]))
def test_the_same_threshold_serves_a_target_fpir(top_scores, target):
    s = np.array(top_scores)
    t = threshold_for_rate(s, target)
    assert fpir(s, t) <= target * (1 + 1e-9)
    lower = s[s < t]
    if lower.size:
        assert fpir(s, lower.max()) > target * (1 + 1e-9)
