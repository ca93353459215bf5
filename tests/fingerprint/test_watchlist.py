from __future__ import annotations

import numpy as np
import pytest
from tests.fingerprint.fp_helpers import FakeComparator, make_template, moved

from bordermatch.errors import InputError, MetricError, RecordStateError, TemplateError
from bordermatch.fingerprint.match import load_calibration
from bordermatch.fingerprint.prefilter import PairIndex
from bordermatch.fingerprint.watchlist import Watchlist, threshold_for_fpir
from bordermatch.match.calibrate import threshold_for_rate


def _watchlist(n_subjects: int = 20) -> Watchlist:
    wl = Watchlist(FakeComparator())
    for s in range(n_subjects):
        wl.enrol(f"s{s}", {2: make_template(35, seed=100 + 2 * s),
                           3: make_template(35, seed=101 + 2 * s)})
    return wl


def test_prefilter_finds_a_moved_copy_first():
    gallery = [make_template(40, seed=s) for s in range(50)]
    index = PairIndex.build(gallery)
    probe = moved(gallery[17])
    assert index.shortlist(probe, 3)[0] == 17
    allowed = np.zeros(50, bool)
    allowed[[3, 4]] = True
    assert set(index.shortlist(probe, 5, allowed).tolist()) == {3, 4}


def test_search_fuses_fingers_and_ranks_the_mate_first():
    wl = _watchlist()
    mate = wl.fingers("s7")
    probe = [mate[2].with_position(2), mate[3].with_position(3)]
    result = wl.search(probe, threshold=40.0)
    best = result.candidates[0]
    assert best.subject_id == "s7" and best.rank == 1
    assert best.score == 70.0  # 35 + 35 shared minutiae: the sum rule
    assert {f.position for f in best.fingers} == {2, 3}
    assert all(c.score >= 40.0 for c in result.candidates)
    assert result.comparisons <= 2 * 50


def test_position_restricts_and_unknown_position_searches_all():
    wl = _watchlist()
    finger = wl.fingers("s3")[3]
    wrong = wl.search([finger.with_position(2)], threshold=1.0)
    assert all(f.position == 2 for c in wrong.candidates for f in c.fingers)
    assert "s3" not in [c.subject_id for c in wrong.candidates if c.score >= 35]
    anywhere = wl.search([finger.with_position(0)], threshold=30.0)
    assert anywhere.candidates[0].subject_id == "s3"


def test_no_candidate_below_threshold_but_best_is_reported():
    wl = _watchlist()
    result = wl.search([make_template(30, seed=9999, position=2)], threshold=25.0)
    assert result.candidates == () and result.best is not None and result.best.score < 25


def test_enrolment_rules():
    wl = Watchlist(FakeComparator())
    t = make_template(10)
    with pytest.raises(InputError):
        wl.enrol("a", {})
    with pytest.raises(InputError):
        wl.enrol("a", {0: t})  # unknown position cannot be enrolled
    with pytest.raises(InputError):
        wl.enrol("a", {11: t})
    with pytest.raises(TemplateError):
        wl.enrol("a", {1: make_template(0)})
    with pytest.raises(InputError):
        wl.search([], 1.0)
    wl.enrol("a", {1: t, 6: t})
    wl.enrol("a", {1: t, 6: t, 7: t})
    wl.enrol("a", {1: t, 6: t})  # re-enrolment replaces the subject's fingers
    assert (len(wl), wl.n_fingers) == (1, 2)
    assert wl.search([t.with_position(7)], 1.0).candidates == ()
    wl.remove("a")
    with pytest.raises(RecordStateError):
        wl.remove("a")


def test_save_load_round_trip_and_tampering():
    wl = _watchlist(5)
    data = wl.to_bytes()
    back = Watchlist.from_bytes(data, FakeComparator())
    assert back.subjects() == wl.subjects() and back.n_fingers == 10
    probe = [wl.fingers("s2")[2].with_position(2)]
    assert back.search(probe, 10).candidates[0].subject_id == "s2"
    with pytest.raises(TemplateError):
        Watchlist.from_bytes(data.replace(b'"fingers": 10', b'"fingers": 11'))
    with pytest.raises(TemplateError):
        Watchlist.from_bytes(b"not a watchlist")
    with pytest.raises(TemplateError):
        Watchlist.from_bytes(b"[1, 2]\n")
    lines = data.splitlines()
    with pytest.raises(TemplateError):
        Watchlist.from_bytes(b"\n".join([*lines[:-1], lines[-1][:-20] + b'"}']))


def test_threshold_for_fpir_model():
    imp = np.repeat(np.arange(10.0), 100)  # uniform 0..9, 1,000 scores
    # One finger, one subject: the same as a 1:1 threshold for that FMR.
    assert threshold_for_fpir(imp, 1, 1, 0.1) == np.ceil(threshold_for_rate(imp, 0.1))
    # More subjects or fewer fingers need a stricter threshold per finger.
    t2 = [threshold_for_fpir(imp, 2, n, 0.01) for n in (1, 10, 100)]
    assert t2 == sorted(t2) and t2[0] == 18  # P(sum = 18) = 0.01
    assert t2[-1] == 19  # above every fused impostor score the model allows
    with pytest.raises(MetricError):
        threshold_for_fpir(imp, 1, 10_000, 0.001)  # beyond 1,000 impostors
    with pytest.raises(MetricError):
        threshold_for_fpir([0.5, 1.0], 1, 1, 0.1)  # not integer scores


def test_shipped_calibration_supports_two_finger_fpir():
    cal = load_calibration()
    t = threshold_for_fpir(cal.impostor_scores(), 2, 5000, 1e-3)
    assert len(cal.impostor_scores()) == cal.n_impostor
    assert t > cal.threshold(1e-3)


def test_trials_count_the_pairings_a_search_fuses():
    wl = _watchlist(4)  # 4 subjects with fingers 2 and 3
    wl.enrol("one_finger", {2: make_template(20, seed=5)})
    assert wl.trials([2, 3]) == 4  # the one-finger subject cannot give a 2-finger sum
    assert wl.trials([2]) == 5
    assert wl.trials([0, 0]) == 4 * 2 * 2 + 1  # any finger for each probe finger
    result = wl.search([wl.fingers("s1")[2].with_position(2)], threshold=1.0)
    assert result.prefilter_ms >= 0 and result.compare_ms >= 0


def test_a_copy_takes_enrolments_without_changing_the_list_it_came_from():
    """The service enrols into a copy while searches go on in the original."""
    wl = Watchlist(FakeComparator())
    a = make_template(40, seed=1, position=2)
    wl.enrol("A", {2: a})
    wl.build_index()
    copy = wl.copy()
    b = make_template(40, seed=2, position=2)
    copy.enrol("B", {2: b})
    copy.build_index()
    assert wl.subjects() == ["A"] and copy.subjects() == ["A", "B"]
    assert wl.search([b], 40).candidates == ()
    assert [c.subject_id for c in copy.search([b], 40).candidates] == ["B"]
    assert [c.subject_id for c in copy.search([a], 40).candidates] == ["A"]
