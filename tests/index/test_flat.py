"""Exact index: identical to brute force, chunking invisible, purged rows really gone."""

from __future__ import annotations

import threading

import numpy as np

from bordermatch.index import flat
from bordermatch.index.flat import FlatIndex


def unit(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)


def test_matches_brute_force_and_chunking_is_invisible(monkeypatch) -> None:
    rng = np.random.default_rng(0)
    x, q = unit(rng.standard_normal((3000, 16))), unit(rng.standard_normal((40, 16)))
    ids = [str(i) for i in range(3000)]
    index = FlatIndex(16)
    index.add(ids, x)
    whole = index.search(q, 7)
    brute = q @ x.T
    order = np.argsort(-brute, axis=1, kind="stable")[:, :7]
    np.testing.assert_allclose(whole[0], np.take_along_axis(brute, order, 1), rtol=1e-5)
    assert whole[1] == [[ids[j] for j in row] for row in order]
    monkeypatch.setattr(flat, "_SCORE_BUDGET", 40 * 100)  # 100-row chunks
    chunked = index.search(q, 7)
    # float32 GEMM rounds differently with the block size (last-bit differences, seen with
    # OpenBLAS under load); the candidates and their order must not change.
    np.testing.assert_allclose(chunked[0], whole[0], rtol=1e-6, atol=1e-7)
    assert chunked[1] == whole[1]


def test_equal_scores_come_back_in_insertion_order() -> None:
    v = unit(np.ones((1, 4)))
    index = FlatIndex(4)
    index.add(["c", "a", "b"], np.repeat(v, 3, axis=0))
    assert index.search(v, 3)[1] == [["c", "a", "b"]]


def test_remove_zeroes_the_freed_rows() -> None:
    rng = np.random.default_rng(1)
    x = unit(rng.standard_normal((50, 8)))
    index = FlatIndex(8)
    index.add([str(i) for i in range(50)], x)
    index.remove([str(i) for i in range(0, 50, 5)])
    assert len(index) == 40
    storage = index._vectors  # white-box: the purged templates must not linger in memory
    assert not storage[40:].any()
    for row in x[::5]:
        assert not np.isclose(storage @ row, 1.0, atol=1e-6).any()
    np.testing.assert_array_equal(index.vectors(["1", "49"]), x[[1, 49]])


def test_concurrent_searches_and_writes() -> None:
    rng = np.random.default_rng(2)
    x = unit(rng.standard_normal((4000, 16)))
    index = FlatIndex(16)
    index.add([f"g{i}" for i in range(1000)], x[:1000])
    errors: list[BaseException] = []

    def searcher() -> None:
        try:
            for _ in range(50):
                _, found = index.search(x[:20], 3)
                assert found[0][0] == "g0" and len(found) == 20
        except BaseException as e:  # reported below; a thread cannot fail the test itself
            errors.append(e)

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(1000, 4000, 100):
        index.add([f"g{j}" for j in range(i, i + 100)], x[i:i + 100])
        index.remove([f"g{i + 5}"])
    for t in threads:
        t.join()
    assert errors == []
    assert len(index) == 4000 - 30
