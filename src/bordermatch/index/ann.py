"""Approximate 1:N search with FAISS, for galleries too large for exact search.

Two structures; the default was chosen by measurement (docs/benchmarks.md, "1:N search"):

``ivfpq`` (default): an inverted file of 4-bit product-quantisation codes scanned with
FAISS's SIMD "fast scan", then an exact re-rank. Vectors are clustered into ``nlist``
cells; a query scans the codes of the ``nprobe`` nearest cells, takes the best ``rerank``
candidates and re-scores them exactly against the float32 vectors this class keeps, so
the returned scores are exact cosines. The codes are 64x smaller than the vectors, which is
where the speed comes from (``pq_dims`` dimensions per 4-bit code, dim / 16 bytes per vector
by default): on random unit vectors (no cluster structure, the worst case)
recall@1 >= 99.5% needs 11-19% of the cells scanned, and scanning codes instead of floats
makes that affordable. It cannot hold vectors until trained, so below ``min_train`` vectors the
index searches exactly; the ``add`` that crosses it trains k-means and PQ on the gallery.
``nprobe`` is then calibrated on the gallery itself: the smallest value at which synthetic
mated probes (gallery vectors moved to cosine ``calibration_cos``) find their mate, or
something at least as similar, at a rate whose 95% lower confidence bound is
``target_recall``. When the gallery has grown
``regrow_factor`` times past its training size, the next ``add`` retrains.
Removal zeroes the kept float32 row at once and tombstones the label (re-ranking drops
it). It does not call FAISS ``remove_ids``: on fast-scan inverted lists (FAISS 1.15) that
call corrupts the packed codes, so vectors added afterwards are no longer found (see
tests/index/test_ann.py). The lossy PQ code (dim / 16 bytes) of a removed vector stays
in the inverted lists until ``compact`` re-encodes the live vectors, which ``remove`` does
by itself once tombstones exceed ``rebuild_fraction``; a retention purge should call
``compact`` after removing, so that no code of a purged template outlives the run.

``hnsw``: an HNSW graph over float32 storage. No training and high recall, but slower per
query than IVF-PQ here, slow to build on few cores (minutes per 100k vectors), and FAISS cannot
delete from the graph: removal tombstones the label (an ID selector excludes it from
searches) and overwrites the stored vector with zeros at once, so the template leaves
memory although its node stays for routing; once tombstones exceed ``rebuild_fraction``
the graph is rebuilt from the live vectors.

Memory: both keep one float32 copy of the gallery (n * dim * 4 bytes) for re-ranking and
rebuilding; IVF-PQ adds dim / 16 bytes of codes per vector, HNSW a second float32 copy plus
about 2 * M * 4 bytes of links. String ids map to int64 labels. Every result row holds
``min(k, len(index))`` ids: a query whose probed cells (or graph walk) turned up fewer live
vectors than that is answered by exact search instead.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from bordermatch.errors import ConfigError
from bordermatch.index._common import RWLock, check_dim, check_k, check_new_ids, check_vectors

log = logging.getLogger(__name__)

Method = Literal["ivfpq", "hnsw"]

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


class FaissIndex:
    """Approximate inner-product index over L2-normalised float32 vectors (Index protocol).

    ``add`` / ``search`` / ``remove`` as ``FlatIndex``; ``rebuild`` retrains (IVF-PQ) or
    rebuilds the graph (HNSW) from the live vectors. Thread-safe: searches run
    concurrently, writers exclusively. ``nprobe`` (IVF-PQ) and ``ef_search`` (HNSW) trade
    recall for latency; pass them to pin a value instead of the calibrated / default one.
    """

    name = "faiss"

    def __init__(
        self,
        dim: int,
        *,
        method: Method = "ivfpq",
        nlist: int | None = None,
        nprobe: int | None = None,
        rerank: int = 16,
        pq_dims: int = 8,
        target_recall: float = 0.995,
        calibration_cos: float = 0.8,
        min_train: int = 20_000,
        regrow_factor: float = 8.0,
        hnsw_m: int = 32,
        ef_construction: int = 80,
        ef_search: int = 128,
        rebuild_fraction: float = 0.2,
        threads: int | None = None,
    ) -> None:
        import faiss  # heavy: only when an ANN index is actually built

        if method not in ("ivfpq", "hnsw"):
            raise ConfigError(f"unknown FAISS method {method!r}; use 'ivfpq' or 'hnsw'")
        positive = {"nlist": nlist, "nprobe": nprobe, "rerank": rerank, "hnsw_m": hnsw_m,
                    "ef_construction": ef_construction, "ef_search": ef_search,
                    "min_train": min_train, "pq_dims": pq_dims}
        for key, value in positive.items():
            if value is not None and value < 1:
                raise ConfigError(f"{key} must be positive, got {value}")
        if not (0 < target_recall <= 1 and 0 < calibration_cos < 1 and regrow_factor > 1
                and 0 < rebuild_fraction < 1):
            raise ConfigError("need 0 < target_recall <= 1, 0 < calibration_cos < 1, "
                              "regrow_factor > 1 and 0 < rebuild_fraction < 1")
        self._faiss = faiss
        if threads is not None:
            faiss.omp_set_num_threads(threads)
        self.dim = check_dim(dim)
        self.method: Method = method
        self._nlist_fixed, self._nprobe_fixed, self._rerank = nlist, nprobe, rerank
        self._pq_dims = pq_dims
        self._target, self._cal_cos = target_recall, calibration_cos
        self._min_train, self._regrow = min_train, regrow_factor
        self._hnsw = (hnsw_m, ef_construction, ef_search)
        self._rebuild_fraction = rebuild_fraction
        self._lock = RWLock()
        # Label-indexed state. Labels are never reused until a rebuild renumbers them.
        self._vectors = np.zeros((0, self.dim), np.float32)
        self._alive = np.zeros(0, bool)
        self._ids: list[str | None] = []
        self._label: dict[str, int] = {}
        self._index: Any = None  # None while IVF-PQ is untrained: exact search meanwhile
        self._nprobe = 0
        self._trained_at = 0
        self._tombstones: set[int] = set()
        self._hnsw_search: Any = None  # cached SearchParametersHNSW (writers reset it)
        if method == "hnsw":
            self._index = self._new_hnsw()

    # -- Index protocol ------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._label)

    def __contains__(self, item: object) -> bool:
        return item in self._label

    def ids(self) -> list[str]:
        return list(self._label)

    @property
    def trained(self) -> bool:
        return self._index is not None

    @property
    def nlist(self) -> int | None:
        return self._index.nlist if self.method == "ivfpq" and self.trained else None

    @property
    def nprobe(self) -> int | None:
        return self._nprobe if self.method == "ivfpq" and self.trained else None

    @property
    def rerank(self) -> int:
        """Candidates re-scored exactly per query (IVF-PQ; calibration may raise it)."""
        return self._rerank

    def add(self, ids: Sequence[str], vectors: NDArray[np.float32]) -> None:
        vectors = check_vectors(vectors, self.dim)
        with self._lock.write():
            ids = check_new_ids(ids, len(vectors), self._label)
            start = len(self._ids)
            labels = np.arange(start, start + len(ids), dtype=np.int64)
            self._append(vectors)
            self._ids.extend(ids)
            self._label.update(zip(ids, labels.tolist(), strict=True))
            if self.method == "hnsw":
                self._index.add(vectors)  # HNSW numbers vectors in insertion order, as we do
            elif self._index is None:
                if len(self._label) >= self._min_train:
                    self._rebuild_locked(retrain=True)
            elif len(self._label) > self._regrow * self._trained_at and not self._nlist_fixed:
                self._rebuild_locked(retrain=True)
            else:
                self._index.add_with_ids(vectors, labels)

    def search(
        self, queries: NDArray[np.float32], k: int
    ) -> tuple[NDArray[np.float32], list[list[str]]]:
        queries = check_vectors(queries, self.dim, "queries")
        k = check_k(k)
        with self._lock.read():
            kk = min(k, len(self._label))
            if kk == 0:
                return np.zeros((len(queries), 0), np.float32), [[] for _ in queries]
            if self._index is None:
                scores, labels = self._exact(queries, kk)
            elif self.method == "ivfpq":
                scores, labels = self._search_ivf(queries, kk, self._nprobe)
            else:
                scores, labels = self._index.search(queries, kk, params=self._hnsw_params())
            short = (labels < 0).any(axis=1)
            if short.any():
                # The probed cells (or the graph walk) held fewer than k live vectors: answer
                # those queries exactly, so every row has k results for the caller to zip.
                scores[short], labels[short] = self._exact(queries[short], kk)
            ids = self._ids
            out = [[ids[lab] for lab in row] for row in labels.tolist()]
        return scores.astype(np.float32, copy=False), out

    def remove(self, ids: Sequence[str]) -> int:
        """Purge these ids (unknown ones are ignored); returns how many were removed."""
        with self._lock.write():
            labels = np.array(sorted({self._label[i] for i in ids if i in self._label}),
                              dtype=np.int64)
            if not len(labels):
                return 0
            for lab in labels.tolist():
                del self._label[self._ids[lab]]
                self._ids[lab] = None
            self._alive[labels] = False
            self._vectors[labels] = 0.0
            if self.method == "hnsw":
                self._erase_hnsw(labels)
            else:
                self._tombstones.update(labels.tolist())
            dead = len(self._ids) - len(self._label)
            if dead > self._rebuild_fraction * len(self._ids):
                self._rebuild_locked(retrain=False)
            return len(labels)

    def compact(self) -> int:
        """Drop every trace of removed vectors (PQ codes, graph nodes); returns how many."""
        with self._lock.write():
            dead = len(self._ids) - len(self._label)
            if dead:
                self._rebuild_locked(retrain=False)
            return dead

    def rebuild(self) -> None:
        """Retrain IVF-PQ (new cells, codes and nprobe) or rebuild the HNSW graph."""
        with self._lock.write():
            self._rebuild_locked(retrain=True)

    # -- internals ----------------------------------------------------------------------

    def _append(self, vectors: NDArray[np.float32]) -> None:
        n, need = len(self._ids), len(self._ids) + len(vectors)
        if need > len(self._vectors):
            # 1.5x growth: amortised O(1) appends without doubling a 1M-row gallery's memory.
            grown = np.zeros((max(need, len(self._vectors) * 3 // 2, 1024), self.dim),
                             np.float32)
            grown[:n] = self._vectors[:n]
            alive = np.zeros(len(grown), bool)
            alive[:n] = self._alive[:n]
            self._vectors, self._alive = grown, alive
        self._vectors[n:need] = vectors
        self._alive[n:need] = True

    def _exact(self, queries: NDArray[np.float32],
               k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Brute force over the kept vectors: an untrained (small) gallery, or the rare
        query that the approximate structure could not fill."""
        n = len(self._ids)
        scores = queries @ self._vectors[:n].T
        scores[:, ~self._alive[:n]] = -np.inf
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < n else \
            np.broadcast_to(np.arange(n), scores.shape)
        top = np.take_along_axis(scores, part, 1)
        order = np.argsort(-top, axis=1, kind="stable")
        return np.take_along_axis(top, order, 1), np.take_along_axis(part, order, 1)

    def _search_ivf(self, queries: NDArray[np.float32], k: int,
                    nprobe: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Fast-scan the PQ codes of ``nprobe`` cells, then re-rank candidates exactly."""
        params = self._faiss.SearchParametersIVF(nprobe=nprobe)
        # Tombstoned codes still compete in the scan, so ask for that many more.
        extra = min(len(self._tombstones), self._rerank)
        _, cand = self._index.search(queries, max(k, self._rerank) + extra, params=params)
        safe = np.maximum(cand, 0)
        exact = np.einsum("qrd,qd->qr", self._vectors[safe], queries)
        exact[(cand < 0) | ~self._alive[safe]] = -np.inf  # tombstones fall out here
        cand = np.where(np.isfinite(exact), cand, -1)
        order = np.argsort(-exact, axis=1, kind="stable")[:, :k]
        labels = np.take_along_axis(cand, order, 1)
        return np.take_along_axis(exact, order, 1), labels

    def _hnsw_params(self) -> Any:
        """Search parameters excluding tombstones; built once per removal, not per query."""
        if self._hnsw_search is None:
            faiss = self._faiss
            params = faiss.SearchParametersHNSW(efSearch=self._hnsw[2])
            if self._tombstones:
                dead = np.fromiter(self._tombstones, np.int64, len(self._tombstones))
                batch = faiss.IDSelectorBatch(dead)  # copies the labels
                params.sel = faiss.IDSelectorNot(batch)
                params._keep = batch  # the Not selector holds a raw pointer to it
            self._hnsw_search = params
        return self._hnsw_search

    def _new_hnsw(self) -> Any:
        m, ef_c, _ = self._hnsw
        index = self._faiss.IndexHNSWFlat(self.dim, m, self._faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_c
        return index

    def _erase_hnsw(self, labels: NDArray[np.int64]) -> None:
        storage = self._faiss.downcast_index(self._index.storage)
        stored = self._faiss.rev_swig_ptr(storage.get_xb(), storage.ntotal * self.dim)
        np.asarray(stored).reshape(storage.ntotal, self.dim)[labels] = 0.0
        self._tombstones.update(labels.tolist())
        self._hnsw_search = None

    def _rebuild_locked(self, *, retrain: bool) -> None:
        live = np.flatnonzero(self._alive[: len(self._ids)])
        # Nothing removed and no spare rows: reuse the array instead of copying a gallery.
        whole = len(live) == len(self._vectors)
        vectors = self._vectors if whole else self._vectors[live]
        ids = [self._ids[lab] for lab in live.tolist()]
        dense = np.arange(len(ids), dtype=np.int64)
        self._vectors, self._alive = vectors, np.ones(len(ids), bool)
        self._ids = list(ids)
        self._label = dict(zip(ids, dense.tolist(), strict=True))
        self._tombstones = set()
        self._hnsw_search = None
        if self.method == "hnsw":
            self._index = self._new_hnsw()
            if len(vectors):
                self._index.add(vectors)
        elif len(vectors) < self._min_train and (retrain or self._index is None):
            self._index = None
        elif retrain or self._index is None:
            self._index = self._train(vectors)
            self._index.add_with_ids(vectors, dense)
            self._nprobe = self._nprobe_fixed or self._calibrate_nprobe(vectors)
            self._trained_at = len(vectors)
            log.info("IVF-PQ over %d vectors: nlist=%d, nprobe=%d, rerank=%d", len(vectors),
                     self._index.nlist, self._nprobe, self._rerank)
        else:
            self._index.reset()
            self._index.add_with_ids(vectors, dense)

    def _train(self, vectors: NDArray[np.float32]) -> Any:
        faiss = self._faiss
        n = len(vectors)
        nlist = min(self._nlist_fixed or ivf_cells(n), n)
        spec = f"IVF{nlist},PQ{pq_subquantizers(self.dim, self._pq_dims)}x4fs"
        index = faiss.index_factory(self.dim, spec, faiss.METRIC_INNER_PRODUCT)
        sample = min(n, max(nlist * IVF_TRAIN_PER_CELL, 10_000))
        rng = np.random.default_rng(0)  # same gallery, same cells
        index.train(vectors[np.sort(rng.choice(n, sample, replace=False))])
        return index

    def _calibrate_nprobe(self, vectors: NDArray[np.float32]) -> int:
        """Smallest nprobe at which mated probes find a vector at least as similar as
        their mate at rate ``target_recall`` (doubling, then bisection). Raises the
        re-rank depth first if the target is out of reach even with every cell scanned."""
        rng = np.random.default_rng(1)
        rows = rng.choice(len(vectors), min(len(vectors), CALIBRATION_QUERIES), replace=False)
        probes = mated_probes(vectors[rows], self._cal_cos, rng)
        mate_score = (probes * vectors[rows]).sum(1)

        # The sample is finite: demand a hit rate whose one-sided 95% lower bound clears
        # the target, so the calibrated nprobe is not merely lucky on these probes.
        need = min(1.0, self._target + 1.645 * math.sqrt(
            self._target * (1 - self._target) / len(rows)))

        def recall(nprobe: int) -> float:
            scores, _ = self._search_ivf(probes, 1, nprobe)
            return float(np.mean(scores[:, 0] >= mate_score - 1e-5))

        nlist = self._index.nlist
        # If even scanning every cell misses, PQ error hides the mate among the candidates
        # (low dimension, small margin): re-rank deeper before tuning nprobe.
        while self._rerank < MAX_RERANK and recall(nlist) < need:
            self._rerank *= 2
        hi = 1
        while hi < nlist and recall(hi) < need:
            hi = min(nlist, hi * 2)
        lo = hi // 2  # fails the target (or is 0)
        while hi - lo > max(1, hi // 8):
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if recall(mid) >= need else (mid, hi)
        return hi


def create(dim: int, **options: Any) -> FaissIndex:
    """Registry factory (``("index", "faiss")``); options as ``FaissIndex``."""
    return FaissIndex(dim, **options)
