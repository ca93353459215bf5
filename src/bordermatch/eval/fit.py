"""Fit the calibrated score scale, the SFace+dlib fusion and the cascade band.

Everything here is fitted on training data only (with the LFW protocol, the nine training
folds of each split) and produces the objects of :mod:`bordermatch.match.fusion`:

- per-recognizer calibration and fusion: logistic regression of "genuine" on the raw
  cosine scores, so the output is the log-odds of a genuine pair (at the training prior);
- the cascade band: the interval of the primary recognizer's calibrated score outside
  which adding the second recognizer never changed a decision on the training pairs, at
  any of the operating thresholds of interest, widened by a safety margin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bordermatch.errors import MetricError
from bordermatch.match.calibrate import as_scores
from bordermatch.match.fusion import LogisticScore, Matcher

# A tiny ridge keeps Newton's method finite when the training classes separate perfectly
# (they nearly do for fused scores); it moves the weights by well under 1%.
RIDGE = 1e-4


def fit_logistic(features: Mapping[str, ArrayLike], labels: ArrayLike,
                 iterations: int = 50) -> LogisticScore:
    """Logistic regression ``P(genuine) = sigmoid(bias + sum w_m x_m)`` by Newton's method.

    ``features`` maps model name -> raw scores (one per pair); ``labels`` is 1 for genuine
    pairs and 0 for impostors. Both classes must be present.
    """
    names = list(features)
    if not names:
        raise MetricError("no features to fit")
    cols = [as_scores(features[m], f"{m} scores") for m in names]
    y = as_scores(labels, "labels")
    if any(c.size != y.size for c in cols):
        raise MetricError("every feature needs one score per label")
    if not np.all((y == 0) | (y == 1)) or y.min() == y.max():
        raise MetricError("labels must be 0/1 with both classes present")
    x = np.column_stack([np.ones_like(y), *cols])
    # Standardise for a well-conditioned Newton step, then map the weights back.
    mu = np.r_[0.0, x[:, 1:].mean(0)]
    sd = np.r_[1.0, x[:, 1:].std(0)]
    sd[sd == 0] = 1.0
    z = (x - mu) / sd
    z[:, 0] = 1.0
    beta = np.zeros(z.shape[1])
    reg = RIDGE * y.size * np.eye(z.shape[1])
    reg[0, 0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ beta, -50, 50)))
        grad = z.T @ (p - y) + reg @ beta
        hess = (z * (p * (1 - p))[:, None]).T @ z + reg
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    w = beta[1:] / sd[1:]
    bias = beta[0] - float(np.sum(w * mu[1:]))
    return LogisticScore(tuple((m, float(wi)) for m, wi in zip(names, w, strict=True)),
                         float(bias))


def apply(score: LogisticScore, raw: Mapping[str, ArrayLike]) -> NDArray[np.float64]:
    """Vectorised :class:`LogisticScore` over arrays of raw scores."""
    out = np.full(np.shape(raw[score.models[0]]), score.bias, dtype=np.float64)
    for m, w in score.weights:
        out += w * np.asarray(raw[m], dtype=np.float64)
    return out


def fit_band(primary: ArrayLike, fused: ArrayLike, thresholds: Sequence[float],
             margin: float) -> tuple[float, float]:
    """The primary-score interval that must be sent to the second recognizer.

    For every operating threshold ``t``, a pair whose primary and fused scores fall on
    different sides of ``t`` must be inside the band (so the cascade uses its fused score);
    the band also contains every threshold itself. The result is widened by ``margin``
    (calibrated log-odds units) on both sides, since held-out pairs scatter further.
    """
    p = as_scores(primary, "primary scores")
    f = as_scores(fused, "fused scores")
    if p.size != f.size:
        raise MetricError("primary and fused scores differ in length")
    if not thresholds:
        raise MetricError("need at least one operating threshold")
    lo, hi = min(thresholds), max(thresholds)
    for t in thresholds:
        differ = (p >= t) != (f >= t)
        if np.any(differ):
            lo = min(lo, float(p[differ].min()))
            hi = max(hi, float(p[differ].max()))
    return lo - margin, hi + margin


@dataclass(frozen=True, slots=True)
class FittedMatchers:
    """The four matchers fitted on one training set."""

    sface: Matcher
    dlib: Matcher
    fusion: Matcher
    cascade: Matcher

    def as_dict(self) -> dict[str, Matcher]:
        return {"sface": self.sface, "dlib": self.dlib, "fusion": self.fusion,
                "cascade": self.cascade}


def fit_matchers(raw: Mapping[str, ArrayLike], labels: ArrayLike,
                 band_thresholds: Sequence[float] = (0.0,), margin: float = 1.0,
                 primary: str = "sface", secondary: str = "dlib") -> FittedMatchers:
    """Fit per-recognizer calibration, the fusion and the cascade (thresholds not set).

    ``band_thresholds`` are the operating thresholds on the calibrated scale the cascade
    must reproduce; 0.0 is the equal-prior decision LFW accuracy uses.
    """
    first = fit_logistic({primary: raw[primary]}, labels)
    second = fit_logistic({secondary: raw[secondary]}, labels)
    fused = fit_logistic({primary: raw[primary], secondary: raw[secondary]}, labels)
    band = fit_band(apply(first, raw), apply(fused, raw), band_thresholds, margin)
    return FittedMatchers(
        sface=Matcher(primary, first),
        dlib=Matcher(secondary, second),
        fusion=Matcher("fusion", fused),
        cascade=Matcher("cascade", first, fused=fused, band=band),
    )


def score_pairs(matcher: Matcher, raw: Mapping[str, ArrayLike]
                ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Calibrated scores of many pairs, and which pairs needed the second recognizer."""
    primary = apply(matcher.primary, raw)
    if matcher.fused is None:
        return primary, np.zeros(primary.shape, dtype=bool)
    fused = apply(matcher.fused, raw)
    if matcher.band is None:
        return fused, np.ones(primary.shape, dtype=bool)
    need = (primary >= matcher.band[0]) & (primary <= matcher.band[1])
    return np.where(need, fused, primary), need


def matcher_spec(matcher: Matcher) -> dict:
    """The JSON form that :func:`bordermatch.match.fusion.matcher_from_spec` reads."""
    spec: dict = {"primary": _logistic_spec(matcher.primary)}
    if matcher.fused is not None:
        spec["fused"] = _logistic_spec(matcher.fused)
    if matcher.band is not None:
        spec["band"] = [float(matcher.band[0]), float(matcher.band[1])]
    spec["thresholds"] = {f"{f:g}": float(t) for f, t in matcher.thresholds}
    return spec


def _logistic_spec(score: LogisticScore) -> dict:
    return {"weights": {m: float(w) for m, w in score.weights}, "bias": float(score.bias)}
