"""1:N search over a gallery, and one-to-one assignment within a vehicle.

Scores are cosine similarities of L2-normalised templates from one recognizer (higher is
more similar); callers put them on the calibrated scale (``match.fusion``) before they
decide (``match.decide``). A traveller may hold several reference photos (a passport and a
visa, a renewed passport, an earlier encounter): the gallery scores each reference and a
traveller's score is the best of theirs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from bordermatch.errors import ConfigError
from bordermatch.types import Candidate


class GallerySearch:
    """Exact inner-product search over an in-memory gallery (fast enough below ~10^5).

    ``traveler_ids[i]`` owns reference ``vectors[i]``; several rows may share an owner.
    Scores and candidates are per traveller (the best of their references).
    """

    def __init__(self, traveler_ids: Sequence[str], vectors: NDArray[np.float32]) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(traveler_ids) != len(vectors):
            raise ConfigError("gallery ids and vectors disagree in length")
        owners = np.asarray([str(t) for t in traveler_ids], dtype=object)
        if len(set(owners)) < len(owners):  # group each traveller's references together
            order = np.argsort(owners, kind="stable")
            owners, vectors = owners[order], vectors[order]
        starts = (np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]]) if len(owners)
                  else np.zeros(0, np.int64))
        self.ids = tuple(str(t) for t in owners[starts])
        self.vectors = vectors
        self.references = np.diff(np.r_[starts, len(owners)]).astype(np.int64)
        self._starts = starts
        self._row = {t: i for i, t in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def scores(self, queries: NDArray[np.float32]) -> NDArray[np.float32]:
        """Every traveller's score, shape (n_queries, travellers): the best reference."""
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if q.shape[1] != self.vectors.shape[1]:
            raise ConfigError(f"query dim {q.shape[1]} != gallery dim {self.vectors.shape[1]}")
        per_reference = q @ self.vectors.T
        if len(self.ids) == len(self.vectors):
            return per_reference
        return np.maximum.reduceat(per_reference, self._starts, axis=1)

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

    def column_of(self, traveler_id: str) -> int:
        return self._row[traveler_id]


def assign_one_to_one(scores: NDArray[np.float32], floor: float,
                      gain: NDArray[np.float32] | None = None) -> list[int | None]:
    """Gallery column for each track (row), no column used twice, maximising the total score
    (or the total ``gain``, a matrix of the same shape, when given).

    Pairs below ``floor`` in ``scores`` are never assigned. Optimal (Hungarian) assignment,
    restricted to the columns that appear in some row above the floor, so its size stays
    tiny. ``gain`` is for per-row normalised scores (``match.normalise``): a z-value says
    how a track's score stands among its own scores, not which of two tracks fits a
    traveller better, so tracks are assigned on the raw scores.
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
    by = sub if gain is None else np.asarray(gain, dtype=np.float64)[:, cols]
    # Below-floor pairs get a large negative gain, so they are chosen only when forced by
    # the rectangular solver; such choices are then dropped.
    weight = np.where(sub >= floor, by, -1e6)
    rows, picked = linear_sum_assignment(weight, maximize=True)
    out: list[int | None] = [None] * n
    for r, c in zip(rows, picked, strict=True):
        if weight[r, c] > -1e5:
            out[int(r)] = int(cols[c])
    return out
