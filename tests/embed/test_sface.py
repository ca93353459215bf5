"""SFace end to end on real weights: same person scores above different people."""

from __future__ import annotations

import numpy as np
import pytest

from bordermatch.io.images import load_image


@pytest.fixture(scope="module")
def pipeline():
    from bordermatch.detect.yunet import YuNetDetector
    from bordermatch.embed.sface import SFaceEmbedder

    return YuNetDetector(), SFaceEmbedder()


def _embed(pipeline, image):
    det, emb = pipeline
    faces = det.detect(image)
    assert faces, "no face"
    v = emb.embed(image, faces[:1])
    assert v.shape == (1, 128) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v), 1.0, rtol=1e-5)
    return v[0]


def test_genuine_above_impostor(pipeline, publicdomain, astronaut):
    obama = _embed(pipeline, load_image(publicdomain / "obama.jpg"))
    obama2 = _embed(pipeline, load_image(publicdomain / "obama2.jpg"))
    biden = _embed(pipeline, load_image(publicdomain / "biden.jpg"))
    biden2 = _embed(pipeline, load_image(publicdomain / "biden2.jpg"))
    collins = _embed(pipeline, np.ascontiguousarray(astronaut))
    genuine = [obama @ obama2, biden @ biden2]
    impostor = [obama @ biden, obama @ biden2, obama2 @ biden, biden @ collins, obama @ collins]
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
