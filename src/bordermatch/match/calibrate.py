"""Threshold calibration: the threshold that meets a target error rate on non-mated data.

One function serves both rates of ISO/IEC 19795-1 that a threshold is chosen for: the FMR
of 1:1 comparisons (its scores are impostor comparison scores) and the FPIR of open-set
1:N searches (its scores are each non-mated search's best candidate score). Either rate at
a threshold ``t`` is the fraction of those scores ``>= t``: higher means more similar and
a score exactly at the threshold is a match. The rates themselves are in
``bordermatch.eval.metrics``.
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


def threshold_for_rate(nonmated_scores: ArrayLike, target: float) -> float:
    """The smallest threshold whose empirical rate on ``nonmated_scores`` is <= ``target``.

    With ``n`` non-mated scores at most ``k = floor(target * n)`` of them may reach the
    threshold. Because ties match, the threshold must lie strictly above the (k+1)-th
    largest non-mated score ``v``; the smallest such value is the next float64 after ``v``
    (``numpy.nextafter``). So a group of tied impostor scores is either entirely accepted
    or entirely rejected, and the returned threshold's rate may be below the target when
    ties straddle it.

    The target is read with a relative tolerance of 1e-9: ``k/n`` within it counts as the
    target (1e-3 of 1,000 scores allows exactly one error although ``1e-3 * 1000`` may
    round below 1), so the returned rate is at most ``target * (1 + 1e-9)``.

    Raises MetricError for empty/NaN input, a target outside (0, 1], or a target below
    ``1 / n`` -- such a target cannot be shown on that many non-mated comparisons or
    searches (calibrate on more instead).
    """
    imp = as_scores(nonmated_scores, "non-mated scores")
    if not (isinstance(target, int | float) and 0.0 < target <= 1.0):
        raise MetricError(f"target rate must be in (0, 1], got {target!r}")
    n = imp.size
    # Relative tolerance: 1e-3 of 1000 scores must allow exactly one error.
    if target < (1.0 / n) * (1 - 1e-9):
        raise MetricError(
            f"target rate {target:g} is below 1/{n} = {1.0 / n:.3g}: {n} non-mated scores "
            f"cannot calibrate it; use at least {math.ceil(1 / target)}"
        )
    k = math.floor(target * n * (1 + 1e-9))
    if k >= n:
        return float(np.min(imp))  # every score may match: the lowest will do
    v = np.partition(imp, n - k - 1)[n - k - 1]  # (k+1)-th largest
    return float(np.nextafter(v, np.inf))
