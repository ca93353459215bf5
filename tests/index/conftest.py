"""Run FAISS single-threaded in tests.

On a small, shared CI machine OpenMP threads that spin at every barrier while their core
is taken by another process make FAISS k-means 10-20x slower than one thread (measured:
0.8 s vs 12 s to train a 4,000-vector IVF-PQ under load). Results do not depend on it.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _faiss_one_thread():
    try:
        import faiss
    except ImportError:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)
