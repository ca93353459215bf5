"""Biometric performance metrics named as in ISO/IEC 19795-1 and -2. Pure functions.

Score direction everywhere: **higher means more similar**. A comparison is a match when
``score >= threshold``; a score exactly at the threshold counts as a match. Hence

- FMR(t)  = fraction of impostor (non-mated) comparison scores ``>= t``
- FNMR(t) = fraction of genuine (mated) comparison scores ``< t``
- FPIR(t) = fraction of non-mated 1:N searches whose best candidate scores ``>= t``
- FNIR(t, R) = fraction of mated 1:N searches whose mate is not returned at rank <= R
  with a score ``>= t``

Every function raises :class:`bordermatch.errors.MetricError` on empty input, NaN or
infinite scores, or arrays whose lengths should agree but do not. Nothing falls back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bordermatch.errors import MetricError
from bordermatch.match.calibrate import as_scores, threshold_for_rate

__all__ = [
    "ErrorCurve",
    "accuracy",
    "best_accuracy_threshold",
    "cmc",
    "det_curve",
    "eer",
    "fmr",
    "fnir",
    "fnmr",
    "fpir",
    "roc_points",
    "tar_at_fmr",
]


def fmr(impostor_scores: ArrayLike, threshold: float) -> float:
    """False match rate: fraction of impostor scores ``>= threshold``."""
    imp = as_scores(impostor_scores, "impostor scores")
    return float(np.count_nonzero(imp >= threshold) / imp.size)


def fnmr(genuine_scores: ArrayLike, threshold: float) -> float:
    """False non-match rate: fraction of genuine scores ``< threshold``."""
    gen = as_scores(genuine_scores, "genuine scores")
    return float(np.count_nonzero(gen < threshold) / gen.size)


@dataclass(frozen=True, slots=True, eq=False)
class ErrorCurve:
    """FMR and FNMR at every distinct threshold, thresholds ascending.

    ``thresholds`` holds every distinct observed score plus ``+inf`` (reject everything),
    so ``fmr`` runs from (at most) 1 down to 0 and ``fnmr`` from 0 up to 1.
    """

    thresholds: NDArray[np.float64]
    fmr: NDArray[np.float64]
    fnmr: NDArray[np.float64]

    @property
    def tar(self) -> NDArray[np.float64]:
        """True accept rate (1 - FNMR), the ROC's y axis."""
        return 1.0 - self.fnmr


def det_curve(genuine_scores: ArrayLike, impostor_scores: ArrayLike) -> ErrorCurve:
    """The DET curve (FMR against FNMR) evaluated at every distinct score."""
    gen = np.sort(as_scores(genuine_scores, "genuine scores"))
    imp = np.sort(as_scores(impostor_scores, "impostor scores"))
    thresholds = np.append(np.unique(np.concatenate([gen, imp])), np.inf)
    # searchsorted 'left' counts the scores strictly below each threshold.
    fmr_ = (imp.size - np.searchsorted(imp, thresholds, side="left")) / imp.size
    fnmr_ = np.searchsorted(gen, thresholds, side="left") / gen.size
    return ErrorCurve(thresholds, fmr_, fnmr_)


def roc_points(genuine_scores: ArrayLike, impostor_scores: ArrayLike
               ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """(FMR, TAR, threshold) arrays of the ROC, thresholds ascending."""
    curve = det_curve(genuine_scores, impostor_scores)
    return curve.fmr, curve.tar, curve.thresholds


def eer(genuine_scores: ArrayLike, impostor_scores: ArrayLike) -> tuple[float, float]:
    """Equal error rate and the threshold where it is reached: ``(eer, threshold)``.

    The empirical curves are step functions, so FMR and FNMR rarely meet exactly. We take
    the threshold where ``|FMR - FNMR|`` is smallest (the first one, on ties) and report
    the mean of FMR and FNMR there, which lies between the two curves at that threshold.
    """
    curve = det_curve(genuine_scores, impostor_scores)
    i = int(np.argmin(np.abs(curve.fmr - curve.fnmr)))
    a, b = sorted((float(curve.fmr[i]), float(curve.fnmr[i])))
    return min(max((a + b) / 2, a), b), float(curve.thresholds[i])  # clamp float rounding


def tar_at_fmr(genuine_scores: ArrayLike, impostor_scores: ArrayLike,
               target_fmr: float) -> float:
    """True accept rate (1 - FNMR) at the threshold calibrated for ``target_fmr`` on these
    impostors (see :func:`bordermatch.match.calibrate.threshold_for_rate`; raises when the
    target is below ``1 / len(impostor_scores)``)."""
    t = threshold_for_rate(impostor_scores, target_fmr)
    return 1.0 - fnmr(genuine_scores, t)


def accuracy(genuine_scores: ArrayLike, impostor_scores: ArrayLike, threshold: float) -> float:
    """Fraction of all comparisons decided correctly at ``threshold`` (the LFW measure)."""
    gen = as_scores(genuine_scores, "genuine scores")
    imp = as_scores(impostor_scores, "impostor scores")
    right = np.count_nonzero(gen >= threshold) + np.count_nonzero(imp < threshold)
    return float(right / (gen.size + imp.size))


def best_accuracy_threshold(genuine_scores: ArrayLike, impostor_scores: ArrayLike) -> float:
    """The threshold with the highest accuracy on these scores (LFW training folds).

    Among equally good thresholds the middle of the best range is returned, so that a
    threshold learnt on training folds does not sit on one training score.
    """
    curve = det_curve(genuine_scores, impostor_scores)
    n_gen = np.size(genuine_scores)
    n_imp = np.size(impostor_scores)
    errors = np.round(curve.fnmr * n_gen + curve.fmr * n_imp)
    best = np.flatnonzero(errors == errors.min())
    # Threshold index j behaves like any value in (thresholds[j-1], thresholds[j]]; take
    # the first contiguous run of best indices and return the middle of its value range.
    a = b = int(best[0])
    while b + 1 < curve.thresholds.size and errors[b + 1] == errors[a]:
        b += 1
    t = curve.thresholds
    if not np.isfinite(t[b]):
        if b == 0:  # cannot happen: at least one finite score exists
            raise MetricError("no finite threshold")
        return float(np.nextafter(t[b - 1], np.inf)) if a == b else float(t[b - 1])
    if a == 0:
        return float(t[b])
    return float((t[a - 1] + t[b]) / 2)


def fpir(nonmated_top_scores: ArrayLike, threshold: float) -> float:
    """False positive identification rate (open-set 1:N).

    ``nonmated_top_scores`` holds, for each search whose subject is not enrolled, the
    score of its best (rank-1) candidate. FPIR is the fraction ``>= threshold``.
    """
    top = as_scores(nonmated_top_scores, "non-mated top scores")
    return float(np.count_nonzero(top >= threshold) / top.size)


def fnir(mated_scores: ArrayLike, mated_ranks: ArrayLike, threshold: float,
         max_rank: int = 1) -> float:
    """False negative identification rate (open-set 1:N).

    For each search whose subject is enrolled, ``mated_scores[i]`` is the score of the
    enrolled mate and ``mated_ranks[i]`` its 1-based rank in the candidate list (use any
    rank beyond the list length when the mate was not returned). A search is a miss when
    the rank exceeds ``max_rank`` or the score is below ``threshold``.
    """
    scores = as_scores(mated_scores, "mated scores")
    ranks = _ranks(mated_ranks, scores.size)
    if max_rank < 1:
        raise MetricError(f"max_rank must be >= 1, got {max_rank}")
    hit = (ranks <= max_rank) & (scores >= threshold)
    return float(1.0 - np.count_nonzero(hit) / scores.size)


def cmc(mated_ranks: ArrayLike, max_rank: int) -> NDArray[np.float64]:
    """Cumulative match characteristic: element ``r-1`` is the fraction of mated searches
    whose mate is at rank ``<= r`` (closed-set identification rate at rank r)."""
    if max_rank < 1:
        raise MetricError(f"max_rank must be >= 1, got {max_rank}")
    ranks = _ranks(mated_ranks, None)
    counts = np.bincount(np.minimum(ranks, max_rank + 1), minlength=max_rank + 2)
    return np.cumsum(counts[1:max_rank + 1]) / ranks.size


def _ranks(ranks: ArrayLike, expected: int | None) -> NDArray[np.int64]:
    arr = as_scores(ranks, "ranks")
    if np.any(arr < 1) or np.any(arr != np.round(arr)):
        raise MetricError("ranks must be integers >= 1")
    if expected is not None and arr.size != expected:
        raise MetricError(f"{arr.size} ranks for {expected} scores")
    return arr.astype(np.int64)
