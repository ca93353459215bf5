"""Every Index backend, through the registry, against the same contract and against exact search."""

from __future__ import annotations

import numpy as np
import pytest

from bordermatch import registry
from bordermatch.errors import InputError, VectorError
from bordermatch.protocols import Index

DIM = 32

BACKENDS = {
    "flat": ("flat", {}),
    # min_train below the gallery size, so the trained IVF path is what gets tested.
    "faiss-ivfpq": ("faiss", {"method": "ivfpq", "min_train": 1000}),
    "faiss-ivfpq-untrained": ("faiss", {"method": "ivfpq", "min_train": 100_000}),
    "faiss-hnsw": ("faiss", {"method": "hnsw"}),
    "milvus-lite": ("milvus", {}),
}
NEEDS = {"faiss": ("faiss",), "milvus": ("pymilvus", "milvus_lite")}


def unit(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)


def gallery(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    return [f"traveller-{i}" for i in range(n)], unit(rng.standard_normal((n, DIM)))


def mated_queries(x: np.ndarray, rows: np.ndarray, cos: float, seed: int = 1) -> np.ndarray:
    """Unit queries at exactly ``cos`` from the given gallery rows."""
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((len(rows), x.shape[1])).astype(np.float32)
    u -= (u * x[rows]).sum(1, keepdims=True) * x[rows]
    return unit(cos * x[rows] + np.sqrt(1 - cos**2) * unit(u))


@pytest.fixture(scope="module")
def milvus_uri(tmp_path_factory) -> str:
    """One embedded Milvus Lite database per module (it takes seconds to start)."""
    return str(tmp_path_factory.mktemp("milvus") / "gallery.db")


@pytest.fixture(params=list(BACKENDS))
def make(request):
    name, options = BACKENDS[request.param]
    for module in NEEDS.get(name, ()):
        pytest.importorskip(module)
    if name == "milvus":
        # A fresh collection per index, in the module's one Milvus Lite database.
        uri, count = request.getfixturevalue("milvus_uri"), iter(range(1000))
        prefix = request.node.name.split("[")[0]
        return lambda: registry.create("index", "milvus", dim=DIM, uri=uri,
                                       collection=f"{prefix}_{next(count)}")
    return lambda: registry.create("index", name, dim=DIM, **options)


def test_is_an_index(make) -> None:
    assert isinstance(make(), Index)


def test_self_search_and_result_shape(make) -> None:
    ids, x = gallery(2000)
    index = make()
    index.add(ids, x)
    assert len(index) == 2000
    scores, found = index.search(x[:50], k=5)
    assert scores.shape == (50, 5) and scores.dtype == np.float32
    assert [row[0] for row in found] == ids[:50]
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)
    assert (np.diff(scores, axis=1) <= 1e-6).all()  # descending


def test_agrees_with_exact_search(make) -> None:
    ids, x = gallery(3000)
    exact = registry.create("index", "flat", dim=DIM)
    index = make()
    for part in range(3):  # several add() calls, as enrolment does
        sl = slice(part * 1000, (part + 1) * 1000)
        exact.add(ids[sl], x[sl])
        index.add(ids[sl], x[sl])
    rows = np.random.default_rng(2).choice(3000, 300, replace=False)
    queries = mated_queries(x, rows, cos=0.8)
    truth = [r[0] for r in exact.search(queries, 1)[1]]
    assert truth == [ids[r] for r in rows]  # the mate is the true nearest neighbour
    scores, found = index.search(queries, 1)
    recall = np.mean([f[:1] == [t] for f, t in zip(found, truth, strict=True)])
    assert recall >= 0.95
    hits = np.array([f[:1] == [t] for f, t in zip(found, truth, strict=True)])
    np.testing.assert_allclose(scores[hits, 0], 0.8, atol=1e-4)  # exact cosines come back


def test_remove_purges(make) -> None:
    ids, x = gallery(1500)
    index = make()
    index.add(ids, x)
    gone = ids[:400:2]
    assert index.remove([*gone, "never-enrolled"]) == len(gone)
    assert index.remove(gone) == 0
    assert len(index) == 1500 - len(gone)
    assert not any(g in index for g in gone)
    _, found = index.search(x[:400], k=3)
    assert not {i for row in found for i in row} & set(gone)
    assert [row[0] for row in found[1::2]] == ids[1:400:2]
    index.add(gone[:1], x[:1])  # a removed id can be enrolled again
    assert index.search(x[:1], 1)[1] == [[gone[0]]]


def test_small_and_empty(make) -> None:
    index = make()
    scores, found = index.search(gallery(3)[1], k=4)
    assert scores.shape == (3, 0) and found == [[], [], []]
    ids, x = gallery(3)
    index.add(ids, x)
    scores, found = index.search(x[:1], k=10)
    assert scores.shape == (1, 3) and found[0][0] == ids[0] and sorted(found[0]) == sorted(ids)


def test_bad_input_raises_and_changes_nothing(make) -> None:
    ids, x = gallery(10)
    index = make()
    index.add(ids[:5], x[:5])
    bad_vectors = {
        "wrong dim": unit(np.ones((2, DIM + 1))),
        "not normalised": np.ones((2, DIM), np.float32),
        "nan": np.full((2, DIM), np.nan, np.float32),
        "zero": np.zeros((2, DIM), np.float32),
        "integers": np.ones((2, DIM), np.int64),
        "3-d": x[None, 5:7],
    }
    for what, vectors in bad_vectors.items():
        with pytest.raises(VectorError):
            index.add(ids[5:7], vectors)
        assert len(index) == 5, what
    with pytest.raises(InputError):
        index.add(["a", "a"], x[5:7])  # duplicate in one call
    with pytest.raises(InputError):
        index.add([ids[0], "new"], x[5:7])  # already enrolled
    with pytest.raises(InputError):
        index.add(["only one"], x[5:7])
    with pytest.raises(InputError):
        index.add("ab", x[5:7])
    with pytest.raises(InputError):
        index.add(["", "b"], x[5:7])
    assert len(index) == 5 and "a" not in index and "new" not in index
    for k in (0, -1, 1.5, True):
        with pytest.raises(InputError):
            index.search(x[:1], k)
    with pytest.raises(VectorError):
        index.search(np.ones((1, DIM), np.float32), 1)
    assert index.search(x[0], 1)[1] == [[ids[0]]]  # one query as a 1-d vector is fine
