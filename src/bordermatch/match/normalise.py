"""Score normalisation of the document stage's 1:1 comparisons (T-norm).

A degraded lane capture (tinted glass, glare, a small row-3 face) does not only score
lower against its own traveller: it scores differently against *everyone*, some captures
high against the whole gallery, some low. T-normalisation (Auckenthaler et al., "Score
normalization for text-independent speaker verification systems", 2000) puts each of a
probe's scores on the scale of that probe's own non-mated scores: ``(s - mean) / std``
over a cohort of references the probe is not. A lane has such a cohort at hand: the
gallery it already scores every track against (the claimed traveller is one column in
thousands, so leaving it in moves the mean by less than a thousandth of a spread).

Measured on lane tracks (docs/benchmarks.md, "Lane 1:1 steps"): at an equal FMR 1e-3 per
comparison, FNMR 2.18 % against 2.91 % raw. A T-normed score is a z-value, not a cosine,
so a threshold fitted on one scale means nothing on the other: an operating point says
which scale it is on (``OperatingPoint.normalisation``), and a pipeline uses a T-norm
point only with a cohort of at least :data:`MIN_COHORT` travellers (a small gallery's own
mean and spread are too noisy a yardstick), otherwise its raw fallback.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bordermatch.errors import ConfigError

NORMALISATIONS = ("tnorm",)
# Below this many travellers the cohort's mean and spread are too noisy: with 200 the
# standard error of the mean is 7 % of a spread, small beside the ~5-spread threshold.
MIN_COHORT = 200


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
    """Scores on a normalised scale, and each row's affine map back to the raw scale."""

    scores: NDArray[np.float32]
    mean: NDArray[np.float64]  # (rows, 1)
    spread: NDArray[np.float64]  # (rows, 1)

    def raw(self, row: int, value: float) -> float:
        """``value`` on row ``row``'s normalised scale, back on the raw one: a threshold
        z becomes this probe's own raw threshold."""
        return float(value * self.spread[row, 0] + self.mean[row, 0])


def t_norm(scores: NDArray[np.float32]) -> Normalised:
    """Each row (a probe against every traveller of the cohort) as z-values of that row."""
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    mean = s.mean(axis=1, keepdims=True)
    # A constant row (a track with no embedded shot) carries no evidence: z = 0 everywhere.
    spread = np.maximum(s.std(axis=1, keepdims=True), 1e-9)
    return Normalised(((s - mean) / spread).astype(np.float32), mean, spread)


def normalise(scores: NDArray[np.float32], name: str | None) -> Normalised:
    """``scores`` (probes x the whole cohort) on the scale ``name`` (None: unchanged)."""
    check_normalisation(name)
    s = np.atleast_2d(np.asarray(scores, dtype=np.float32))
    if name is None:
        return Normalised(s, np.zeros((len(s), 1)), np.ones((len(s), 1)))
    if s.shape[1] < MIN_COHORT:
        raise ConfigError(f"{name} needs a cohort of at least {MIN_COHORT} travellers, "
                          f"not {s.shape[1]}")
    return t_norm(s)
