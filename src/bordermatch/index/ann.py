"""Approximate 1:N search with FAISS, for galleries too large for exact search.

Two methods, each in its own module and looked up by name in ``METHODS``; the default was
chosen by measurement (docs/benchmarks.md, "1:N search"):

``ivfpq`` (default, ``ann_ivfpq``): an inverted file of 4-bit PQ codes scanned with FAISS's
"fast scan", then an exact re-rank against the float32 vectors this index keeps. Searches
exactly until ``min_train`` vectors, then trains and calibrates ``nprobe`` on the gallery;
retrains once the gallery has grown ``regrow_factor`` times past its training size.

``hnsw`` (``ann_hnsw``): an HNSW graph over float32 storage. No training, but slower per
query than IVF-PQ here and slow to build on few cores.

Removal is the same for both: the kept float32 row is zeroed at once and the label
tombstoned, so searches skip it. FAISS cannot delete safely from either structure (fast-scan
``remove_ids`` corrupts later codes; a graph cannot lose nodes), so what the structure
still holds of removed vectors (a PQ code, a zeroed graph node) lingers until ``compact``,
which ``remove`` runs by itself once tombstones exceed ``rebuild_fraction``; a retention
purge should call ``compact`` after removing, so that no trace of a purged template
outlives the run.

Memory: one float32 copy of the gallery (n * dim * 4 bytes) for re-ranking and rebuilding,
plus the method's structure (see its module). String ids map to int64 labels. Every result
row holds ``min(k, len(index))`` ids: a query whose probed cells (or graph walk) turned up
fewer live vectors than that is answered by exact search instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from bordermatch.errors import ConfigError
from bordermatch.index._ann_method import AnnMethod, AnnOptions, Kept
from bordermatch.index._common import RWLock, check_dim, check_k, check_new_ids, check_vectors
from bordermatch.index.ann_hnsw import Hnsw
from bordermatch.index.ann_ivfpq import IvfPq, ivf_cells, mated_probes, pq_subquantizers

__all__ = ["METHODS", "FaissIndex", "create", "ivf_cells", "mated_probes", "pq_subquantizers"]

Method = Literal["ivfpq", "hnsw"]

# name -> factory(faiss module, dim, options). The first is the documented default.
METHODS: dict[str, Callable[[Any, int, AnnOptions], AnnMethod]] = {
    "ivfpq": IvfPq,
    "hnsw": Hnsw,
}


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

        make = METHODS.get(method)
        if make is None:
            known = " or ".join(repr(m) for m in METHODS)
            raise ConfigError(f"unknown FAISS method {method!r}; use {known}")
        options = AnnOptions(
            nlist=nlist, nprobe=nprobe, rerank=rerank, pq_dims=pq_dims,
            target_recall=target_recall, calibration_cos=calibration_cos,
            min_train=min_train, regrow_factor=regrow_factor, hnsw_m=hnsw_m,
            ef_construction=ef_construction, ef_search=ef_search,
            rebuild_fraction=rebuild_fraction)
        if threads is not None:
            faiss.omp_set_num_threads(threads)
        self.dim = check_dim(dim)
        self.method: Method = method
        self._rebuild_fraction = rebuild_fraction
        self._lock = RWLock()
        # Label-indexed state. Labels are never reused until a rebuild renumbers them.
        self._vectors = np.zeros((0, self.dim), np.float32)
        self._alive = np.zeros(0, bool)
        self._ids: list[str | None] = []
        self._label: dict[str, int] = {}
        self._tombstones: set[int] = set()
        self._method: AnnMethod = make(faiss, self.dim, options)

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
        return self._method.nlist

    @property
    def nprobe(self) -> int | None:
        return self._method.nprobe

    @property
    def rerank(self) -> int:
        """Candidates re-scored exactly per query (IVF-PQ; calibration may raise it)."""
        return self._method.rerank

    @property
    def _index(self) -> Any:
        """The method's FAISS structure (None while IVF-PQ is untrained: exact search)."""
        return self._method.index

    def add(self, ids: Sequence[str], vectors: NDArray[np.float32]) -> None:
        vectors = check_vectors(vectors, self.dim)
        with self._lock.write():
            ids = check_new_ids(ids, len(vectors), self._label)
            start = len(self._ids)
            labels = np.arange(start, start + len(ids), dtype=np.int64)
            self._append(vectors)
            self._ids.extend(ids)
            self._label.update(zip(ids, labels.tolist(), strict=True))
            if self._method.needs_retrain(len(self._label)):
                self._rebuild_locked(retrain=True)
            else:
                self._method.add(vectors, labels)

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
            else:
                scores, labels = self._method.search(queries, kk, self._kept())
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
            self._tombstones.update(labels.tolist())
            self._method.forget(labels)
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

    def _kept(self) -> Kept:
        n = len(self._ids)
        return Kept(self._vectors[:n], self._alive[:n], self._tombstones)

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

    def _rebuild_locked(self, *, retrain: bool) -> None:
        live = np.flatnonzero(self._alive[: len(self._ids)])
        # Nothing removed and no spare rows: reuse the array instead of copying a gallery.
        whole = len(live) == len(self._vectors)
        vectors = self._vectors if whole else self._vectors[live]
        # A live row has its id: removal clears _alive with _ids.
        ids: list[str] = [self._ids[lab] for lab in live.tolist()]  # type: ignore[misc]
        dense = np.arange(len(ids), dtype=np.int64)
        self._vectors, self._alive = vectors, np.ones(len(ids), bool)
        self._ids = list(ids)
        self._label = dict(zip(ids, dense.tolist(), strict=True))
        self._tombstones = set()
        self._method.rebuild(self._kept(), retrain=retrain)


def create(dim: int, **options: Any) -> FaissIndex:
    """Registry factory (``("index", "faiss")``); options as ``FaissIndex``."""
    return FaissIndex(dim, **options)
