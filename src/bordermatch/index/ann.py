"""Approximate 1:N search with FAISS, for galleries too large for exact search.

Two structures, chosen by measurement (docs/benchmarks.md, "1:N search"):

``ivf`` (default): IVF-Flat, inner product. Vectors are clustered into ``nlist`` cells by
k-means; a query scans the ``nprobe`` cells whose centroids are nearest. It stores the
full float32 vectors, so scores are exact cosines for whatever it does scan. Cheap to build
(k-means on a sample), and it removes natively: ``remove`` deletes the vectors from their
inverted lists at once, which is what retention purges need. IVF must be trained before it
can hold vectors, so until ``min_train`` vectors have been added they are searched exactly;
the first ``add`` that crosses the threshold trains it. When the gallery has grown
``regrow_factor`` times past the size it was trained at, the next ``add`` retrains with
more cells (``rebuild``) so that lists stay short.

``hnsw``: HNSW graph over flat storage. No training, but slower to build and FAISS cannot
delete from the graph. Removal therefore tombstones the label (searches exclude it through
an ID selector) and overwrites the stored vector with zeros at once, so the template is
gone from memory even though its graph node remains for routing; once tombstones exceed
``rebuild_fraction`` of the index the graph is rebuilt from the live vectors.

Both map the caller's string ids to int64 labels; scores are inner products, which equal
cosine similarity for the L2-normalised vectors the Index protocol requires. A row of the
result may hold fewer than ``k`` ids when the probed cells held fewer live vectors; its
trailing scores are then ``-inf``.
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

Method = Literal["ivf", "hnsw"]

# Defaults measured on random unit vectors (worst case: no cluster structure) for
# recall@1 >= 99.5% against exact search; see docs/benchmarks.md.
IVF_CELLS_PER_SQRT_N = 4  # nlist ~ 4 sqrt(n), rounded to a power of two
IVF_PROBE_FRACTION = 1 / 16  # nprobe = nlist / 16
IVF_TRAIN_PER_CELL = 40  # k-means sample: FAISS warns below 39 points per centroid
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256


def _pow2(x: float) -> int:
    return 1 << max(0, round(math.log2(max(1.0, x))))


def ivf_cells(n: int) -> int:
    return max(16, min(1 << 16, _pow2(IVF_CELLS_PER_SQRT_N * math.sqrt(n))))


class FaissIndex:
    """Approximate inner-product index over L2-normalised float32 vectors (Index protocol).

    ``add`` / ``search`` / ``remove`` as ``FlatIndex``; ``rebuild`` re-creates the FAISS
    structure from the live vectors. Thread-safe: searches run concurrently, writers
    exclusively. ``nprobe`` (IVF) and ``ef_search`` (HNSW) trade recall for latency; the
    defaults are the measured operating point for recall@1 >= 99.5%.
    """

    name = "faiss"

    def __init__(
        self,
        dim: int,
        *,
        method: Method = "ivf",
        nlist: int | None = None,
        nprobe: int | None = None,
        min_train: int = 20_000,
        regrow_factor: float = 8.0,
        hnsw_m: int = HNSW_M,
        ef_construction: int = HNSW_EF_CONSTRUCTION,
        ef_search: int = HNSW_EF_SEARCH,
        rebuild_fraction: float = 0.2,
        threads: int | None = None,
    ) -> None:
        import faiss  # heavy: only when an ANN index is actually built

        if method not in ("ivf", "hnsw"):
            raise ConfigError(f"unknown FAISS method {method!r}; use 'ivf' or 'hnsw'")
        for name, value in (("nlist", nlist), ("nprobe", nprobe)):
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be positive, got {value}")
        if min_train < 1 or regrow_factor <= 1 or not 0 < rebuild_fraction < 1:
            raise ConfigError("min_train >= 1, regrow_factor > 1, 0 < rebuild_fraction < 1")
        self._faiss = faiss
        if threads is not None:
            faiss.omp_set_num_threads(threads)
        self.dim = check_dim(dim)
        self.method: Method = method
        self._nlist_fixed, self._nprobe_fixed = nlist, nprobe
        self._min_train, self._regrow = min_train, regrow_factor
        self._hnsw = (hnsw_m, ef_construction, ef_search)
        self._rebuild_fraction = rebuild_fraction
        self._lock = RWLock()
        self._ids: list[str | None] = []  # by label; None once removed
        self._label: dict[str, int] = {}
        self._index: Any = None  # the FAISS index; None while IVF is untrained
        self._staged = np.zeros((0, self.dim), np.float32)  # IVF, before training
        self._trained_at = 0
        self._tombstones: set[int] = set()  # HNSW only
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
    def nlist(self) -> int | None:
        return self._index.nlist if self.method == "ivf" and self._index is not None else None

    @property
    def nprobe(self) -> int | None:
        return self._index.nprobe if self.method == "ivf" and self._index is not None else None

    def add(self, ids: Sequence[str], vectors: NDArray[np.float32]) -> None:
        vectors = check_vectors(vectors, self.dim)
        with self._lock.write():
            ids = check_new_ids(ids, len(vectors), self._label)
            labels = np.arange(len(self._ids), len(self._ids) + len(ids), dtype=np.int64)
            self._ids.extend(ids)
            self._label.update(zip(ids, labels.tolist(), strict=True))
            if self.method == "hnsw":
                self._index.add(vectors)  # HNSW labels are insertion order, as ours are
            elif self._index is None:
                self._staged = np.concatenate([self._staged, vectors])
                if len(self._staged) >= self._min_train:
                    self._rebuild_locked()
            else:
                self._index.add_with_ids(vectors, labels)
                if len(self._label) > self._regrow * self._trained_at and not self._nlist_fixed:
                    self._rebuild_locked()

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
                scores, labels = _exact(self._staged, queries, kk)
            else:
                scores, labels = self._index.search(queries, kk, params=self._params())
            ids = self._ids
            out = [[ids[lab] for lab in row if lab >= 0] for row in labels.tolist()]
        scores = np.where(labels >= 0, scores, -np.inf).astype(np.float32)
        return scores, out

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
            if self._index is None:
                # Staged rows are in label order; keep only live ones (labels stay valid).
                self._compact_staged()
            elif self.method == "ivf":
                removed = self._index.remove_ids(self._faiss.IDSelectorBatch(labels))
                if removed != len(labels):
                    log.error("FAISS removed %d of %d vectors", removed, len(labels))
            else:
                self._erase_hnsw(labels)
            return len(labels)

    def rebuild(self) -> None:
        """Re-create the FAISS structure from the live vectors (retrain IVF / compact HNSW)."""
        with self._lock.write():
            self._rebuild_locked()

    # -- internals ----------------------------------------------------------------------

    def _params(self) -> Any:
        faiss = self._faiss
        if self.method == "ivf":
            return faiss.SearchParametersIVF(nprobe=self._index.nprobe)
        params = faiss.SearchParametersHNSW(efSearch=self._hnsw[2])
        if self._tombstones:
            dead = np.fromiter(self._tombstones, np.int64, len(self._tombstones))
            # The selector holds a pointer into `dead`; both live until the search ends
            # because the params object keeps references to them.
            batch = faiss.IDSelectorBatch(dead)
            params.sel = faiss.IDSelectorNot(batch)
            params._keep = (dead, batch)
        return params

    def _new_hnsw(self) -> Any:
        m, ef_c, _ = self._hnsw
        index = self._faiss.IndexHNSWFlat(self.dim, m, self._faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_c
        return index

    def _live_vectors(self) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Every live vector and its label, read back out of the current structure."""
        if self._index is None:
            live = np.array([lab for lab, i in enumerate(self._ids) if i is not None],
                            dtype=np.int64)
            return self._staged, live
        faiss = self._faiss
        if self.method == "hnsw":
            storage = faiss.downcast_index(self._index.storage)
            vectors = faiss.rev_swig_ptr(storage.get_xb(), storage.ntotal * self.dim)
            vectors = np.asarray(vectors).reshape(storage.ntotal, self.dim)
            labels = np.array([lab for lab, i in enumerate(self._ids) if i is not None],
                              dtype=np.int64)
            return vectors[labels].copy(), labels
        invlists = self._index.invlists
        parts, part_labels = [], []
        for cell in range(invlists.nlist):
            size = invlists.list_size(cell)
            if not size:
                continue
            codes = faiss.rev_swig_ptr(invlists.get_codes(cell), size * invlists.code_size)
            parts.append(np.frombuffer(bytes(codes), np.float32).reshape(size, self.dim))
            part_labels.append(
                np.array(faiss.rev_swig_ptr(invlists.get_ids(cell), size), np.int64))
        if not parts:
            return np.zeros((0, self.dim), np.float32), np.zeros(0, np.int64)
        return np.concatenate(parts), np.concatenate(part_labels)

    def _rebuild_locked(self) -> None:
        vectors, labels = self._live_vectors()
        order = np.argsort(labels)
        vectors, labels = vectors[order], labels[order]
        # Renumber densely so HNSW insertion order matches our labels again.
        new_ids = [self._ids[lab] for lab in labels.tolist()]
        self._ids = list(new_ids)
        self._label = {i: n for n, i in enumerate(new_ids)}
        self._tombstones = set()
        dense = np.arange(len(new_ids), dtype=np.int64)
        if self.method == "hnsw":
            self._index = self._new_hnsw()
            if len(vectors):
                self._index.add(np.ascontiguousarray(vectors))
            return
        if len(vectors) < self._min_train and self._index is None:
            self._staged = np.ascontiguousarray(vectors)
            return
        self._index = self._train_ivf(vectors)
        self._index.add_with_ids(np.ascontiguousarray(vectors), dense)
        self._staged = np.zeros((0, self.dim), np.float32)
        self._trained_at = len(vectors)

    def _train_ivf(self, vectors: NDArray[np.float32]) -> Any:
        faiss = self._faiss
        n = len(vectors)
        nlist = self._nlist_fixed or ivf_cells(n)
        nlist = min(nlist, max(1, n // IVF_TRAIN_PER_CELL))
        quantizer = faiss.IndexFlatIP(self.dim)
        index = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.own_fields = True
        quantizer.this.disown()  # the IVF index now frees it
        sample_size = min(n, nlist * IVF_TRAIN_PER_CELL)
        rng = np.random.default_rng(0)  # deterministic centroids for a given gallery
        sample = vectors[np.sort(rng.choice(n, sample_size, replace=False))]
        index.train(np.ascontiguousarray(sample))
        index.nprobe = min(nlist, self._nprobe_fixed or max(1, round(nlist * IVF_PROBE_FRACTION)))
        log.info("trained IVF-Flat: %d vectors, nlist=%d, nprobe=%d", n, nlist, index.nprobe)
        return index

    def _compact_staged(self) -> None:
        live = [lab for lab, i in enumerate(self._ids) if i is not None]
        # Staged rows correspond to labels in order, including ones removed earlier.
        rows = np.zeros(len(self._ids), bool)
        rows[live] = True
        self._staged = self._staged[rows[: len(self._staged)]]
        new_ids = [self._ids[lab] for lab in live]
        self._ids = list(new_ids)
        self._label = {i: n for n, i in enumerate(new_ids)}

    def _erase_hnsw(self, labels: NDArray[np.int64]) -> None:
        faiss = self._faiss
        storage = faiss.downcast_index(self._index.storage)
        flat = faiss.rev_swig_ptr(storage.get_xb(), storage.ntotal * self.dim)
        np.asarray(flat).reshape(storage.ntotal, self.dim)[labels] = 0.0
        self._tombstones.update(labels.tolist())
        if len(self._tombstones) > self._rebuild_fraction * storage.ntotal:
            self._rebuild_locked()


def _exact(vectors: NDArray[np.float32], queries: NDArray[np.float32],
           k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Top k by inner product over a small staged set (labels are row numbers)."""
    scores = queries @ vectors.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, 1), order.astype(np.int64)


def create(dim: int, **options: Any) -> FaissIndex:
    """Registry factory (``("index", "faiss")``); options as ``FaissIndex``."""
    return FaissIndex(dim, **options)
