"""Property tests for the ISO/IEC 19795 metrics (Hypothesis) and their input checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bordermatch.errors import MetricError
from bordermatch.eval import metrics
from bordermatch.match.calibrate import threshold_for_rate

scores = st.lists(st.floats(-1, 1, allow_nan=False, width=32), min_size=1, max_size=60)
thresholds = st.floats(-1.5, 1.5, allow_nan=False)


@given(scores, thresholds)
def test_fmr_is_fraction_at_or_above_threshold(imp, t):
    assert metrics.fmr(imp, t) == sum(s >= t for s in imp) / len(imp)


@given(scores, thresholds)
def test_fnmr_is_fraction_below_threshold(gen, t):
    assert metrics.fnmr(gen, t) == sum(s < t for s in gen) / len(gen)


@given(scores, thresholds, thresholds)
def test_fmr_falls_and_fnmr_rises_with_threshold(s, t1, t2):
    lo, hi = min(t1, t2), max(t1, t2)
    assert metrics.fmr(s, hi) <= metrics.fmr(s, lo)
    assert metrics.fnmr(s, hi) >= metrics.fnmr(s, lo)


@given(scores, scores)
def test_det_curve_matches_pointwise_definitions(gen, imp):
    curve = metrics.det_curve(gen, imp)
    assert np.all(np.diff(curve.thresholds) > 0)
    assert np.all(np.diff(curve.fmr) <= 0) and np.all(np.diff(curve.fnmr) >= 0)
    assert curve.fmr[-1] == 0 and curve.fnmr[-1] == 1
    for i in range(0, curve.thresholds.size, 7):
        t = curve.thresholds[i]
        assert curve.fmr[i] == metrics.fmr(imp, t)
        assert curve.fnmr[i] == metrics.fnmr(gen, t)


@given(scores, scores)
def test_eer_lies_between_the_curves_and_in_bounds(gen, imp):
    e, t = metrics.eer(gen, imp)
    assert 0.0 <= e <= 1.0
    a, b = metrics.fmr(imp, t), metrics.fnmr(gen, t)
    assert min(a, b) <= e <= max(a, b)


def test_eer_of_separated_and_of_identical_scores():
    assert metrics.eer([0.9, 0.8], [0.1, 0.2])[0] == 0.0
    assert metrics.eer([0.5] * 4, [0.5] * 4)[0] == pytest.approx(0.5)


@given(scores, scores, st.floats(0.01, 1.0))
def test_tar_at_fmr_is_the_tar_at_the_calibrated_threshold(gen, imp, target):
    assume(target >= 1 / len(imp))
    tar = metrics.tar_at_fmr(gen, imp, target)
    t = threshold_for_rate(imp, target)
    assert metrics.fmr(imp, t) <= target * (1 + 1e-9)
    assert tar == pytest.approx(sum(g >= t for g in gen) / len(gen))
    # No lower observed impostor score also meets the target, so no threshold meeting it
    # accepts more genuine scores.
    lower = [s for s in imp if s < t]
    if lower and target * (1 + 1e-9) < 1.0:
        assert metrics.fmr(imp, max(lower)) > target * (1 + 1e-9)


def test_tar_at_fmr_on_known_scores():
    imp = np.arange(1000) / 1000.0  # FMR 1e-2 lets 10 impostors through: threshold 0.990
    gen = np.array([0.5, 0.989, 0.990, 0.995])
    assert metrics.tar_at_fmr(gen, imp, 1e-2) == 0.5
    with pytest.raises(MetricError, match="cannot calibrate"):
        metrics.tar_at_fmr(gen, imp, 1e-4)


@given(scores, scores)
def test_best_accuracy_threshold_is_optimal(gen, imp):
    t = metrics.best_accuracy_threshold(gen, imp)
    best = metrics.accuracy(gen, imp, t)
    for cand in [*gen, *imp, math.inf]:
        assert metrics.accuracy(gen, imp, cand) <= best + 1e-12


@given(scores, thresholds)
def test_fpir_is_the_fraction_of_top_scores_at_or_above_threshold(top, t):
    assert metrics.fpir(top, t) == sum(s >= t for s in top) / len(top)


def test_fpir_counts_searches_not_comparisons():
    # Three non-mated searches; only the best candidate of each counts, ties match.
    assert metrics.fpir([0.2, 0.7, 0.5], 0.5) == pytest.approx(2 / 3)
    assert metrics.fpir([0.2, 0.7, 0.5], 0.71) == 0.0


@given(st.lists(st.integers(1, 20), min_size=1, max_size=50), st.integers(1, 25))
def test_cmc_is_monotone_and_reaches_one(ranks, max_rank):
    curve = metrics.cmc(ranks, max_rank)
    assert curve.shape == (max_rank,)
    assert np.all(np.diff(curve) >= 0)
    assert curve[0] == sum(r == 1 for r in ranks) / len(ranks)
    if max_rank >= max(ranks):
        assert curve[-1] == 1.0


@given(st.lists(st.tuples(st.floats(-1, 1, allow_nan=False), st.integers(1, 5)), min_size=1,
                max_size=40), thresholds)
def test_fnir_counts_misses_by_rank_and_threshold(rows, t):
    s = [r[0] for r in rows]
    ranks = [r[1] for r in rows]
    misses = sum(not (r == 1 and x >= t) for x, r in rows)
    assert metrics.fnir(s, ranks, t) == pytest.approx(misses / len(rows))
    assert metrics.fnir(s, ranks, t, max_rank=5) <= metrics.fnir(s, ranks, t)


@settings(max_examples=20)
@given(scores)
def test_roc_points_are_one_minus_fnmr(s):
    fmr_, tar, thr = metrics.roc_points(s, s)
    assert np.allclose(tar, 1 - metrics.det_curve(s, s).fnmr)
    assert fmr_.shape == tar.shape == thr.shape


@pytest.mark.parametrize("bad", [[], [0.1, float("nan")], [float("inf")], [[0.1, 0.2]], "ab"])
def test_bad_scores_raise_metric_error(bad):
    with pytest.raises(MetricError):
        metrics.fmr(bad, 0.5)
    with pytest.raises(MetricError):
        metrics.det_curve([0.5], bad)


def test_rank_inputs_are_checked():
    with pytest.raises(MetricError):
        metrics.fnir([0.1, 0.2], [1], 0.0)  # length mismatch
    with pytest.raises(MetricError):
        metrics.cmc([0, 1], 3)  # ranks are 1-based
    with pytest.raises(MetricError):
        metrics.cmc([1.5], 3)
    with pytest.raises(MetricError):
        metrics.cmc([1], 0)
