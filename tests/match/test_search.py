"""1:N search, one-to-one assignment and FPIR thresholds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bordermatch.errors import ConfigError, MetricError
from bordermatch.match.search import (
    GallerySearch,
    OpenSetThresholds,
    assign_one_to_one,
    calibrate_open_set,
    fnir,
    fpir,
    threshold_for_fpir,
)
from bordermatch.types import Outcome


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


@given(st.lists(st.floats(-1, 1), min_size=1, max_size=300),
       st.sampled_from([0.001, 0.01, 0.05, 0.2]))
def test_threshold_meets_the_target_fpir(scores, target):
    s = np.array(scores)
    t = threshold_for_fpir(s, target)
    assert fpir(s, t) <= target + 1e-12
    # Any lower threshold from the sample would exceed the target (t is the lowest).
    lower = s[s < t]
    if lower.size:
        assert fpir(s, lower.max()) > target or np.isclose(lower.max(), t)


def test_threshold_input_errors():
    with pytest.raises(MetricError):
        threshold_for_fpir(np.array([]), 0.01)
    with pytest.raises(MetricError):
        threshold_for_fpir(np.array([0.1, np.nan]), 0.01)
    with pytest.raises(MetricError):
        threshold_for_fpir(np.array([0.1]), 1.5)


def test_open_set_decisions_and_roundtrip(tmp_path):
    nonmated = np.linspace(0.0, 0.4, 1000)
    th = calibrate_open_set("sface", nonmated, np.array([0.6, 0.7]), target_fpir=0.001,
                            review_fpir=0.01, source="unit")
    assert th.match > th.review > 0.39
    assert th.decide(th.match) is Outcome.MATCH  # ties match
    assert th.decide((th.match + th.review) / 2) is Outcome.REVIEW
    assert th.decide(0.0) is Outcome.NO_MATCH
    assert th.decide(None) is Outcome.NO_CAPTURE
    path = tmp_path / "t.json"
    th.save(path)
    assert OpenSetThresholds.load(path) == th
    path.write_text("{}")
    with pytest.raises(ConfigError):
        OpenSetThresholds.load(path)
    with pytest.raises(ConfigError):
        calibrate_open_set("m", nonmated, nonmated, target_fpir=0.1, review_fpir=0.01, source="")


def test_fnir_counts_wrong_rank1_as_a_miss():
    rate = fnir(np.array([0.9, 0.9, 0.2]), np.array([True, False, True]), 0.5)
    assert rate == pytest.approx(2 / 3)
    with pytest.raises(MetricError):
        fnir(np.array([0.9]), np.array([True, False]), 0.5)


def test_alias_in_doubt_needs_the_partner_to_score_too():
    from bordermatch.match.search import alias_in_doubt

    aliases = {"A": {"B", "GONE"}, "B": {"A"}}
    scores = {"A": 0.9, "B": 0.55}
    assert alias_in_doubt("A", aliases, scores.get, 0.5)  # B reaches the floor
    assert alias_in_doubt("A", aliases, scores.get, 0.55)  # ties count
    assert not alias_in_doubt("A", aliases, scores.get, 0.6)  # a look-alike told apart
    assert not alias_in_doubt("C", aliases, scores.get, 0.0)  # not flagged
    assert not alias_in_doubt("A", {"A": {"GONE"}}, scores.get, 0.0)  # partner unknown
