"""Input checks, the string-id <-> row-label map and the lock shared by the index backends."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence

import numpy as np
from numpy.typing import NDArray

from bordermatch.errors import InputError, VectorError

# Embedders normalise in float32; anything further from unit length was not normalised,
# and inner product would then no longer be cosine similarity.
NORM_TOLERANCE = 1e-3


def check_dim(dim: int) -> int:
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 1:
        raise InputError(f"index dimension must be a positive integer, got {dim!r}")
    return int(dim)


def check_vectors(vectors: NDArray, dim: int, what: str = "vectors") -> NDArray[np.float32]:
    """C-contiguous float32 (n, dim) rows of unit length, or VectorError."""
    arr = np.asarray(vectors)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise VectorError(f"{what} must have shape (n, {dim}), got {np.shape(vectors)}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise VectorError(f"{what} must be floating point, got {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise VectorError(f"{what} contain NaN or infinity")
    if len(arr):
        norms = np.linalg.norm(arr, axis=1)
        bad = np.flatnonzero(np.abs(norms - 1.0) > NORM_TOLERANCE)
        if len(bad):
            raise VectorError(
                f"{what} must be L2-normalised; row {bad[0]} has norm {norms[bad[0]]:.4f}"
            )
    return arr


def check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InputError(f"k must be a positive integer, got {k!r}")
    return int(k)


def check_new_ids(ids: Sequence[str], n: int, existing: dict[str, int]) -> list[str]:
    if isinstance(ids, str):
        raise InputError("ids must be a sequence of strings, not one string")
    ids = list(ids)
    if len(ids) != n:
        raise InputError(f"{len(ids)} ids for {n} vectors")
    for i in ids:
        if not isinstance(i, str) or not i:
            raise InputError(f"index ids must be non-empty strings, got {i!r}")
    if len(set(ids)) != len(ids):
        raise InputError("duplicate ids in one add() call")
    clash = next((i for i in ids if i in existing), None)
    if clash is not None:
        raise InputError(f"id {clash!r} is already in the index; remove it first")
    return ids


class RWLock:
    """Many concurrent searches, or one writer. Writers wait for searches in flight."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._readers:
                self._cond.wait()
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()
