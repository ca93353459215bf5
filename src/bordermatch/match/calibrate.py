"""Threshold calibration: the decision threshold that gives a target FMR on impostor data.

Score direction: higher means more similar, and a comparison is declared a match when
``score >= threshold`` -- a score exactly at the threshold is a match. The empirical false
match rate of a threshold ``t`` is therefore the fraction of impostor scores ``>= t``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bordermatch.errors import MetricError


def as_scores(scores: ArrayLike, what: str = "scores") -> NDArray[np.float64]:
    """A finite, non-empty 1-D float64 copy of ``scores``, or MetricError."""
    try:
        arr = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MetricError(f"{what}: not numeric ({exc})") from None
    if arr.ndim != 1:
        raise MetricError(f"{what}: expected a 1-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise MetricError(f"{what}: empty")
    if not np.all(np.isfinite(arr)):
        raise MetricError(f"{what}: contains NaN or infinity")
    return arr


def min_calibratable_fmr(n_impostors: int) -> float:
    """The smallest target FMR that ``n_impostors`` comparisons can support (one error)."""
    return 1.0 / n_impostors


def threshold_for_fmr(impostor_scores: ArrayLike, target_fmr: float) -> float:
    """The smallest threshold whose empirical FMR on ``impostor_scores`` is <= ``target_fmr``.

    With ``n`` impostor scores at most ``k = floor(target_fmr * n)`` of them may reach the
    threshold. Because ties match, the threshold must lie strictly above the (k+1)-th
    largest impostor score ``v``; the smallest such value is the next float64 after ``v``
    (``numpy.nextafter``). So a group of tied impostor scores is either entirely accepted
    or entirely rejected, and the returned threshold's FMR may be below the target when
    ties straddle it.

    The target is read with a relative tolerance of 1e-9: ``k/n`` within it counts as the
    target (1e-3 of 1,000 impostors allows exactly one error although ``1e-3 * 1000`` may
    round below 1), so the returned FMR is at most ``target_fmr * (1 + 1e-9)``.

    Raises MetricError for empty/NaN input, a target outside (0, 1], or a target below
    ``1 / n`` -- such a target cannot be measured on that many impostors (calibrate on
    more impostor comparisons instead).
    """
    imp = as_scores(impostor_scores, "impostor scores")
    if not (isinstance(target_fmr, int | float) and 0.0 < target_fmr <= 1.0):
        raise MetricError(f"target FMR must be in (0, 1], got {target_fmr!r}")
    n = imp.size
    floor = min_calibratable_fmr(n)
    # Relative tolerance: 1e-3 * 1000 impostors must allow exactly one error.
    if target_fmr < floor * (1 - 1e-9):
        raise MetricError(
            f"target FMR {target_fmr:g} is below 1/{n} = {floor:.3g}: {n} impostor "
            f"comparisons cannot calibrate it; use at least {math.ceil(1 / target_fmr)}"
        )
    k = math.floor(target_fmr * n * (1 + 1e-9))
    if k >= n:
        return float(np.min(imp))  # every impostor may match: the lowest score will do
    v = np.partition(imp, n - k - 1)[n - k - 1]  # (k+1)-th largest
    return float(np.nextafter(v, np.inf))


def empirical_fmr(impostor_scores: ArrayLike, threshold: float) -> float:
    """Fraction of impostor scores ``>= threshold`` (ties match)."""
    imp = as_scores(impostor_scores, "impostor scores")
    return float(np.count_nonzero(imp >= threshold) / imp.size)
