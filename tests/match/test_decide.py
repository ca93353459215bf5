"""The one decision rule: outcomes and reasons, 1:N identification, and 1:few first."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bordermatch.errors import ConfigError
from bordermatch.match.decide import (
    OperatingPoint,
    decide,
    identify,
    identify_with_documents,
)
from bordermatch.types import Outcome, Reason

OPEN = OperatingPoint("m", "FPIR", 1e-3, match=5.0, review=4.0, review_target=1e-2)
ONE_TO_ONE = OperatingPoint("m", "FMR", 1e-3, match=1.0)


@pytest.mark.parametrize(("score", "runner_up", "alias", "outcome", "reason"), [
    (None, None, False, Outcome.NO_CAPTURE, Reason.NO_CAPTURE),
    (5.0, None, False, Outcome.MATCH, Reason.ABOVE_THRESHOLD),  # ties match
    (6.0, 3.9, False, Outcome.MATCH, Reason.ABOVE_THRESHOLD),
    (6.0, 4.0, False, Outcome.REVIEW, Reason.RUNNER_UP),  # the runner-up reaches review
    (6.0, 4.5, True, Outcome.REVIEW, Reason.ALIAS),
    (4.5, None, False, Outcome.REVIEW, Reason.REVIEW_BAND),
    (3.9, None, False, Outcome.NO_MATCH, Reason.BELOW_THRESHOLD),
])
def test_decide_outcomes_and_reasons(score, runner_up, alias, outcome, reason):
    d = decide(score, OPEN, runner_up, alias)
    assert (d.outcome, d.reason) == (outcome, reason)
    assert (d.threshold, d.rate, d.target) == (5.0, "FPIR", 1e-3)


def test_without_a_review_band_the_runner_up_is_held_at_the_match_threshold():
    assert decide(2.0, ONE_TO_ONE, 0.99).outcome is Outcome.MATCH
    assert decide(2.0, ONE_TO_ONE, 1.0).reason is Reason.RUNNER_UP


def test_operating_point_checks_and_roundtrip(tmp_path):
    with pytest.raises(ConfigError):
        OperatingPoint("m", "EER", 1e-3, 1.0)
    with pytest.raises(ConfigError):
        OperatingPoint("m", "FMR", 1e-3, 1.0, review=2.0)
    path = tmp_path / "p.json"
    OPEN.save(path)
    assert OperatingPoint.load(path) == OPEN
    path.write_text(json.dumps({"model": "m", "rate": "FPIR", "target": 1e-3, "match": 1,
                                "typo": 1}))
    with pytest.raises(ConfigError, match="unknown"):
        OperatingPoint.load(path)
    with pytest.raises(ConfigError, match="not found"):
        OperatingPoint.load(tmp_path / "missing.json")


def test_identify_assigns_one_to_one_and_names_the_runner_up():
    ids = ["A", "B", "C"]
    scores = np.array([[9.0, 1.0, 0.0],   # clearly A
                       [8.0, 7.0, 0.0],   # prefers A, gets B; A (8.0) is its runner-up
                       [0.0, 0.0, 3.0]])  # nobody
    got = identify(scores, ids, OPEN)
    assert [(g.traveler_id, g.decision.outcome) for g in got] == [
        ("A", Outcome.MATCH), ("B", Outcome.REVIEW), (None, Outcome.NO_MATCH)]
    assert got[1].runner_up_id == "A" and got[1].decision.reason is Reason.RUNNER_UP
    assert got[2].decision.score == 3.0
    assert identify(np.zeros((1, 0)), [], OPEN)[0].decision.score is None


def test_a_document_read_makes_a_degraded_face_a_1_to_few_match():
    ids = ["A", "B", "C"]
    scores = np.array([[2.0, 0.5, 0.1]])  # far below the open-set threshold, above 1:1
    assert identify(scores, ids, OPEN)[0].decision.outcome is Outcome.NO_MATCH
    got = identify_with_documents(scores, ids, {"A"}, OPEN, ONE_TO_ONE)[0]
    assert (got.traveler_id, got.decision.outcome, got.source) == ("A", Outcome.MATCH,
                                                                   "document")


def test_a_document_from_the_next_lane_does_not_let_a_look_alike_through():
    ids = ["A", "B"]
    # The face is B's (not read); A's card was read and A looks alike.
    scores = np.array([[3.0, 6.0]])
    got = identify_with_documents(scores, ids, {"A"}, OPEN, ONE_TO_ONE)[0]
    assert (got.traveler_id, got.decision.outcome, got.source) == ("B", Outcome.MATCH,
                                                                   "gallery")
    # Nobody else reaches even the open-set review floor: the read decides.
    weak = np.array([[3.0, 3.9]])
    assert identify_with_documents(weak, ids, {"A"}, OPEN, ONE_TO_ONE)[0].traveler_id == "A"
    # A second identity above the open-set floor that fits the face better than the
    # read one holds the 1:few match for an officer.
    close = np.array([[4.2, 4.5]])
    held = identify_with_documents(close, ids, {"A"}, OPEN, ONE_TO_ONE)[0]
    assert (held.decision.outcome, held.decision.reason, held.runner_up_id) == (
        Outcome.REVIEW, Reason.RUNNER_UP, "B")
    # One who fits less well than the read traveller does not: the read decides.
    behind = identify_with_documents(np.array([[4.5, 4.2]]), ids, {"A"}, OPEN,
                                     ONE_TO_ONE)[0]
    assert (behind.traveler_id, behind.decision.outcome) == ("A", Outcome.MATCH)


def test_two_read_travellers_that_fit_one_face_are_review():
    ids = ["A", "B", "C"]
    scores = np.array([[3.0, 2.5, 0.0]])  # both read, both above the 1:1 threshold
    got = identify_with_documents(scores, ids, {"A", "B"}, OPEN, ONE_TO_ONE)[0]
    assert (got.traveler_id, got.decision.outcome, got.decision.reason, got.runner_up_id) \
        == ("A", Outcome.REVIEW, Reason.RUNNER_UP, "B")


def test_document_scores_decide_the_1_to_few_stage_only():
    ids = ["A", "B"]
    scores = np.array([[0.5, 0.0]])  # open-set scores: below the 1:1 threshold for A
    few = np.array([[1.5, 0.0]])  # the 1:1 fusion of the same shots reaches it
    assert identify_with_documents(scores, ids, {"A"}, OPEN, ONE_TO_ONE)[0].decision.outcome \
        is Outcome.NO_MATCH
    got = identify_with_documents(scores, ids, {"A"}, OPEN, ONE_TO_ONE, document_scores=few)[0]
    assert (got.traveler_id, got.decision.outcome, got.source) == ("A", Outcome.MATCH,
                                                                   "document")
    with pytest.raises(ConfigError):
        identify_with_documents(scores, ids, {"A"}, OPEN, ONE_TO_ONE,
                                document_scores=np.zeros((2, 2)))


def test_unmatched_probes_are_searched_without_the_verified_travellers():
    ids = ["A", "B", "C"]
    scores = np.array([[2.0, 0.0, 0.0],   # verified as A through A's document
                       [1.5, 5.5, 0.2],   # not read: found as B by the 1:N search
                       [1.2, 4.9, 0.3]])  # not read; B is taken, A is verified: nobody
    got = identify_with_documents(scores, ids, {"A", "GONE"}, OPEN, ONE_TO_ONE)
    assert [(g.traveler_id, g.decision.outcome, g.source) for g in got] == [
        ("A", Outcome.MATCH, "document"), ("B", Outcome.MATCH, "gallery"),
        (None, Outcome.NO_MATCH, "gallery")]
    # With no read naming anyone enrolled, it is exactly the 1:N search.
    assert [g.decision for g in identify_with_documents(scores, ids, {"GONE"}, OPEN,
                                                        ONE_TO_ONE)] == \
        [g.decision for g in identify(scores, ids, OPEN)]


def test_a_read_traveller_who_fits_a_second_track_is_explained_by_their_own_track():
    ids = ["A", "B", "C"]
    point = OperatingPoint("m", "FMR", 1e-3, match=2.0)  # all below the open-set floor 4
    # B fits track 0 above the 1:1 threshold, but B's own track fits B by far more, and
    # track 0 fits A by far more: one person per track explains it.
    scores = np.array([[3.5, 2.3, 0.0],
                       [1.0, 3.9, 0.0]])
    got = identify_with_documents(scores, ids, {"A", "B"}, OPEN, point)
    assert [(g.traveler_id, g.decision.outcome) for g in got] == [
        ("A", Outcome.MATCH), ("B", Outcome.MATCH)]
    assert got[0].runner_up_id == "B" and got[0].decision.runner_up == pytest.approx(2.3)
    # Twins fit both tracks alike: both stay review.
    twins = np.array([[3.5, 3.3, 0.0],
                      [3.4, 3.5, 0.0]])
    got = identify_with_documents(twins, ids, {"A", "B"}, OPEN, point)
    assert [g.decision.outcome for g in got] == [Outcome.REVIEW, Outcome.REVIEW]
    # Without the margin on either side, the review stands.
    for near in ([[3.5, 3.0, 0.0], [1.0, 3.9, 0.0]],   # track 0 fits A by 0.5 only
                 [[3.5, 2.3, 0.0], [1.0, 3.0, 0.0]]):  # B's own track fits B by 0.7
        got = identify_with_documents(np.array(near), ids, {"A", "B"}, OPEN, point)
        assert got[0].decision.outcome is Outcome.REVIEW
        assert got[0].decision.reason is Reason.RUNNER_UP
