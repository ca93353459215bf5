"""YuNet end to end on the shipped public-domain photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bordermatch.detect.nms import nms
from bordermatch.io.images import load_image


@pytest.fixture(scope="module")
def yunet():
    from bordermatch.detect.yunet import YuNetDetector

    return YuNetDetector()


def test_finds_both_faces_with_ordered_landmarks(yunet, publicdomain):
    faces = yunet.detect(load_image(publicdomain / "two_people.jpg"))
    assert len(faces) == 2
    for f in faces:
        assert f.score > 0.8
        x1, _, x2, _ = f.box
        assert (f.landmarks[:, 0] > x1).all() and (f.landmarks[:, 0] < x2).all()
        left_eye, right_eye, nose = f.landmarks[:3]
        assert left_eye[0] < nose[0] < right_eye[0]  # image-left eye first
        assert nose[1] > max(left_eye[1], right_eye[1])


def test_no_face_in_a_blank_frame(yunet):
    assert yunet.detect(np.full((720, 1280, 3), 127, np.uint8)) == []


def test_boxes_map_back_through_downscaling(yunet, publicdomain):
    img = load_image(publicdomain / "obama.jpg")
    small = yunet.detect(cv2.resize(img, None, fx=0.5, fy=0.5))[0]
    full = yunet.detect(img)[0]  # the detector itself may downscale to max_side
    np.testing.assert_allclose(small.box * 2, full.box, atol=12)


def test_small_face_still_found(yunet, publicdomain):
    img = load_image(publicdomain / "obama.jpg")
    face = yunet.detect(img)[0]
    scale = 48 / face.width  # a ~48 px face, a back-seat passenger seen from the windshield
    tiny = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((720, 1280, 3), 90, np.uint8)
    canvas[100:100 + tiny.shape[0], 300:300 + tiny.shape[1]] = tiny
    assert len(yunet.detect(canvas)) == 1


def test_nms_keeps_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.7, 0.9, 0.8], np.float32)
    assert nms(boxes, scores, 0.3).tolist() == [1, 2]


def test_reused_input_buffer_leaves_no_stale_pixels(yunet):
    bright = np.full((736, 1280, 3), 255, np.uint8)
    yunet._blob(bright, 1.0)
    small = np.full((710, 1250, 3), 10, np.uint8)  # same padded size, 736 x 1280
    blob, ph, pw = yunet._blob(small, 1.0)
    assert (ph, pw) == (736, 1280)
    assert (blob[0, :, 710:, :] == 0).all() and (blob[0, :, :710, 1250:] == 0).all()
    assert (blob[0, :, :710, :1250] == 10).all()


def test_spinning_changes_no_detection(yunet, publicdomain):
    from bordermatch.detect.yunet import YuNetDetector

    img = load_image(publicdomain / "two_people.jpg")
    spinning = YuNetDetector(spinning=True)
    faces = yunet.detect(img)
    assert len(faces) == 2
    for a, b in zip(faces, spinning.detect(img), strict=True):
        np.testing.assert_array_equal(a.box, b.box)
        np.testing.assert_array_equal(a.landmarks, b.landmarks)
