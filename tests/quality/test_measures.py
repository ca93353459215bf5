from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bordermatch.embed.align import ARCFACE_112
from bordermatch.io.images import load_image
from bordermatch.quality.measures import FaceQualityAssessor, estimate_pose
from bordermatch.types import Face


def test_frontal_template_has_zero_pose():
    yaw, pitch, roll = estimate_pose(ARCFACE_112)
    assert abs(yaw) < 2 and abs(pitch) < 1 and abs(roll) < 1


@settings(max_examples=40, deadline=None)
@given(st.floats(-60, 60))
def test_roll_follows_in_plane_rotation(deg):
    t = math.radians(deg)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    _, _, roll = estimate_pose(ARCFACE_112 @ rot.T)
    assert roll == pytest.approx(deg, abs=0.5)


def test_nose_shift_reads_as_yaw_with_sign():
    turned = ARCFACE_112.copy()
    turned[2, 0] += 15  # nose tip towards the image right
    yaw, _, _ = estimate_pose(turned)
    assert yaw > 20
    turned[2, 0] -= 30
    assert estimate_pose(turned)[0] < -20


@pytest.fixture(scope="module")
def obama(publicdomain):
    from bordermatch.detect.yunet import YuNetDetector

    img = load_image(publicdomain / "obama.jpg")
    return img, YuNetDetector().detect(img)[0]


def test_blur_lowers_sharpness_and_unified(obama):
    img, face = obama
    q = FaceQualityAssessor()
    sharp = q.assess(img, face)
    blurred = q.assess(cv2.GaussianBlur(img, (0, 0), 8), face)
    assert blurred.sharpness < sharp.sharpness - 20
    assert blurred.unified < sharp.unified


def test_dark_image_is_under_exposed(obama):
    img, face = obama
    q = FaceQualityAssessor()
    dark = (img // 16).astype(np.uint8)
    assert q.assess(dark, face).under_exposure > 0.5
    assert q.assess(img, face).under_exposure < 0.05
    assert q.assess(dark, face).unified < q.assess(img, face).unified


def test_small_face_scores_low_on_inter_eye_distance():
    img = np.full((100, 100, 3), 128, np.uint8)
    lm = (ARCFACE_112 * 0.2 + 40).astype(np.float32)
    face = Face(np.array([40, 40, 62, 62], np.float32), lm, 0.9)
    q = FaceQualityAssessor().assess(img, face)
    assert q.inter_eye_distance == pytest.approx(7.05, abs=0.1)
    assert q.unified < 50
