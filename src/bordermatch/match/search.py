"""1:N search, one-to-one assignment within a vehicle, and open-set thresholds from FPIR.

Scores are cosine similarities of L2-normalised templates from one recognizer (higher is
more similar). Open-set identification (ISO/IEC 19795-1):

* FPIR, false-positive identification rate: the fraction of non-mated searches (the
  person is not in the gallery) that return a candidate at or above the threshold.
* FNIR, false-negative identification rate: the fraction of mated searches whose mate is
  not returned at or above the threshold.

The ``match`` threshold is the lowest score whose empirical FPIR on non-mated searches
does not exceed the target (ties at the threshold count as a positive identification);
the ``review`` threshold is the same for a looser target. Both are fitted on data
(``calibrate_open_set``) and stored with the recognizer name and the sample size.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bordermatch.errors import ConfigError, MetricError
from bordermatch.types import Candidate, Outcome


class GallerySearch:
    """Exact inner-product search over an in-memory gallery (fast enough below ~10^5)."""

    def __init__(self, traveler_ids: Sequence[str], vectors: NDArray[np.float32]) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(traveler_ids) != len(vectors):
            raise ConfigError("gallery ids and vectors disagree in length")
        self.ids = tuple(traveler_ids)
        self.vectors = vectors
        self._row = {t: i for i, t in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def scores(self, queries: NDArray[np.float32]) -> NDArray[np.float32]:
        """All scores, shape (n_queries, gallery size)."""
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if q.shape[1] != self.vectors.shape[1]:
            raise ConfigError(f"query dim {q.shape[1]} != gallery dim {self.vectors.shape[1]}")
        return q @ self.vectors.T

    def search(self, queries: NDArray[np.float32], k: int) -> list[list[Candidate]]:
        """Top-k candidate list per query, rank 1 first."""
        s = self.scores(queries)
        k = min(k, s.shape[1])
        if k <= 0:
            return [[] for _ in range(len(s))]
        top = np.argpartition(-s, k - 1, axis=1)[:, :k]
        out = []
        for row, idx in zip(s, top, strict=True):
            idx = idx[np.argsort(-row[idx], kind="stable")]
            out.append([Candidate(self.ids[j], float(row[j]), r + 1) for r, j in enumerate(idx)])
        return out

    def row_of(self, traveler_id: str) -> int:
        return self._row[traveler_id]


def alias_in_doubt(traveler_id: str, aliases: Mapping[str, Collection[str]],
                   score_of: Callable[[str], float | None], floor: float) -> bool:
    """True when a face matched to ``traveler_id`` also scores ``floor`` or more against a
    traveller flagged as possibly the same face: which identity it is is for an officer.

    A flag alone is not enough: at a strict FMR a 2,000-traveller gallery still flags about
    20 look-alike pairs, and a clear face tells them apart (docs/lane.md). ``score_of``
    gives the face's score against a traveller, or None when the gallery does not hold them.
    """
    for other in aliases.get(traveler_id, ()):
        score = score_of(other)
        if score is not None and score >= floor:
            return True
    return False


def assign_one_to_one(scores: NDArray[np.float32], floor: float) -> list[int | None]:
    """Gallery column for each track (row), no column used twice, maximising the total score.

    Pairs below ``floor`` are never assigned. Optimal (Hungarian) assignment, restricted
    to the columns that appear in some row above the floor, so its size stays tiny.
    """
    from scipy.optimize import linear_sum_assignment

    scores = np.asarray(scores, dtype=np.float64)
    n = scores.shape[0]
    if n == 0:
        return []
    cols = np.unique(np.nonzero(scores >= floor)[1])
    if cols.size == 0:
        return [None] * n
    sub = scores[:, cols]
    # Below-floor pairs get a large negative gain, so they are chosen only when forced by
    # the rectangular solver; such choices are then dropped.
    gain = np.where(sub >= floor, sub, -1e6)
    rows, picked = linear_sum_assignment(gain, maximize=True)
    out: list[int | None] = [None] * n
    for r, c in zip(rows, picked, strict=True):
        if gain[r, c] > -1e5:
            out[int(r)] = int(cols[c])
    return out


@dataclass(frozen=True, slots=True)
class OpenSetThresholds:
    model: str
    match: float
    review: float
    target_fpir: float
    review_fpir: float
    nonmated_searches: int
    mated_searches: int = 0
    source: str = ""

    def decide(self, score: float | None) -> Outcome:
        """MATCH at or above ``match``, REVIEW in [review, match), else NO_MATCH."""
        if score is None:
            return Outcome.NO_CAPTURE
        if score >= self.match:
            return Outcome.MATCH
        if score >= self.review:
            return Outcome.REVIEW
        return Outcome.NO_MATCH

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> OpenSetThresholds:
        try:
            data = json.loads(Path(path).read_text())
            return cls(**data)
        except (OSError, json.JSONDecodeError, TypeError) as exc:
            raise ConfigError(f"{path}: not an open-set thresholds file ({exc})") from None


def threshold_for_fpir(nonmated_top: NDArray, target_fpir: float) -> float:
    """Lowest threshold t with (#non-mated top scores >= t) / n <= target_fpir.

    With n searches the smallest FPIR that can be shown is 1/n; a target below that gives
    a threshold just above the highest non-mated score seen (FPIR 0 on this sample; by the
    rule of three the true FPIR is then below 3/n at 95% confidence).
    """
    s = np.sort(np.asarray(nonmated_top, dtype=np.float64))[::-1]
    if s.size == 0 or not np.all(np.isfinite(s)):
        raise MetricError("need finite non-mated scores")
    if not 0 < target_fpir < 1:
        raise MetricError("target FPIR must be in (0, 1)")
    allowed = math.floor(target_fpir * s.size + 1e-9)  # searches allowed above threshold
    if allowed >= s.size:
        return float(s[-1])
    # Above s[allowed] exactly `allowed` searches remain (ties counted as positives).
    return float(np.nextafter(s[allowed], np.inf))


def fpir(nonmated_top: NDArray, threshold: float) -> float:
    s = np.asarray(nonmated_top, dtype=np.float64)
    if s.size == 0:
        raise MetricError("no non-mated searches")
    return float((s >= threshold).mean())


def fnir(mated_scores: NDArray, mated_rank1: NDArray, threshold: float) -> float:
    """Fraction of mated searches whose mate is not the rank-1 candidate at >= threshold."""
    s = np.asarray(mated_scores, dtype=np.float64)
    ok = np.asarray(mated_rank1, dtype=bool)
    if s.size == 0 or ok.shape != s.shape:
        raise MetricError("need one rank-1 flag per mated search")
    return float(1.0 - (ok & (s >= threshold)).mean())


def calibrate_open_set(model: str, nonmated_top: NDArray, mated_scores: NDArray, *,
                       target_fpir: float, review_fpir: float, source: str) -> OpenSetThresholds:
    if review_fpir < target_fpir:
        raise ConfigError("review FPIR must be at least the match FPIR")
    return OpenSetThresholds(model, threshold_for_fpir(nonmated_top, target_fpir),
                             threshold_for_fpir(nonmated_top, review_fpir), target_fpir,
                             review_fpir, int(np.size(nonmated_top)), int(np.size(mated_scores)),
                             source)
