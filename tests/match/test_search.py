"""1:N search (several references per traveller) and one-to-one assignment."""

from __future__ import annotations

import numpy as np
import pytest

from bordermatch.errors import ConfigError
from bordermatch.match.search import GallerySearch, assign_one_to_one


def _unit(rng, n, d=16):
    v = rng.normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_search_ranks_the_mate_first():
    rng = np.random.default_rng(0)
    g = _unit(rng, 50)
    search = GallerySearch([f"T{i}" for i in range(50)], g)
    probes = g[[3, 7]] + 0.1 * _unit(rng, 2)
    cands = search.search(probes, k=5)
    assert [c[0].traveler_id for c in cands] == ["T3", "T7"]
    assert all(c[0].rank == 1 and c[0].score >= c[1].score for c in cands)
    with pytest.raises(ConfigError):
        search.scores(np.zeros((1, 3), np.float32))


def test_assignment_resolves_a_conflict_optimally():
    # Both tracks prefer column 0; the total is best when track 1 takes column 1.
    scores = np.array([[0.9, 0.1, 0.0], [0.8, 0.7, 0.0]], np.float32)
    assert assign_one_to_one(scores, floor=0.3) == [0, 1]


def test_assignment_never_reuses_a_column_and_respects_the_floor():
    scores = np.array([[0.9, 0.2], [0.85, 0.1], [0.1, 0.1]], np.float32)
    cols = assign_one_to_one(scores, floor=0.3)
    assert cols == [0, None, None]
    assert assign_one_to_one(np.zeros((0, 4)), 0.3) == []


def test_a_traveller_scores_the_best_of_their_references():
    rng = np.random.default_rng(1)
    g = _unit(rng, 6)
    # T1 holds three references (rows 1, 3, 5), T0 and T2 one each.
    search = GallerySearch(["T0", "T1", "T2", "T1", "T4", "T1"], g)
    assert search.ids == ("T0", "T1", "T2", "T4")
    assert search.references.tolist() == [1, 3, 1, 1]
    s = search.scores(g)
    assert s.shape == (6, 4)
    for probe in (1, 3, 5):  # each of T1's photos finds T1 at its own score
        assert s[probe, search.column_of("T1")] == pytest.approx(1.0, abs=1e-6)
    expected = np.max(g[[1, 3, 5]] @ g[0])
    assert s[0, search.column_of("T1")] == pytest.approx(expected)
    assert [c.traveler_id for c in search.search(g[3:4], k=4)[0]][:1] == ["T1"]


def test_an_empty_gallery_scores_nothing():
    search = GallerySearch([], np.zeros((0, 16), np.float32))
    assert len(search) == 0
    assert search.scores(np.ones((2, 16), np.float32)).shape == (2, 0)
