"""The normalisation cohort: one draw whichever way a gallery is held (match.cohort)."""

from __future__ import annotations

import numpy as np
import pytest

from bordermatch.match import cohort as cohort_module
from bordermatch.match.cohort import Cohort, WholeGallery, evenly
from bordermatch.match.normalise import normalise, t_norm
from bordermatch.match.search import GallerySearch


def _unit(rng: np.random.Generator, n: int, dim: int = 16) -> np.ndarray:
    v = rng.normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_column_stats_leave_each_travellers_own_photos_out():
    v = _unit(np.random.default_rng(5), 6)
    search = GallerySearch(["A", "A", "B", "C", "D", "E"], v)  # A holds two photos
    mean, spread = Cohort.of(search).column_stats(search)
    per_traveller = search.scores(v)  # every photo as a probe
    own = {"A": [0, 1], "B": [2], "C": [3], "D": [4], "E": [5]}
    for j, t in enumerate(search.ids):
        others = [r for r in range(6) if r not in own[t]]
        assert mean[j] == pytest.approx(per_traveller[others, j].mean(), abs=1e-6)
        assert spread[j] == pytest.approx(per_traveller[others, j].std(), abs=1e-5)


def test_a_subset_of_columns_gets_the_whole_gallerys_stats(monkeypatch):
    """A shortlisted vehicle's columns are normalised exactly as on the whole gallery."""
    monkeypatch.setattr(cohort_module, "COHORT_REFERENCES", 7)
    monkeypatch.setattr(cohort_module, "COHORT_TRAVELLERS", 5)
    rng = np.random.default_rng(8)
    ids = [f"T{i % 12:02d}" for i in range(30)]  # 12 travellers, 2-3 photos each
    whole = GallerySearch(ids, _unit(rng, 30))
    cohort = Cohort.of(whole)
    assert len(cohort.references) == 7 and len(cohort) == 5
    assert len(cohort.rows.vectors) == sum(ids.count(t) for t in cohort.rows.ids)
    mean, spread = cohort.column_stats(whole)
    assert cohort.column_stats(whole)[0] is mean  # kept for the whole gallery
    chosen = ["T03", "T07", "T11"]
    owners = [t for t in chosen for _ in range(ids.count(t))]
    part = GallerySearch(owners, _rows(whole, chosen))
    pm, ps = cohort.column_stats(part)
    cols = [whole.column_of(t) for t in part.ids]
    assert np.allclose(pm, mean[cols]) and np.allclose(ps, spread[cols])


def _rows(search: GallerySearch, travellers: list[str]) -> np.ndarray:
    starts = np.r_[0, np.cumsum(search.references)]
    return np.concatenate([search.vectors[starts[j]:starts[j + 1]]
                           for j in (search.column_of(t) for t in travellers)])


def test_t_norm_against_a_cohort_equals_the_whole_row_when_the_cohort_is_the_row():
    s = np.random.default_rng(2).normal(size=(3, 250)).astype(np.float32)
    z = t_norm(s[:, :4], s)
    assert np.allclose(z.scores, t_norm(s).scores[:, :4], atol=1e-5)
    n = normalise(s[:, :4], "tnorm", row_scores=s)
    assert np.allclose(n.scores, z.scores)


def test_whole_gallery_decides_on_every_traveller_and_keeps_its_cohort():
    search = GallerySearch(["A", "B"], _unit(np.random.default_rng(1), 2))
    gallery = WholeGallery(search)
    assert gallery.columns(search.vectors, {"A"}, 3) is search and len(gallery) == 2
    assert gallery.cohort() is gallery.cohort()


def test_evenly_spaced_draw():
    assert list(evenly(10, 4)) == [0, 3, 6, 9]
    assert list(evenly(3, 10)) == [0, 1, 2] and len(evenly(0, 5)) == 0
