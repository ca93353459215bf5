"""Coarse-to-fine detection finds the faces of a full-resolution pass, with its landmarks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from tests.fakes import make_face

from bordermatch.detect.regions import GRID, detect_coarse_to_fine, regions_around
from bordermatch.io.images import load_image
from bordermatch.types import Face


@pytest.fixture(scope="module")
def yunet():
    from bordermatch.detect.yunet import YuNetDetector

    return YuNetDetector()


def _cabin(yunet, publicdomain) -> np.ndarray:
    """A 1280x720 frame with four faces of 40-110 px, apart and side by side."""
    canvas = np.full((720, 1280, 3), 60, np.uint8)
    for name, width, x, y in (("obama.jpg", 110, 300, 330), ("biden.jpg", 90, 520, 340),
                              ("obama2.jpg", 56, 700, 300), ("biden2.jpg", 40, 1000, 420)):
        img = load_image(publicdomain / name)
        face = yunet.detect(img)[0]
        s = width / face.width
        small = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        fx, fy = int(face.box[0] * s), int(face.box[1] * s)
        crop = small[max(0, fy - width // 2):fy + 2 * width, max(0, fx - width // 2):fx + 2 * width]
        canvas[y:y + crop.shape[0], x:x + crop.shape[1]] = crop[:720 - y, :1280 - x]
    return canvas


def test_same_faces_and_landmarks_as_one_full_pass(yunet, publicdomain):
    frame = _cabin(yunet, publicdomain)
    full = sorted(yunet.detect(frame), key=lambda f: float(f.box[0]))
    fine = sorted(detect_coarse_to_fine(yunet, frame, 0.5), key=lambda f: float(f.box[0]))
    assert len(full) == 4 and len(fine) == 4
    for a, b in zip(full, fine, strict=True):
        assert np.abs(a.box - b.box).max() < 0.05 * a.width
        assert np.abs(a.landmarks - b.landmarks).max() < 0.03 * a.width


def test_scale_one_is_the_full_pass(yunet, publicdomain):
    frame = _cabin(yunet, publicdomain)
    for a, b in zip(yunet.detect(frame), detect_coarse_to_fine(yunet, frame, 1.0), strict=True):
        np.testing.assert_array_equal(a.box, b.box)


class _OnlyAtFullSize:
    """Finds one face, but only in frames at least 1000 px wide (a coarse pass misses it)."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def detect(self, image) -> list[Face]:
        self.calls.append(image.shape[:2])
        return [make_face(500, 300, 30)] if image.shape[1] >= 1000 else []


def test_an_empty_coarse_pass_searches_the_whole_frame():
    det = _OnlyAtFullSize()
    faces = detect_coarse_to_fine(det, np.zeros((720, 1280, 3), np.uint8), 0.5)
    assert det.calls == [(360, 640), (720, 1280)] and len(faces) == 1


def test_regions_are_grid_aligned_cover_the_margin_and_merge():
    boxes = np.array([[100, 300, 150, 350], [170, 310, 220, 360], [900, 100, 930, 130]],
                     np.float32)
    regions = regions_around(boxes, 720, 1280, margin=1.0)
    assert len(regions) == 2  # the two neighbours share one crop
    for x1, y1, x2, y2 in regions:
        assert x1 % GRID == 0 and y1 % GRID == 0 and x2 % GRID == 0 and y2 % GRID == 0
    (ax1, ay1, ax2, ay2), (bx1, by1, bx2, by2) = sorted(regions)
    assert ax1 <= 100 - 50 and ax2 >= 220 + 50 and ay1 <= 300 - 50 and ay2 >= 360 + 50
    assert bx1 <= 900 - 32 and bx2 >= 930 + 32 and by1 <= 100 - 32 and by2 >= 130 + 32


def test_regions_stay_inside_the_frame_and_reach_min_side():
    regions = regions_around(np.array([[1250, 700, 1278, 718]], np.float32), 720, 1280,
                             min_side=500)
    (x1, y1, x2, y2), = regions
    assert x1 >= 0 and y1 % GRID == 0 and x2 == 1280 and y2 == 720 and x2 - x1 >= 500


@pytest.mark.parametrize("view", ["windshield", "side-left"])
def test_lane_passes_find_the_faces_of_full_resolution_passes(yunet, publicdomain, view):
    from tests.fakes import FakeEmbedder, FakeQuality

    from bordermatch.lane.pipeline import LaneConfig, LanePipeline
    from bordermatch.match.decide import OperatingPoint
    from bordermatch.match.fusion import LogisticScore
    from bordermatch.match.search import GallerySearch

    def pipeline(**cfg):
        point = OperatingPoint("fake", "FPIR", 1e-3, match=0.9, review=0.8, review_target=1e-2)
        return LanePipeline(yunet, FakeEmbedder(), FakeQuality(),
                            GallerySearch(["a"], np.ones((1, 8), np.float32)), point,
                            LogisticScore((("fake", 1.0),), 0.0), LaneConfig(**cfg))

    frame = _cabin(yunet, publicdomain)
    full = pipeline(coarse_scale=1.0, roi_coarse_scale=1.0).detect(frame, view)
    fine = pipeline().detect(frame, view)
    assert len(full) == len(fine) == 4
    for a in full:
        b = min(fine, key=lambda f: float(np.abs(f.box - a.box).max()))
        assert np.abs(a.landmarks - b.landmarks).max() < 0.03 * a.width
