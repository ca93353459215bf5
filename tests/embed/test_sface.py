"""SFace end to end on real weights: same person scores above different people."""

from __future__ import annotations

import numpy as np
import pytest
from tests.embed.recognizer_contract import genuine_and_impostor_scores

from bordermatch.errors import ConfigError
from bordermatch.io.images import load_image


@pytest.fixture(scope="module")
def pipeline():
    from bordermatch.detect.yunet import YuNetDetector
    from bordermatch.embed.sface import SFaceEmbedder

    return YuNetDetector(), SFaceEmbedder()


def test_genuine_above_impostor(pipeline, publicdomain, astronaut):
    genuine, impostor = genuine_and_impostor_scores(*pipeline, publicdomain, astronaut)
    assert min(genuine) > max(impostor) + 0.2


def test_embedding_is_deterministic_and_batch_consistent(pipeline, publicdomain):
    det, emb = pipeline
    img = load_image(publicdomain / "two_people.jpg")
    faces = det.detect(img)
    both = emb.embed(img, faces)
    one = emb.embed(img, faces[1:])
    np.testing.assert_allclose(both[1], one[0], atol=1e-6)
    assert float(both[0] @ both[1]) < 0.4  # two different people in one photo


def test_opencv_and_onnxruntime_runtimes_agree(publicdomain):
    from bordermatch.detect.yunet import YuNetDetector
    from bordermatch.embed.sface import SFaceEmbedder

    img = load_image(publicdomain / "two_people.jpg")
    faces = YuNetDetector().detect(img)
    a = SFaceEmbedder(runtime="opencv").embed(img, faces)
    b = SFaceEmbedder(runtime="onnxruntime").embed(img, faces)
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_unknown_runtime_names_the_known_ones():
    from bordermatch.embed.sface import RUNTIMES, SFaceEmbedder

    with pytest.raises(ConfigError, match="'tflite'") as err:
        SFaceEmbedder(runtime="tflite")
    assert all(name in str(err.value) for name in RUNTIMES)
    assert set(RUNTIMES) == {"opencv", "onnxruntime"}
