"""ISO/IEC 29794-5 quality components computed from the image and the five landmarks.

Each native measure keeps its unit; each component quality score (QS) is 0-100, 100 best,
following the standard's convention. The mappings are ours and documented in
docs/quality.md; they are not the OFIQ reference implementation (whose unified score needs a
MagFace network we do not ship).

| component          | native measure                                 | QS mapping                 |
|--------------------|------------------------------------------------|----------------------------|
| inter-eye distance | px between eye centres                         | 100 at >= 60 px (ICAO min) |
| head size          | face box height, px                            | (reported only)            |
| sharpness          | variance of Laplacian of the aligned 112 crop  | 100 * (1 - exp(-v / 300))  |
| under-exposure     | fraction of crop pixels with luminance <= 15   | 100 * (1 - 2 * fraction)   |
| over-exposure      | fraction of crop pixels with luminance >= 240  | 100 * (1 - 2 * fraction)   |
| dynamic range      | log2(p99 - p1 + 1) of crop luminance, bits     | 100 * bits / 8             |
| head pose          | yaw, pitch, roll in degrees from landmarks     | 100 * cos(yaw) * cos(pitch)|

Unified score: the weighted geometric mean of the component QS (weights in ``WEIGHTS``),
so one very poor component pulls the whole score down, as a failed component should.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

from bordermatch.embed.align import ARCFACE_112, align
from bordermatch.types import Face, Image, Quality

WEIGHTS = {"ied": 0.25, "sharpness": 0.25, "exposure": 0.15, "range": 0.1, "pose": 0.25}
IED_FULL_QUALITY_PX = 60.0
SHARPNESS_SCALE = 300.0
# Frontal ratio (nose below eye line) / (mouth below eye line) on the ArcFace template.
_FRONTAL_PITCH_RATIO = float(
    (ARCFACE_112[2, 1] - ARCFACE_112[:2, 1].mean())
    / (ARCFACE_112[3:, 1].mean() - ARCFACE_112[:2, 1].mean())
)


def estimate_pose(landmarks: NDArray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from five landmarks; a geometric estimate.

    Roll is the eye-line angle. Yaw treats the nose tip as a point ~0.6 inter-eye distances
    in front of the eye plane and converts its sideways shift to an angle. Pitch compares
    where the nose sits between eyes and mouth with the frontal template.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    left_eye, right_eye = lm[0], lm[1]
    eye_vec = right_eye - left_eye
    ied = float(np.hypot(*eye_vec))
    if ied < 1e-6:
        return 0.0, 0.0, 0.0
    roll = math.degrees(math.atan2(eye_vec[1], eye_vec[0]))
    c, s = math.cos(-math.radians(roll)), math.sin(-math.radians(roll))
    rot = np.array([[c, -s], [s, c]])
    centred = (lm - (left_eye + right_eye) / 2) @ rot.T
    mouth_mid = centred[3:].mean(0)
    midline_x = mouth_mid[0] / 2  # midpoint of eye centre (0) and mouth centre
    yaw = math.degrees(math.asin(np.clip((centred[2, 0] - midline_x) / (0.6 * ied), -1, 1)))
    mouth_drop = mouth_mid[1]
    if mouth_drop <= 1e-6:
        return yaw, 0.0, roll
    ratio = centred[2, 1] / mouth_drop
    pitch = math.degrees(math.asin(np.clip((ratio - _FRONTAL_PITCH_RATIO) * 2.0, -1, 1)))
    return yaw, pitch, roll


class FaceQualityAssessor:
    """Implements the QualityAssessor protocol."""

    def assess(self, image: Image, face: Face) -> Quality:
        chip = align(image, face.landmarks)
        return assess_chip(chip, face)


def assess_chip(chip: Image, face: Face) -> Quality:
    gray = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
    # Central region of the aligned crop: the face itself, not the background corners.
    core = gray[20:108, 16:96].astype(np.float64)
    sharp_var = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    under = float((core <= 15).mean())
    over = float((core >= 240).mean())
    p1, p99 = np.percentile(core, [1, 99])
    bits = float(math.log2(max(p99 - p1, 0.0) + 1.0))
    yaw, pitch, roll = estimate_pose(face.landmarks)
    ied = face.inter_eye_distance
    components = {
        "ied": min(1.0, ied / IED_FULL_QUALITY_PX),
        "sharpness": 1.0 - math.exp(-sharp_var / SHARPNESS_SCALE),
        "exposure": max(0.0, 1.0 - 2.0 * (under + over)),
        "range": min(1.0, bits / 8.0),
        "pose": max(0.0, math.cos(math.radians(yaw)) * math.cos(math.radians(pitch))),
    }
    unified = 100.0 * math.exp(
        sum(w * math.log(max(components[k], 1e-3)) for k, w in WEIGHTS.items())
    )
    return Quality(
        inter_eye_distance=ied,
        head_size=face.height,
        sharpness=100.0 * components["sharpness"],
        under_exposure=under,
        over_exposure=over,
        dynamic_range=bits,
        luminance_mean=float(core.mean()),
        yaw=yaw,
        pitch=pitch,
        roll=roll,
        unified=unified,
    )
