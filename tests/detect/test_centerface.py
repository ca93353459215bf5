"""CenterFace: output decoding on constructed tensors, and end-to-end on the real weights."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bordermatch.detect.centerface import STRIDE, CenterFaceDetector, decode, make_blob
from bordermatch.errors import ConfigError
from bordermatch.io.images import load_image


def _outputs(h: int = 16, w: int = 16):
    return (
        np.zeros((1, 1, h, w), np.float32),
        np.zeros((1, 2, h, w), np.float32),
        np.zeros((1, 2, h, w), np.float32),
        np.zeros((1, 10, h, w), np.float32),
    )


def test_decode_recovers_a_constructed_box_and_landmarks():
    heat, sizes, offset, lms = _outputs()
    r, c = 5, 7
    heat[0, 0, r, c] = 0.9
    heat[0, 0, 2, 2] = 0.2  # below threshold: must be dropped
    sizes[0, :, r, c] = np.log([40 / STRIDE, 20 / STRIDE])  # height 40, width 20
    offset[0, :, r, c] = [0.25, 0.5]  # dy, dx in cells
    # Landmarks are (y, x) fractions of the box from its top-left corner.
    fractions = [(0.3, 0.25), (0.3, 0.75), (0.5, 0.5), (0.8, 0.3), (0.8, 0.7)]
    for j, (fy, fx) in enumerate(fractions):
        lms[0, 2 * j, r, c], lms[0, 2 * j + 1, r, c] = fy, fx

    boxes, kps, scores = decode(heat, sizes, offset, lms, threshold=0.5)

    cx, cy = (c + 0.5 + 0.5) * STRIDE, (r + 0.25 + 0.5) * STRIDE
    np.testing.assert_allclose(boxes, [[cx - 10, cy - 20, cx + 10, cy + 20]], atol=1e-4)
    np.testing.assert_allclose(scores, [0.9])
    expected = [[cx - 10 + fx * 20, cy - 20 + fy * 40] for fy, fx in fractions]
    np.testing.assert_allclose(kps.reshape(5, 2), expected, atol=1e-4)


def test_decode_with_nothing_above_threshold_is_empty():
    boxes, kps, scores = decode(*_outputs(), threshold=0.5)
    assert boxes.shape == (0, 4) and kps.shape == (0, 10) and scores.shape == (0,)


def test_blob_is_rgb_padded_to_multiple_of_32():
    img = np.zeros((50, 70, 3), np.uint8)
    img[..., 0] = 200  # red
    blob, h, w = make_blob(img, 1.0)
    assert blob.shape == (1, 3, 64, 96) and (h, w) == (50, 70)
    assert blob[0, 0, :50, :70].min() == 200 and blob[0, 2].max() == 0
    assert blob[0, :, 50:, :].max() == 0 and blob[0, :, :, 70:].max() == 0


@pytest.mark.parametrize(
    "kwargs", [{"score_threshold": 1.5}, {"scale": 0}, {"max_side": 8}, {"extra_scale": -1.0}]
)
def test_bad_settings_raise_config_error(kwargs):
    with pytest.raises(ConfigError):
        CenterFaceDetector(**kwargs)


@pytest.fixture(scope="module")
def detector() -> CenterFaceDetector:
    return CenterFaceDetector(threads=1)


@pytest.mark.slow
def test_two_people_gives_two_faces_with_ordered_landmarks(detector, publicdomain):
    img = load_image(publicdomain / "two_people.jpg")
    faces = detector.detect(img)
    assert len(faces) == 2
    for f in faces:
        assert f.detector == "centerface" and f.score >= 0.5
        lm = f.landmarks
        assert lm[0, 0] < lm[1, 0] and lm[3, 0] < lm[4, 0]  # image-left eye/mouth first
        assert lm[:2, 1].max() < lm[2, 1] < lm[3:, 1].min()  # eyes above nose above mouth
        x1, y1, x2, y2 = f.box
        assert (lm[:, 0] > x1).all() and (lm[:, 0] < x2).all()
        assert (lm[:, 1] > y1).all() and (lm[:, 1] < y2).all()
    assert sorted(f.box[0] for f in faces)[1] > img.shape[1] / 2  # one on each side


@pytest.mark.slow
def test_blank_image_has_no_face(detector):
    assert detector.detect(np.full((480, 640, 3), 128, np.uint8)) == []


@pytest.mark.slow
def test_small_downscaled_face_is_still_found(detector, publicdomain):
    img = load_image(publicdomain / "obama.jpg")
    big = detector.detect(img)
    assert len(big) == 1
    # Shrink so the face is ~24 px tall (a back-row passenger) and paste it into a frame.
    factor = 24.0 / big[0].height
    small = cv2.resize(img, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 90, np.uint8)
    oy, ox = 300, 400
    frame[oy : oy + small.shape[0], ox : ox + small.shape[1]] = small
    faces = detector.detect(frame)
    assert len(faces) >= 1
    expected = big[0].box * factor + [ox, oy, ox, oy]
    best = faces[0].box
    assert np.abs(best - expected).max() < 6, (best, expected)
    assert 15 < faces[0].height < 35


@pytest.mark.slow
def test_upscaling_maps_back_to_original_coordinates(publicdomain):
    img = load_image(publicdomain / "two_people.jpg")
    small = cv2.resize(img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    base = CenterFaceDetector(threads=1).detect(img)
    up = CenterFaceDetector(scale=2.0, threads=1).detect(small)
    assert len(up) == 2
    a = sorted(f.box[0] for f in base)
    b = sorted(f.box[0] * 2 for f in up)
    np.testing.assert_allclose(a, b, atol=12)


@pytest.mark.slow
def test_extra_upscaled_pass_adds_only_small_faces(publicdomain):
    img = load_image(publicdomain / "two_people.jpg")
    img = cv2.resize(img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    frame = np.full((400, 640, 3), 90, np.uint8)
    frame[: img.shape[0], : img.shape[1]] = img
    # A 12 px face, below what a single native pass reliably finds.
    face = load_image(publicdomain / "obama.jpg")
    tiny = cv2.resize(face, None, fx=12 / 300, fy=12 / 300, interpolation=cv2.INTER_AREA)
    frame[350 : 350 + tiny.shape[0], 590 : 590 + tiny.shape[1]] = tiny
    base = CenterFaceDetector(threads=1).detect(frame)
    both = CenterFaceDetector(extra_scale=2.0, threads=1).detect(frame)
    big = sorted((f for f in both if f.height > 60), key=lambda f: f.box[0])
    assert len(big) == 2  # the two large faces appear once each, not duplicated by the 2x pass
    ref = sorted((f for f in base if f.height > 60), key=lambda f: f.box[0])
    np.testing.assert_allclose([f.box for f in big], [f.box for f in ref], atol=1e-3)
    assert not [f for f in base if f.box[0] > 580 and f.box[1] > 340]
    small = [f for f in both if f.box[0] > 580 and f.box[1] > 340]
    assert len(small) == 1 and small[0].height < 20
