"""Fusion fitting, the cascade band and the calibration JSON round trip."""

from __future__ import annotations

import numpy as np
import pytest

from bordermatch.errors import MetricError
from bordermatch.eval.fit import (
    apply,
    fit_band,
    fit_logistic,
    fit_matchers,
    matcher_spec,
    score_pairs,
)
from bordermatch.match.fusion import matcher_from_spec


def synthetic(n: int = 2000, seed: int = 0):
    """Two noisy views of one latent genuine/impostor signal."""
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(n // 2), np.zeros(n // 2)]
    latent = np.where(y == 1, 0.6, 0.1)
    raw = {"sface": latent + rng.normal(0, 0.12, n), "dlib": latent + rng.normal(0, 0.15, n)}
    return raw, y


def test_logistic_recovers_known_model():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, 20000)
    y = (rng.random(x.size) < 1 / (1 + np.exp(-(0.5 + 2.0 * x)))).astype(float)
    fit = fit_logistic({"m": x}, y)
    assert fit.bias == pytest.approx(0.5, abs=0.1)
    assert dict(fit.weights)["m"] == pytest.approx(2.0, abs=0.15)


def test_logistic_survives_separable_data():
    fit = fit_logistic({"m": np.array([0.0, 0.1, 0.8, 0.9])}, np.array([0, 0, 1, 1]))
    assert np.isfinite(fit.bias) and dict(fit.weights)["m"] > 0


@pytest.mark.parametrize("labels", [[1, 1, 1], [0, 2, 1], [0, 1]])
def test_logistic_rejects_bad_labels(labels):
    with pytest.raises(MetricError):
        fit_logistic({"m": [0.1, 0.2, 0.3]}, labels)


def test_fusion_beats_each_recognizer_on_independent_noise():
    raw, y = synthetic()
    test_raw, ty = synthetic(seed=7)
    fitted = fit_matchers(raw, y)
    errors = {}
    for name, m in fitted.as_dict().items():
        s, _ = score_pairs(m, test_raw)
        errors[name] = np.mean((s >= 0) != (ty == 1))
    assert errors["fusion"] < errors["sface"] and errors["fusion"] < errors["dlib"]
    assert errors["cascade"] <= errors["fusion"] + 0.005


def test_band_covers_every_disagreement_and_threshold():
    raw, y = synthetic()
    fitted = fit_matchers(raw, y, band_thresholds=(0.0, 2.0), margin=0.0)
    p = apply(fitted.cascade.primary, raw)
    f = apply(fitted.cascade.fused, raw)
    lo, hi = fitted.cascade.band
    assert lo <= 0.0 and hi >= 2.0
    for t in (0.0, 2.0):
        differ = (p >= t) != (f >= t)
        assert np.all((p[differ] >= lo) & (p[differ] <= hi))
    s, need = score_pairs(fitted.cascade, raw)
    assert 0 < need.mean() < 1
    for t in (0.0, 2.0):  # on training data the cascade decides exactly like the fusion
        assert np.array_equal(s >= t, f >= t)


def test_band_inputs_checked():
    with pytest.raises(MetricError):
        fit_band([0.1], [0.1, 0.2], [0.0], 1.0)
    with pytest.raises(MetricError):
        fit_band([0.1], [0.1], [], 1.0)


def test_spec_round_trips_through_matcher_from_spec():
    raw, y = synthetic()
    cas = fit_matchers(raw, y).cascade
    from bordermatch.match.fusion import Matcher

    cas = Matcher(cas.name, cas.primary, cas.fused, cas.band, ((1e-4, 3.5), (1e-3, 1.5)))
    back = matcher_from_spec("cascade", matcher_spec(cas))
    assert back.band == pytest.approx(cas.band)
    assert back.threshold(1e-3) == 1.5 and back.threshold(1e-4) == 3.5
    pair = {"sface": 0.35, "dlib": 0.3}
    assert back.score(pair) == pytest.approx(cas.score(pair))
