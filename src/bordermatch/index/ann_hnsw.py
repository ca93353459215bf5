"""HNSW over float32 storage: the ``"hnsw"`` method of ``FaissIndex``.

No training and high recall, but slower per query than IVF-PQ here, and slow to build on
few cores (minutes per 100k vectors). FAISS cannot delete from the graph: a removed label
stays tombstoned (an ID selector excludes it from searches) and its stored vector is
overwritten with zeros at once, so the template leaves memory although its node stays for
routing until the index rebuilds the graph from the live vectors. Memory: a second float32
copy of the gallery (besides the index's own) plus about 2 * M * 4 bytes of links a vector.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from bordermatch.index._ann_method import AnnOptions, Kept


class Hnsw:
    """The ``"hnsw"`` method (``AnnMethod``): a graph that exists from the start."""

    nlist = None
    nprobe = None

    def __init__(self, faiss: Any, dim: int, options: AnnOptions) -> None:
        self._faiss, self._dim, self._options = faiss, dim, options
        # Scores come straight from float32 storage, so nothing is re-ranked; kept so that
        # ``FaissIndex.rerank`` reads the same whatever the method.
        self.rerank = options.rerank
        self.index: Any = self._new_graph()
        self._params: Any = None  # SearchParametersHNSW, built once per set of tombstones

    def needs_retrain(self, live: int) -> bool:
        return False

    def add(self, vectors: NDArray[np.float32], labels: NDArray[np.int64]) -> None:
        self.index.add(vectors)  # HNSW numbers vectors in insertion order, as the index does

    def search(self, queries: NDArray[np.float32], k: int,
               kept: Kept) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        return self.index.search(queries, k, params=self._search_params(kept))

    def forget(self, labels: NDArray[np.int64]) -> None:
        faiss = self._faiss
        storage = faiss.downcast_index(self.index.storage)
        stored = faiss.rev_swig_ptr(storage.get_xb(), storage.ntotal * self._dim)
        np.asarray(stored).reshape(storage.ntotal, self._dim)[labels] = 0.0
        self._params = None

    def rebuild(self, kept: Kept, *, retrain: bool) -> None:
        self.index = self._new_graph()
        self._params = None
        if len(kept.vectors):
            self.index.add(kept.vectors)

    def _search_params(self, kept: Kept) -> Any:
        """Search parameters excluding tombstones; built once per removal, not per query."""
        if self._params is None:
            faiss = self._faiss
            params = faiss.SearchParametersHNSW(efSearch=self._options.ef_search)
            if kept.tombstones:
                dead = np.fromiter(kept.tombstones, np.int64, len(kept.tombstones))
                batch = faiss.IDSelectorBatch(dead)  # copies the labels
                params.sel = faiss.IDSelectorNot(batch)
                params._keep = batch  # the Not selector holds a raw pointer to it
            self._params = params
        return self._params

    def _new_graph(self) -> Any:
        faiss = self._faiss
        index = faiss.IndexHNSWFlat(self._dim, self._options.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self._options.ef_construction
        return index
