"""Score normalisation of the document stage's 1:1 comparisons (T-norm, S-norm).

A degraded lane capture (tinted glass, glare, a small row-3 face) does not only score
lower against its own traveller: it scores differently against *everyone*, some captures
high against the whole gallery, some low. Reference photos differ the same way: some
faces score high against many others. Cohort normalisation puts a score on the scale of
the non-mated scores of the same probe or the same reference:

* **T-norm** (Auckenthaler et al., "Score normalization for text-independent speaker
  verification systems", 2000): ``(s - mean) / spread`` of the probe's scores against a
  cohort of references it is not: the gallery's travellers, all of them up to a few
  thousand, an even sample of a larger gallery (``match.cohort``; the claimed traveller is
  one column in thousands, so leaving it in moves the mean by less than a thousandth of a
  spread).
* **Z-norm**, the same from the reference's side: the reference's scores against other
  people's photos. Here the cohort is the other travellers' reference photos
  (``match.cohort.Cohort.column_stats``), computed once per gallery.
* **S-norm**, the mean of the two (symmetric normalisation, as in speaker verification).

Measured on lane tracks (docs/benchmarks.md, "Lane 1:1 steps"): at an equal FMR 1e-3 per
comparison, FNMR 2.91 % raw, 2.18 % T-norm, 2.79 % Z-norm, 1.70 % S-norm. A normalised score
is a z-value, not a log-odds, so a threshold fitted on one scale means nothing on another:
an operating point says which scale it is on (``OperatingPoint.normalisation``), and a
pipeline uses a normalised point only with a cohort of at least :data:`MIN_COHORT`
travellers (a small gallery's own mean and spread are too noisy a yardstick), otherwise
its raw fallback.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bordermatch.errors import ConfigError

NORMALISATIONS = ("tnorm", "snorm")
# Below this many travellers the cohort's mean and spread are too noisy: with 200 the
# standard error of the mean is 7 % of a spread, small beside the ~3-spread threshold.
MIN_COHORT = 200
# Reference photos drawn (evenly) into the Z-norm cohort: enough for a stable mean and
# spread, and a bounded cost for a gallery of millions.
COHORT_REFERENCES = 4000


def check_normalisation(name: str | None) -> None:
    if name is not None and name not in NORMALISATIONS:
        raise ConfigError(f"score normalisation must be one of {NORMALISATIONS} or none, "
                          f"not {name!r}")


def usable(name: str | None, cohort_size: int) -> bool:
    """Whether ``name`` can be applied with a gallery of ``cohort_size`` travellers."""
    check_normalisation(name)
    return name is None or cohort_size >= MIN_COHORT


@dataclass(frozen=True, slots=True)
class Normalised:
    """Scores on a normalised scale: ``scores = slope * raw + offset`` per pair (``slope``
    and ``offset`` broadcast to the scores' shape: per row for T-norm, per pair for S-norm)."""

    scores: NDArray[np.float32]
    slope: NDArray[np.float64]
    offset: NDArray[np.float64]

    def raw_scores(self) -> NDArray[np.float32]:
        """Every score back on the raw scale."""
        return ((self.scores - self.offset) / self.slope).astype(np.float32)

    def raw(self, row: int, col: int, value: float) -> float:
        """``value`` on pair (row, col)'s normalised scale, back on the raw one: a threshold
        z becomes this probe's own raw threshold against this traveller."""
        shape = self.scores.shape
        slope = float(np.broadcast_to(self.slope, shape)[row, col])
        offset = float(np.broadcast_to(self.offset, shape)[row, col])
        return (value - offset) / slope


def _spread(x: NDArray[np.float64]) -> NDArray[np.float64]:
    # A constant row (a track with no embedded shot) carries no evidence: z = 0 everywhere.
    return np.maximum(x, 1e-9)


def _row_stats(s: NDArray[np.float64], row_scores: NDArray[np.float32] | None,
               ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r = s if row_scores is None else np.atleast_2d(np.asarray(row_scores, dtype=np.float64))
    if len(r) != len(s):
        raise ConfigError(f"{len(r)} cohort rows for {len(s)} probes")
    return r.mean(axis=1, keepdims=True), _spread(r.std(axis=1, keepdims=True))


def t_norm(scores: NDArray[np.float32],
           row_scores: NDArray[np.float32] | None = None) -> Normalised:
    """Each row (a probe against some travellers) as z-values of the same probe's scores
    against the cohort, ``row_scores`` (default: the row itself is the cohort)."""
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    mean, spread = _row_stats(s, row_scores)
    slope = 1.0 / spread
    offset = -mean * slope
    return Normalised((s * slope + offset).astype(np.float32), slope, offset)


def s_norm(scores: NDArray[np.float32], column_mean: NDArray[np.float64],
           column_spread: NDArray[np.float64],
           row_scores: NDArray[np.float32] | None = None) -> Normalised:
    """The mean of each score's T-norm (its row's cohort, as in :func:`t_norm`) and Z-norm
    (its column's cohort stats)."""
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    cm = np.asarray(column_mean, np.float64)[None, :]
    cs = _spread(np.asarray(column_spread, np.float64))[None, :]
    if cm.shape[1] != s.shape[1] or cs.shape[1] != s.shape[1]:
        raise ConfigError(f"{cm.shape[1]} cohort columns for {s.shape[1]} score columns")
    rm, rs = _row_stats(s, row_scores)
    slope = 0.5 / rs + 0.5 / cs
    offset = -0.5 * (rm / rs + cm / cs)
    return Normalised((s * slope + offset).astype(np.float32), slope, offset)


def normalise(scores: NDArray[np.float32], name: str | None,
              columns: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
              row_scores: NDArray[np.float32] | None = None) -> Normalised:
    """``scores`` (probes x some travellers) on the scale ``name`` (None: unchanged);
    ``row_scores`` are the same probes against the T-norm cohort (default: ``scores`` are
    against the whole cohort), ``columns`` each column's cohort mean and spread, which
    S-norm needs."""
    check_normalisation(name)
    s = np.atleast_2d(np.asarray(scores, dtype=np.float32))
    if name is None:
        return Normalised(s, np.ones((1, 1)), np.zeros((1, 1)))
    cohort = s.shape[1] if row_scores is None else np.atleast_2d(row_scores).shape[1]
    if cohort < MIN_COHORT:
        raise ConfigError(f"{name} needs a cohort of at least {MIN_COHORT} travellers, "
                          f"not {cohort}")
    if name == "tnorm":
        return t_norm(s, row_scores)
    if columns is None:
        raise ConfigError("snorm needs each traveller's reference cohort statistics")
    return s_norm(s, *columns, row_scores)
