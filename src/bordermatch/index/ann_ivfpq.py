"""IVF-PQ with fast scan and exact re-rank: the default method of ``FaissIndex``.

An inverted file of 4-bit product-quantisation codes scanned with FAISS's SIMD "fast scan",
then an exact re-rank. Vectors are clustered into ``nlist`` cells; a query scans the codes
of the ``nprobe`` nearest cells, takes the best ``rerank`` candidates and re-scores them
exactly against the float32 vectors the index keeps, so the returned scores are exact
cosines. The codes are 64x smaller than the vectors, which is where the speed comes from
(``pq_dims`` dimensions per 4-bit code, dim / 16 bytes per vector by default): on random
unit vectors (no cluster structure, the worst case) recall@1 >= 99.5% needs 11-19% of the
cells scanned, and scanning codes instead of floats makes that affordable. It cannot hold
vectors until trained, so below ``min_train`` vectors the index searches exactly; the
``add`` that crosses it trains k-means and PQ on the gallery. ``nprobe`` is then calibrated
on the gallery itself: the smallest value at which synthetic mated probes (gallery vectors
moved to cosine ``calibration_cos``) find their mate, or something at least as similar, at
a rate whose 95% lower confidence bound is ``target_recall``. When the gallery has grown
``regrow_factor`` times past its training size, the next ``add`` retrains.

Removal never calls FAISS ``remove_ids``: on fast-scan inverted lists (FAISS 1.15) that
call corrupts the packed codes, so vectors added afterwards are no longer found (see
tests/index/test_ann.py). The re-rank drops tombstoned labels instead, and the lossy PQ
code (dim / 16 bytes) of a removed vector stays in the inverted lists until the index
compacts, which re-encodes the live vectors.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bordermatch.index._ann_method import AnnOptions, Kept

log = logging.getLogger(__name__)

IVF_CELLS_PER_SQRT_N = 4  # nlist ~ 4 sqrt(n): cells of ~sqrt(n)/4 vectors
IVF_TRAIN_PER_CELL = 40  # k-means sample; FAISS warns below 39 points per centroid
CALIBRATION_QUERIES = 2000
MAX_RERANK = 256


def ivf_cells(n: int) -> int:
    """Power of two near 4 sqrt(n), capped so every cell gets enough training points."""
    target = 1 << max(0, round(math.log2(max(1.0, IVF_CELLS_PER_SQRT_N * math.sqrt(n)))))
    return max(1, min(target, 1 << 16, n // IVF_TRAIN_PER_CELL))


def pq_subquantizers(dim: int, dims_per_code: int = 8) -> int:
    """Sub-quantizers for ``dims_per_code`` dimensions each (4 bits per sub-quantizer).

    Eight dimensions per 4-bit code (dim / 16 bytes a vector) measured as fast as four with
    the same recall@1 after re-ranking, at half the bytes scanned (docs/benchmarks.md).
    """
    m = max(1, dim // dims_per_code)
    while dim % m:
        m -= 1
    return m


def mated_probes(vectors: NDArray[np.float32], cos: float,
                 rng: np.random.Generator) -> NDArray[np.float32]:
    """Unit vectors at exactly cosine ``cos`` from each row, in a random direction."""
    noise = rng.standard_normal(vectors.shape).astype(np.float32)
    noise -= (noise * vectors).sum(1, keepdims=True) * vectors
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    probes = cos * vectors + math.sqrt(1 - cos * cos) * noise
    return (probes / np.linalg.norm(probes, axis=1, keepdims=True)).astype(np.float32)


class IvfPq:
    """The ``"ivfpq"`` method (``AnnMethod``): trained lazily, ``nprobe`` calibrated."""

    def __init__(self, faiss: Any, dim: int, options: AnnOptions) -> None:
        self._faiss, self._dim, self._options = faiss, dim, options
        self.rerank = options.rerank  # calibration may raise it
        self.index: Any = None
        self._nprobe = 0
        self._trained_at = 0

    @property
    def nlist(self) -> int | None:
        return self.index.nlist if self.index is not None else None

    @property
    def nprobe(self) -> int | None:
        return self._nprobe if self.index is not None else None

    def needs_retrain(self, live: int) -> bool:
        if self.index is None:
            return live >= self._options.min_train
        # Regrowth exists to re-pick nlist for a larger gallery; a pinned one has none to pick.
        return not self._options.nlist and live > self._options.regrow_factor * self._trained_at

    def add(self, vectors: NDArray[np.float32], labels: NDArray[np.int64]) -> None:
        if self.index is not None:  # untrained: the index's exact search covers them
            self.index.add_with_ids(vectors, labels)

    def search(self, queries: NDArray[np.float32], k: int,
               kept: Kept) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        return self._search(queries, k, self._nprobe, kept)

    def forget(self, labels: NDArray[np.int64]) -> None:
        """Nothing to do: the re-rank drops tombstones, and ``remove_ids`` is unsafe here."""

    def rebuild(self, kept: Kept, *, retrain: bool) -> None:
        vectors = kept.vectors
        dense = np.arange(len(vectors), dtype=np.int64)
        if len(vectors) < self._options.min_train and (retrain or self.index is None):
            self.index = None
        elif retrain or self.index is None:
            self.index = self._train(vectors)
            self.index.add_with_ids(vectors, dense)
            self._nprobe = self._options.nprobe or self._calibrate_nprobe(kept)
            self._trained_at = len(vectors)
            log.info("IVF-PQ over %d vectors: nlist=%d, nprobe=%d, rerank=%d", len(vectors),
                     self.index.nlist, self._nprobe, self.rerank)
        else:
            # Same cells and codebooks, re-encoded without the removed vectors' codes.
            self.index.reset()
            self.index.add_with_ids(vectors, dense)

    def _search(self, queries: NDArray[np.float32], k: int, nprobe: int,
                kept: Kept) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Fast-scan the PQ codes of ``nprobe`` cells, then re-rank candidates exactly."""
        params = self._faiss.SearchParametersIVF(nprobe=nprobe)
        # Tombstoned codes still compete in the scan, so ask for that many more.
        extra = min(len(kept.tombstones), self.rerank)
        _, cand = self.index.search(queries, max(k, self.rerank) + extra, params=params)
        safe = np.maximum(cand, 0)
        exact = np.einsum("qrd,qd->qr", kept.vectors[safe], queries)
        exact[(cand < 0) | ~kept.alive[safe]] = -np.inf  # tombstones fall out here
        cand = np.where(np.isfinite(exact), cand, -1)
        order = np.argsort(-exact, axis=1, kind="stable")[:, :k]
        labels = np.take_along_axis(cand, order, 1)
        return np.take_along_axis(exact, order, 1), labels

    def _train(self, vectors: NDArray[np.float32]) -> Any:
        faiss = self._faiss
        n = len(vectors)
        nlist = min(self._options.nlist or ivf_cells(n), n)
        spec = f"IVF{nlist},PQ{pq_subquantizers(self._dim, self._options.pq_dims)}x4fs"
        index = faiss.index_factory(self._dim, spec, faiss.METRIC_INNER_PRODUCT)
        sample = min(n, max(nlist * IVF_TRAIN_PER_CELL, 10_000))
        rng = np.random.default_rng(0)  # same gallery, same cells
        index.train(vectors[np.sort(rng.choice(n, sample, replace=False))])
        return index

    def _calibrate_nprobe(self, kept: Kept) -> int:
        """Smallest nprobe at which mated probes find a vector at least as similar as
        their mate at rate ``target_recall`` (doubling, then bisection). Raises the
        re-rank depth first if the target is out of reach even with every cell scanned."""
        vectors, target = kept.vectors, self._options.target_recall
        rng = np.random.default_rng(1)
        rows = rng.choice(len(vectors), min(len(vectors), CALIBRATION_QUERIES), replace=False)
        probes = mated_probes(vectors[rows], self._options.calibration_cos, rng)
        mate_score = (probes * vectors[rows]).sum(1)

        # The sample is finite: demand a hit rate whose one-sided 95% lower bound clears
        # the target, so the calibrated nprobe is not merely lucky on these probes.
        need = min(1.0, target + 1.645 * math.sqrt(target * (1 - target) / len(rows)))

        def recall(nprobe: int) -> float:
            scores, _ = self._search(probes, 1, nprobe, kept)
            return float(np.mean(scores[:, 0] >= mate_score - 1e-5))

        nlist = self.index.nlist
        # If even scanning every cell misses, PQ error hides the mate among the candidates
        # (low dimension, small margin): re-rank deeper before tuning nprobe.
        while self.rerank < MAX_RERANK and recall(nlist) < need:
            self.rerank *= 2
        hi = 1
        while hi < nlist and recall(hi) < need:
            hi = min(nlist, hi * 2)
        lo = hi // 2  # fails the target (or is 0)
        while hi - lo > max(1, hi // 8):
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if recall(mid) >= need else (mid, hi)
        return hi
