"""Score-level fusion of several recognizers, and the cascade that saves the slow one.

Every matcher maps raw cosine scores to one calibrated scale: the log-odds that the pair is
genuine, from a logistic model ``llr = bias + sum(w_m * cosine_m)`` fitted on training data
(with the LFW protocol: the nine training folds only; see ``bordermatch.eval.fit``).
Because all matchers share that scale, a threshold derived for a target FMR means the same
thing whichever matcher produced the score.

The cascade scores a pair with the first recognizer alone; only when that score falls in
the uncertain band ``[low, high]`` does it compute the second recognizer and use the fused
score. Outside the band the fused decision is (on training data) never different.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bordermatch.errors import ConfigError
from bordermatch.match.decide import OperatingPoint


@dataclass(frozen=True, slots=True)
class LogisticScore:
    weights: tuple[tuple[str, float], ...]
    bias: float

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(m for m, _ in self.weights)

    def __call__(self, scores: Mapping[str, float]) -> float:
        return self.bias + sum(w * scores[m] for m, w in self.weights)

    @property
    def single_weight(self) -> float:
        """The weight of a one-recognizer calibration (ConfigError for a fused one)."""
        if len(self.weights) != 1 or self.weights[0][1] <= 0:
            raise ConfigError(f"{self.models}: not a single-recognizer calibration")
        return self.weights[0][1]

    def of_cosine(self, cosine: NDArray[np.float32] | np.float32) -> NDArray[np.float32]:
        """Calibrated scores of raw cosines of the one recognizer (any array shape)."""
        w = self.single_weight
        return (np.asarray(cosine, np.float32) * np.float32(w)
                + np.float32(self.bias)).astype(np.float32)

    def cosine_at(self, score: float) -> float:
        """The raw cosine whose calibrated score is ``score`` (the inverse of of_cosine)."""
        return (score - self.bias) / self.single_weight


@dataclass(frozen=True, slots=True)
class RateAt:
    """The FMR at a score: ``relation`` is "<=" (at or above the strictest calibrated
    threshold: at most ``fmr``), ">" (below the loosest: more than ``fmr``) or "~"
    (between two calibrated points ``lower`` and ``upper``, interpolated)."""

    relation: str
    fmr: float
    lower: float | None
    upper: float | None


@dataclass(frozen=True, slots=True)
class Matcher:
    """How a pair's raw per-recognizer scores become one calibrated score."""

    name: str
    primary: LogisticScore
    fused: LogisticScore | None = None  # used when the primary score is in the band
    band: tuple[float, float] | None = None  # on the primary's calibrated scale
    thresholds: tuple[tuple[float, float], ...] = ()  # (target FMR, threshold), FMR ascending
    impostor_comparisons: int = 0  # behind the thresholds (from the calibration file)

    @property
    def first_models(self) -> tuple[str, ...]:
        return self.primary.models

    @property
    def second_models(self) -> tuple[str, ...]:
        if self.fused is None:
            return ()
        return tuple(m for m in self.fused.models if m not in self.primary.models)

    def needs_second(self, scores: Mapping[str, float]) -> bool:
        if self.fused is None:
            return False
        if self.band is None:
            return True
        return self.band[0] <= self.primary(scores) <= self.band[1]

    def score(self, scores: Mapping[str, float]) -> float:
        """Calibrated score; uses the fused model when its inputs are present and needed."""
        if self.fused is not None and self.needs_second(scores):
            if not all(m in scores for m in self.fused.models):
                raise KeyError(f"{self.name}: fused score needs {self.fused.models}")
            return self.fused(scores)
        return self.primary(scores)

    def operating_point(self, target_fmr: float, review_fmr: float | None = None,
                        provenance: str = "") -> OperatingPoint:
        """The 1:1 operating point at ``target_fmr`` (review band from ``review_fmr``)."""
        review = self.threshold(review_fmr) if review_fmr is not None else None
        return OperatingPoint(self.name, "FMR", target_fmr, self.threshold(target_fmr),
                              review, review_fmr, self.impostor_comparisons,
                              provenance or f"bundled calibration of {self.name}")

    def fmr_at(self, score: float) -> RateAt:
        """The false match rate a calibrated score of this matcher corresponds to, read
        off its calibrated (FMR, threshold) table; nothing is claimed outside it."""
        table = sorted((t, f) for f, t in self.thresholds)  # threshold ascending
        if not table:
            raise ConfigError(f"{self.name}: no calibrated thresholds")
        if score >= table[-1][0]:
            return RateAt("<=", table[-1][1], None, table[-1][1])
        if score < table[0][0]:
            return RateAt(">", table[0][1], table[0][1], None)
        for (t0, f0), (t1, f1) in itertools.pairwise(table):
            if t0 <= score < t1:
                # log10(FMR) is close to linear in the log-odds score between points.
                frac = (score - t0) / (t1 - t0)
                fmr = 10 ** (math.log10(f0) + frac * (math.log10(f1) - math.log10(f0)))
                return RateAt("~", fmr, f1, f0)
        raise AssertionError("unreachable: the table covers every score")

    def threshold(self, target_fmr: float) -> float:
        """Threshold for the largest calibrated FMR that does not exceed the target."""
        usable = [(f, t) for f, t in self.thresholds if f <= target_fmr * (1 + 1e-9)]
        if not usable:
            known = ", ".join(f"{f:g}" for f, _ in self.thresholds)
            raise ConfigError(f"{self.name}: no threshold calibrated for FMR {target_fmr:g} "
                              f"(calibrated: {known})")
        return max(usable)[1]


def _logistic(spec: Mapping) -> LogisticScore:
    return LogisticScore(tuple((m, float(w)) for m, w in spec["weights"].items()),
                         float(spec["bias"]))


def matcher_from_spec(name: str, spec: Mapping) -> Matcher:
    return Matcher(
        name=name,
        primary=_logistic(spec["primary"]),
        fused=_logistic(spec["fused"]) if spec.get("fused") else None,
        band=tuple(spec["band"]) if spec.get("band") else None,
        thresholds=tuple(sorted((float(f), float(t)) for f, t in spec["thresholds"].items())),
        impostor_comparisons=_impostors(spec),
    )


def _impostors(spec: Mapping) -> int:
    meaning = spec.get("meaning") or {}
    counts = [v.get("impostor_comparisons", 0) for v in meaning.values() if isinstance(v, dict)]
    return int(max(counts, default=0))


def load_calibration(path: Path | None = None) -> dict:
    if path is None:
        text = resources.files("bordermatch.data").joinpath("calibration.json").read_text()
    else:
        text = Path(path).read_text()
    return json.loads(text)


def load_matcher(name: str, path: Path | None = None) -> Matcher:
    calibration = load_calibration(path)
    try:
        spec = calibration["matchers"][name]
    except KeyError:
        raise ConfigError(
            f"matcher {name!r} is not calibrated; have {sorted(calibration['matchers'])}"
        ) from None
    return matcher_from_spec(name, spec)
