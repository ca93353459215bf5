"""ArcFace from a model pack, on tiny random-weight graphs: loading, alignment, batching."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from tests.models.onnx_packs import ARCFACE_INPUT, arcface_model, default_pack, write_pack

from bordermatch import registry
from bordermatch.detect.scrfd import SCRFDDetector
from bordermatch.embed.align import ARCFACE_112
from bordermatch.embed.arcface import ArcFaceEmbedder
from bordermatch.errors import ManifestError, ModelFormatError
from bordermatch.types import Face


def _pack(tmp_path, model=None, dim=512, **spec):
    entry = {"name": "rec", "kind": "arcface", "dim": dim, "input": {**ARCFACE_INPUT, **spec}}
    return write_pack(tmp_path, {"rec.onnx": (model or arcface_model(), entry)})


def _face(landmarks) -> Face:
    lm = np.asarray(landmarks, np.float32)
    lo, hi = lm.min(0) - 20, lm.max(0) + 20
    return Face(box=np.concatenate([lo, hi]).astype(np.float32), landmarks=lm, score=1.0)


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    return ArcFaceEmbedder(pack=_pack(tmp_path_factory.mktemp("rec")), threads=1)


def _cos(a, b) -> float:
    return float(np.dot(a, b))


def test_embeddings_are_unit_rows_of_the_manifest_dim(embedder, astronaut):
    faces = [_face(ARCFACE_112 * 1.5 + [150, 40]), _face(ARCFACE_112 + np.array([300, 300]))]
    out = embedder.embed(astronaut, faces)
    assert out.shape == (2, 512) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert embedder.embed(astronaut, []).shape == (0, 512)


def test_alignment_undoes_rotation_and_scale(embedder, astronaut):
    """The same face, rotated 25 degrees and scaled 1.3x, gives (almost) the same template."""
    lm = ARCFACE_112 * 1.6 + [160, 50]
    ref = embedder.embed(astronaut, [_face(lm)])[0]
    centre = tuple(float(v) for v in lm.mean(0))
    m = cv2.getRotationMatrix2D(centre, 25.0, 1.3)
    moved = cv2.warpAffine(astronaut, m, (512, 512), flags=cv2.INTER_LINEAR)
    lm_moved = np.c_[lm, np.ones(5)] @ m.T
    same = embedder.embed(moved, [_face(lm_moved)])[0]
    other = embedder.embed(astronaut, [_face(ARCFACE_112 * 1.6 + [250, 330])])[0]
    assert _cos(ref, same) > 0.95  # two resamplings blur a little
    assert _cos(ref, other) < 0.6


def test_unbatched_export_gives_the_same_embeddings(tmp_path, embedder, astronaut):
    single = ArcFaceEmbedder(pack=_pack(tmp_path, arcface_model(batch=1)), threads=1)
    faces = [_face(ARCFACE_112 * 1.5 + [150, 40]), _face(ARCFACE_112 + np.array([300, 300]))]
    np.testing.assert_allclose(single.embed(astronaut, faces), embedder.embed(astronaut, faces),
                               atol=1e-5)


def test_colour_order_follows_the_manifest(tmp_path, embedder, astronaut):
    bgr = ArcFaceEmbedder(pack=_pack(tmp_path, colour="BGR"), threads=1)
    face = [_face(ARCFACE_112 * 1.5 + [150, 40])]
    swapped = np.ascontiguousarray(astronaut[:, :, ::-1])
    np.testing.assert_allclose(bgr.embed(astronaut, face), embedder.embed(swapped, face),
                               atol=1e-5)
    assert _cos(bgr.embed(astronaut, face)[0], embedder.embed(astronaut, face)[0]) < 0.999


def test_flip_makes_the_template_mirror_invariant(tmp_path, astronaut):
    pack = _pack(tmp_path)
    plain = ArcFaceEmbedder(pack=pack, threads=1)
    flip = registry.create("embedder", "arcface", pack=pack, flip=True, threads=1)
    chip = astronaut[100:212, 200:312]
    mirror = np.ascontiguousarray(chip[:, ::-1])
    np.testing.assert_allclose(flip.embed_chips([chip]), flip.embed_chips([mirror]), atol=1e-5)
    assert _cos(plain.embed_chips([chip])[0], plain.embed_chips([mirror])[0]) < 0.99


def test_dim_mismatch_is_a_format_error(tmp_path):
    with pytest.raises(ModelFormatError):
        ArcFaceEmbedder(pack=_pack(tmp_path, dim=256))


def test_wrong_input_size_is_refused(tmp_path):
    with pytest.raises(ModelFormatError):
        ArcFaceEmbedder(pack=_pack(tmp_path / "a", size=[128, 128]))
    with pytest.raises(ManifestError):
        ArcFaceEmbedder(pack=_pack(tmp_path / "b", size=[112, 96]))


def test_detector_and_recognizer_from_one_pack(tmp_path):
    """detect -> align -> embed, both networks from the same pack."""
    pack = default_pack(tmp_path)
    img = np.zeros((64, 64, 3), np.uint8)
    img[24:32, 40:48] = 255
    faces = SCRFDDetector(pack=pack, threads=1).detect(img)
    out = ArcFaceEmbedder(pack=pack, threads=1).embed(img, faces)
    assert len(faces) == 1 and out.shape == (1, 512)
