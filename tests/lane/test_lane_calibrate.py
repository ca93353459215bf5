"""Calibration helpers: flagged same-face pairs are excluded from non-mated searches."""

from bordermatch.lane.runner import same_face_partners


def test_same_face_partners_are_symmetric_and_grouped():
    report = {"same_face_pairs": [{"a": "T1", "b": "T2", "score": 0.7},
                                  {"a": "T3", "b": "T1", "score": 0.5}]}
    partners = same_face_partners(report)
    assert partners == {"T1": {"T2", "T3"}, "T2": {"T1"}, "T3": {"T1"}}


def test_no_flagged_pairs_gives_no_partners():
    assert same_face_partners({}) == {}
    assert same_face_partners({"same_face_pairs": []}) == {}
