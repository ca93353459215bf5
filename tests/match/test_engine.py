"""The engine wiring, with fakes: no model is loaded."""

from __future__ import annotations

import numpy as np
import pytest
from tests.fakes import FakeDetector, FakeEmbedder, FakeQuality, make_face

from bordermatch.errors import AmbiguousFaceError, ConfigError, InputError, NoFaceError
from bordermatch.match.engine import FaceEngine
from bordermatch.match.fusion import LogisticScore, Matcher
from bordermatch.types import Outcome


def _matcher(second: bool = False) -> Matcher:
    return Matcher(
        name="test",
        primary=LogisticScore((("a", 10.0),), -5.0),
        fused=LogisticScore((("a", 5.0), ("b", 5.0)), -5.0) if second else None,
        band=(-2.0, 2.0) if second else None,
        thresholds=((1e-4, 3.0), (1e-3, 1.0)),
    )


def _engine(faces, second=False, calls=None):
    def factory(name):
        def make():
            if calls is not None:
                calls.append(name)
            return FakeEmbedder(name)
        return make

    return FaceEngine(FakeDetector(faces), {"a": factory("a"), "b": factory("b")},
                      _matcher(second), quality=FakeQuality(), target_fmr=1e-4)


def test_same_image_matches():
    img = np.full((200, 200, 3), 90, np.uint8)
    result = _engine([make_face()]).verify(img, img)
    assert result.decision.outcome is Outcome.MATCH
    assert result.decision.threshold == 3.0


def test_no_face_raises():
    img = np.zeros((50, 50, 3), np.uint8)
    with pytest.raises(NoFaceError):
        _engine([]).verify(img, img)


def test_the_primary_is_the_subject_not_merely_the_largest():
    small, big = make_face(0, 0, 40), make_face(60, 60, 120)
    sample = _engine([small, big]).primary_sample(np.zeros((200, 200, 3), np.uint8))
    assert sample.face is big
    # A larger face in the corner loses to the centred one (gallery.enrol's rule).
    corner, central = make_face(0, 0, 110), make_face(160, 160, 90)
    sample = _engine([corner, central]).primary_sample(np.zeros((400, 400, 3), np.uint8))
    assert sample.face is central


def test_ambiguous_photo_is_reported_and_refused_for_enrolment():
    img = np.full((400, 400, 3), 90, np.uint8)
    engine = _engine([make_face(110, 110, 120), make_face(190, 160, 100)])
    subject = engine.subject_sample(img)
    assert subject.choice.ambiguous and subject.choice.n_faces == 2
    assert engine.verify(img, img).subjects[0].ambiguous  # verify says so, and still answers
    with pytest.raises(AmbiguousFaceError) as err:
        engine.primary_sample(img, refuse_ambiguous=True)
    assert err.value.code == "ambiguous_face" and isinstance(err.value, InputError)


def test_threshold_for_uncalibrated_fmr_is_refused():
    with pytest.raises(ConfigError):
        _matcher().threshold(1e-6)


def test_cascade_loads_second_recognizer_only_when_uncertain():
    calls: list[str] = []
    img = np.full((200, 200, 3), 90, np.uint8)
    engine = _engine([make_face()], second=True, calls=calls)
    engine.verify(img, img)  # identical: primary score 1.0 -> llr 5, outside the band
    assert calls == ["a"]
