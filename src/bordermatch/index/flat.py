"""Exact 1:N search: inner product of every query with every gallery row, in numpy.

The reference that the ANN index is measured against, and the right choice for galleries
up to roughly 100k templates (a flight manifest, a crossing's daily expected travellers),
where one query costs a few milliseconds of BLAS. Memory is bounded by scoring the gallery
in chunks. Removal compacts the rows at once and zeroes the freed tail, so a purged
template is gone from memory when ``remove`` returns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from bordermatch.errors import InputError
from bordermatch.index._common import RWLock, check_dim, check_k, check_new_ids, check_vectors

# Scores for one chunk are (queries x rows) float32; 2**24 of them is 64 MB.
_SCORE_BUDGET = 1 << 24


class FlatIndex:
    """Exact inner-product index over L2-normalised float32 vectors (Index protocol).

    ``add(ids, vectors)`` appends (ids must be new), ``search(queries, k)`` returns
    ``(scores, ids)`` with scores of shape (n, min(k, len(index))) in descending order (equal
    scores in insertion order), ``remove(ids)`` purges. Thread-safe: searches run concurrently,
    ``add``/``remove`` exclusively.
    """

    name = "flat"

    def __init__(self, dim: int) -> None:
        self.dim = check_dim(dim)
        self._vectors = np.zeros((0, self.dim), np.float32)  # capacity rows; first _n used
        self._n = 0
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._lock = RWLock()

    def __len__(self) -> int:
        return self._n

    def __contains__(self, item: object) -> bool:
        return item in self._row

    def ids(self) -> list[str]:
        return list(self._ids)

    def add(self, ids: Sequence[str], vectors: NDArray[np.float32]) -> None:
        vectors = check_vectors(vectors, self.dim)
        with self._lock.write():
            ids = check_new_ids(ids, len(vectors), self._row)
            need = self._n + len(vectors)
            if need > len(self._vectors):
                # 1.5x growth keeps single enrolments O(1) amortised without doubling the
                # memory of a large gallery.
                rows = max(need, len(self._vectors) * 3 // 2, 1024)
                grown = np.zeros((rows, self.dim), np.float32)
                grown[: self._n] = self._vectors[: self._n]
                self._vectors = grown
            self._vectors[self._n : need] = vectors
            for offset, i in enumerate(ids):
                self._row[i] = self._n + offset
            self._ids.extend(ids)
            self._n = need

    def remove(self, ids: Sequence[str]) -> int:
        """Purge these ids (unknown ones are ignored); returns how many were removed."""
        with self._lock.write():
            rows = sorted({self._row[i] for i in ids if i in self._row})
            if not rows:
                return 0
            keep = np.ones(self._n, bool)
            keep[rows] = False
            live = int(keep.sum())
            self._vectors[:live] = self._vectors[: self._n][keep]
            self._vectors[live : self._n] = 0.0
            self._ids = [i for i, k in zip(self._ids, keep, strict=True) if k]
            self._row = {i: r for r, i in enumerate(self._ids)}
            self._n = live
            return len(rows)

    def vectors(self, ids: Sequence[str]) -> NDArray[np.float32]:
        """Copies of the stored rows for these ids; unknown ids raise InputError."""
        with self._lock.read():
            missing = [i for i in ids if i not in self._row]
            if missing:
                raise InputError(f"ids not in the index: {missing[:5]}")
            return self._vectors[[self._row[i] for i in ids]].copy()

    def search(
        self, queries: NDArray[np.float32], k: int
    ) -> tuple[NDArray[np.float32], list[list[str]]]:
        queries = check_vectors(queries, self.dim, "queries")
        k = check_k(k)
        with self._lock.read():
            n = self._n
            kk = min(k, n)
            if kk == 0:
                return np.zeros((len(queries), 0), np.float32), [[] for _ in queries]
            gallery = self._vectors[:n]
            best_s = np.full((len(queries), kk), -np.inf, np.float32)
            best_r = np.zeros((len(queries), kk), np.int64)
            chunk = max(kk, _SCORE_BUDGET // max(1, len(queries)))
            for start in range(0, n, chunk):
                scores = queries @ gallery[start : start + chunk].T
                best_s, best_r = _merge_topk(best_s, best_r, scores, start, kk)
            ids = self._ids
            labels = [[ids[r] for r in row] for row in best_r]
        return best_s, labels


def _merge_topk(best_s: NDArray, best_r: NDArray, scores: NDArray, start: int,
                k: int) -> tuple[NDArray, NDArray]:
    """Fold one chunk's scores into the running top k, sorted by (-score, row)."""
    if scores.shape[1] > k:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    cand_s = np.concatenate([best_s, np.take_along_axis(scores, part, 1)], axis=1)
    cand_r = np.concatenate([best_r, part + start], axis=1)
    # Rows break ties so equal scores come back in insertion order, deterministically.
    order = np.lexsort((cand_r, -cand_s), axis=1)[:, :k]
    return np.take_along_axis(cand_s, order, 1), np.take_along_axis(cand_r, order, 1)


def create(dim: int) -> FlatIndex:
    """Registry factory (``("index", "flat")``)."""
    return FlatIndex(dim)
