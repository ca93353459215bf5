"""The one subject-face rule (gallery.enrol): choice, ambiguity, retry, real detectors."""

from __future__ import annotations

import numpy as np
import pytest
from tests.fakes import FakeDetector, make_face

from bordermatch.errors import NoFaceError
from bordermatch.gallery.enrol import (
    PortraitDetector,
    as_portrait,
    choose_subject,
    portrait_detector,
)
from bordermatch.io.images import load_image


def test_small_or_off_centre_bystanders_do_not_compete():
    subject = make_face(75, 70, 100)
    choice = choose_subject([make_face(0, 60, 70), subject], 250, 250)
    assert choice.face is subject and not choice.ambiguous and choice.n_faces == 2
    assert not choice.retried


def test_a_similar_face_near_the_centre_makes_the_photo_ambiguous():
    subject = make_face(75, 70, 100)
    choice = choose_subject([subject, make_face(90, 100, 90)], 250, 250)
    assert choice.ambiguous and choice.n_faces == 2


def test_the_largest_face_wins_unless_it_is_far_from_the_centre():
    # Largest but in the corner: its area is discounted by its distance from the centre.
    corner = make_face(0, 0, 110)  # centre offset (-0.39, -0.39) of a 400 px photo
    central = make_face(160, 160, 90)
    assert choose_subject([corner, central], 400, 400).face is central
    # Both central: the larger is the subject, and the other one makes it ambiguous.
    big, smaller = make_face(110, 110, 120), make_face(190, 160, 100)
    choice = choose_subject([smaller, big], 400, 400)
    assert choice.face is big and choice.ambiguous


def test_no_face_raises():
    with pytest.raises(NoFaceError):
        choose_subject([], 100, 100)


def test_retry_uses_weak_faces_only_when_there_is_no_strong_one():
    img = np.zeros((250, 250, 3), np.uint8)
    weak, strong = make_face(75, 75, 100, score=0.4), make_face(0, 0, 40, score=0.9)
    both = PortraitDetector(FakeDetector([weak, strong]), operating_score=0.6)
    choice = both.subject(img)
    assert choice.face is strong and not choice.retried and choice.n_faces == 1
    assert both.detect(img) == [strong]  # callers of detect never see the weak face
    only_weak = PortraitDetector(FakeDetector([weak]), operating_score=0.6).subject(img)
    assert only_weak.face is weak and only_weak.retried
    with pytest.raises(NoFaceError):
        PortraitDetector(FakeDetector([]), operating_score=0.6).subject(img)


def test_a_plain_detector_is_used_without_retry():
    det = FakeDetector([make_face(score=0.1)])
    portrait = as_portrait(det)
    assert portrait.operating_score == 0.0 and as_portrait(portrait) is portrait
    assert not portrait.subject(np.zeros((200, 200, 3), np.uint8)).retried


@pytest.mark.parametrize("name, operating", [("yunet", 0.6), ("centerface", 0.35)])
def test_registered_detectors_keep_their_own_operating_point(name, operating):
    portrait = portrait_detector(name)
    assert portrait.operating_score == pytest.approx(operating)
    assert portrait.detector.score_threshold == pytest.approx(0.3)
    # An operating point already below the retry score has nothing weaker to offer.
    low = portrait_detector(name, {"score_threshold": 0.2})
    assert low.operating_score == pytest.approx(0.2)
    assert low.detector.score_threshold == pytest.approx(0.2)


@pytest.mark.parametrize("photo", ["two_people.jpg", "obama.jpg", "obama_partial_face.jpg"])
def test_filtering_the_low_pass_equals_the_operating_detector(publicdomain, photo):
    from bordermatch.detect.yunet import YuNetDetector

    img = load_image(publicdomain / photo)
    expected = YuNetDetector().detect(img)
    got = portrait_detector("yunet").detect(img)
    assert len(got) == len(expected) > 0
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_array_equal(g.box, e.box)
        np.testing.assert_array_equal(g.landmarks, e.landmarks)
