"""dlib ResNet end to end on the real bundled weights, plus its box mapping and checks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from tests.embed.recognizer_contract import genuine_and_impostor_scores
from tests.fakes import make_face

from bordermatch.embed.dlib_resnet import dlib_box
from bordermatch.errors import ModelIntegrityError
from bordermatch.io.images import load_image

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pipeline():
    from bordermatch.detect.yunet import YuNetDetector
    from bordermatch.embed.dlib_resnet import DlibResNetEmbedder

    return YuNetDetector(), DlibResNetEmbedder()


def test_genuine_above_impostor(pipeline, publicdomain, astronaut):
    genuine, impostor = genuine_and_impostor_scores(*pipeline, publicdomain, astronaut)
    # dlib's own rule: same person when the Euclidean distance < 0.6, i.e. cosine > 0.82
    # for unit vectors; the margin between the groups is what matters here.
    assert min(genuine) > max(impostor) + 0.1


def test_chip_is_dlib_sized_rgb(pipeline, publicdomain):
    det, emb = pipeline
    img = load_image(publicdomain / "two_people.jpg")
    faces = det.detect(img)
    chips = emb.chips(img, faces)
    assert len(chips) == len(faces) == 2
    assert all(c.shape == (150, 150, 3) and c.dtype == np.uint8 for c in chips)
    both = emb.embed(img, faces)
    assert float(both[0] @ both[1]) < 0.85  # two different people in one photo
    assert emb.embed(img, []).shape == (0, 128)


def test_box_modes_are_square_or_the_detection():
    face = make_face(x1=40, y1=30, size=120)
    for mode in ("landmarks", "square"):
        left, top, right, bottom = dlib_box(face, mode)
        assert abs((right - left) - (bottom - top)) <= 1
        cx, cy = (left + right) / 2, (top + bottom) / 2
        assert 40 < cx < 160 and 30 < cy < 150  # centred on the face
    assert dlib_box(face, "yunet") == (40, 30, 160, 150)
    with pytest.raises(ValueError):
        dlib_box(face, "nope")


def test_tampered_digest_refuses_to_load(monkeypatch):
    from bordermatch.embed import dlib_resnet

    bad = dataclasses.replace(dlib_resnet.DLIB_RESNET, sha256="0" * 64)
    monkeypatch.setattr(dlib_resnet, "DLIB_RESNET", bad)
    with pytest.raises(ModelIntegrityError):
        dlib_resnet.DlibResNetEmbedder()
