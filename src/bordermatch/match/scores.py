"""1:1 comparison scores. Pure functions; higher means more similar."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def cosine(a: NDArray, b: NDArray) -> float:
    """Cosine similarity in [-1, 1] of two vectors (need not be normalised)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"vector shapes differ: {a.shape} vs {b.shape}")
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        raise ValueError("zero vector has no direction")
    return float(a @ b / (na * nb))


def cosine_matrix(a: NDArray, b: NDArray) -> NDArray[np.float32]:
    """All-pairs cosine similarity of the rows of a (m, d) and b (n, d): shape (m, n)."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return a @ b.T
