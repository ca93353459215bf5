"""One recognizer call for a vehicle's shots gives the vectors of one call per frame."""

from __future__ import annotations

import numpy as np
import pytest
from tests.fakes import FakeEmbedder, make_face

from bordermatch.embed.batch import ChipEmbedder, embed_frames
from bordermatch.io.images import load_image


@pytest.fixture(scope="module")
def models():
    from bordermatch.detect.yunet import YuNetDetector
    from bordermatch.embed.sface import SFaceEmbedder

    return YuNetDetector(), SFaceEmbedder()


def _frames(det, publicdomain):
    out = []
    for name in ("two_people.jpg", "obama.jpg", "biden.jpg", "obama2.jpg"):
        img = load_image(publicdomain / name)
        out.append((img, det.detect(img)))
    out.append((out[0][0], []))  # a frame whose shots are all embedded already
    return out


@pytest.mark.parametrize("max_batch", [64, 2])
def test_batched_vectors_equal_per_frame_vectors(models, publicdomain, max_batch):
    det, emb = models
    frames = _frames(det, publicdomain)
    assert isinstance(emb, ChipEmbedder) and sum(len(f) for _, f in frames) >= 5
    batched = embed_frames(emb, frames, max_batch=max_batch)
    assert [len(v) for v in batched] == [len(f) for _, f in frames]
    for (img, faces), got in zip(frames, batched, strict=True):
        want = emb.embed(img, faces)
        np.testing.assert_allclose(got, want, atol=1e-5)
        if len(got):
            np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_an_embedder_without_chips_is_called_per_frame(publicdomain):
    emb = FakeEmbedder()
    assert not isinstance(emb, ChipEmbedder)
    img = load_image(publicdomain / "obama.jpg")
    frames = [(img, [make_face(10, 10, 60)]), (img, [make_face(100, 50, 80), make_face(5, 5, 40)])]
    got = embed_frames(emb, frames)
    for (image, faces), vectors in zip(frames, got, strict=True):
        np.testing.assert_array_equal(vectors, emb.embed(image, faces))


def test_no_faces_at_all(models, publicdomain):
    _, emb = models
    img = load_image(publicdomain / "obama.jpg")
    got = embed_frames(emb, [(img, []), (img, [])])
    assert [v.shape for v in got] == [(0, 128), (0, 128)]
