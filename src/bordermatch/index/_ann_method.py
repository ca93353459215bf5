"""The contract between ``FaissIndex`` and its methods (``ann_ivfpq``, ``ann_hnsw``).

``FaissIndex`` owns everything the methods have in common: the float32 copy of the gallery,
the string ids, the tombstones, exact search and the renumbering on rebuild. A method owns
only its FAISS structure and how that is built, filled, searched and purged. This module
sits apart from ``ann.py`` so that the method modules can import it without importing the
index that chooses between them.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np
from numpy.typing import NDArray

from bordermatch.errors import ConfigError


@dataclass(frozen=True, slots=True)
class AnnOptions:
    """``FaissIndex``'s tuning options, validated once; each method reads its own."""

    nlist: int | None
    nprobe: int | None
    rerank: int
    pq_dims: int
    target_recall: float
    calibration_cos: float
    min_train: int
    regrow_factor: float
    hnsw_m: int
    ef_construction: int
    ef_search: int
    rebuild_fraction: float

    def __post_init__(self) -> None:
        positive = {"nlist": self.nlist, "nprobe": self.nprobe, "rerank": self.rerank,
                    "hnsw_m": self.hnsw_m, "ef_construction": self.ef_construction,
                    "ef_search": self.ef_search, "min_train": self.min_train,
                    "pq_dims": self.pq_dims}
        for key, value in positive.items():
            if value is not None and value < 1:
                raise ConfigError(f"{key} must be positive, got {value}")
        if not (0 < self.target_recall <= 1 and 0 < self.calibration_cos < 1
                and self.regrow_factor > 1 and 0 < self.rebuild_fraction < 1):
            raise ConfigError("need 0 < target_recall <= 1, 0 < calibration_cos < 1, "
                              "regrow_factor > 1 and 0 < rebuild_fraction < 1")


class Kept(NamedTuple):
    """The index's float32 rows by label, which are live, and which labels are tombstoned.

    Read-only for a method: the index alone appends, zeroes and renumbers them.
    """

    vectors: NDArray[np.float32]
    alive: NDArray[np.bool_]
    tombstones: Set[int]


class AnnMethod(Protocol):
    """One FAISS structure behind ``FaissIndex``; built by ``METHODS[name](faiss, dim, options)``.

    Every call happens under the index's lock (``search`` under the read lock, the rest
    under the write lock), after the index has updated ``Kept``.
    """

    index: Any  # the FAISS index; None while it cannot hold vectors (untrained IVF-PQ)
    rerank: int

    @property
    def nlist(self) -> int | None: ...

    @property
    def nprobe(self) -> int | None: ...

    def needs_retrain(self, live: int) -> bool:
        """Whether adding up to ``live`` vectors calls for ``rebuild(retrain=True)``."""
        ...

    def add(self, vectors: NDArray[np.float32], labels: NDArray[np.int64]) -> None: ...

    def search(self, queries: NDArray[np.float32], k: int,
               kept: Kept) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Top ``k`` labels per query, -1 where the structure found fewer live vectors."""
        ...

    def forget(self, labels: NDArray[np.int64]) -> None:
        """Labels just tombstoned: drop what the structure itself still holds of them."""
        ...

    def rebuild(self, kept: Kept, *, retrain: bool) -> None:
        """Rebuild over ``kept``, whose rows are all live and labelled 0..n-1."""
        ...
