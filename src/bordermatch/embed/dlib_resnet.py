"""dlib's ResNet face recognizer (128-D) with dlib's 5-point shape predictor.

Both weight files come from the PyPI carrier ``face_recognition_models`` and are checked
against their SHA-256 before dlib opens them (dlib only loads by path). The 68-point
predictor in the same package is never used: its training data carries a non-commercial
licence.

dlib's own pipeline is: detector rectangle -> 5-point shape predictor -> ``get_face_chip``
(150x150, padding 0.25) -> ``compute_face_descriptor``. The 5-point predictor was trained
on the rectangles of dlib's HOG/MMOD detectors, which are tighter than a YuNet box (YuNet's
box reaches the hairline; dlib's stops at the eyebrows and sits lower). We therefore map
the YuNet detection to a dlib-style square around the landmarks; ``box_mode`` keeps the
alternatives for measurement (see docs/benchmarks.md for which one wins on LFW).

Images are RGB uint8, which is what dlib expects. Descriptors are already close to unit
length; we L2-normalise them so cosine and dot product agree with the other recognizers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from bordermatch.models.bundled import DLIB_RESNET, DLIB_SHAPE5
from bordermatch.models.verify import verify_file
from bordermatch.types import Face, Image

BoxMode = Literal["landmarks", "yunet", "square"]

CHIP_SIZE = 150
CHIP_PADDING = 0.25


def dlib_box(face: Face, mode: BoxMode = "landmarks") -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of a dlib-detector-like rectangle for a YuNet face.

    ``landmarks``: a square centred between the eye centre and the mouth centre, with a
    side of 2.2x the eye-to-mouth distance (scale-invariant, roll-robust; matches where
    dlib's detectors put their boxes). ``yunet``: the detector box as is. ``square``: the
    YuNet box made square on its longer side, shifted down by 10% (dlib boxes sit lower).
    """
    if mode == "yunet":
        x1, y1, x2, y2 = (float(v) for v in face.box)
    elif mode == "square":
        x1, y1, x2, y2 = (float(v) for v in face.box)
        side = max(x2 - x1, y2 - y1)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2 + 0.1 * side
        x1, y1, x2, y2 = cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2
    elif mode == "landmarks":
        lm = np.asarray(face.landmarks, dtype=np.float64)
        eyes = lm[:2].mean(0)
        mouth = lm[3:5].mean(0)
        d = float(np.linalg.norm(mouth - eyes))
        # Fall back to the box when landmarks are degenerate (should not happen for YuNet).
        if d < 1.0:
            return dlib_box(face, "square")
        side = 2.2 * d
        cx, cy = (eyes + mouth) / 2
        x1, y1, x2, y2 = cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2
    else:
        raise ValueError(f"unknown box mode {mode!r}")
    return round(x1), round(y1), round(x2), round(y2)


class DlibResNetEmbedder:
    name = "dlib"
    dim = 128

    def __init__(self, box_mode: BoxMode = "landmarks", jitter: int = 0) -> None:
        import dlib  # heavy, and only needed once a dlib embedder is actually built

        if box_mode not in ("landmarks", "yunet", "square"):
            raise ValueError(f"unknown box mode {box_mode!r}")
        self.box_mode = box_mode
        self.jitter = jitter
        self._dlib = dlib
        self._shape = dlib.shape_predictor(str(verify_file(DLIB_SHAPE5)))
        self._net = dlib.face_recognition_model_v1(str(verify_file(DLIB_RESNET)))

    def chips(self, image: Image, faces: Sequence[Face]) -> list[Image]:
        """The 150x150 RGB chips dlib's network sees (useful for inspection and tests)."""
        image = np.ascontiguousarray(image, dtype=np.uint8)
        out = []
        for face in faces:
            rect = self._dlib.rectangle(*dlib_box(face, self.box_mode))
            shape = self._shape(image, rect)
            out.append(self._dlib.get_face_chip(image, shape, size=CHIP_SIZE,
                                                padding=CHIP_PADDING))
        return out

    def embed(self, image: Image, faces: Sequence[Face]) -> NDArray[np.float32]:
        out = np.zeros((len(faces), self.dim), dtype=np.float32)
        if not faces:
            return out
        chips = self.chips(image, faces)
        if self.jitter:
            for i, chip in enumerate(chips):
                out[i] = np.asarray(self._net.compute_face_descriptor(chip, self.jitter))
        else:
            descriptors = self._net.compute_face_descriptor(chips)
            out[:] = np.asarray([np.asarray(d) for d in descriptors], dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


def create(**kwargs) -> DlibResNetEmbedder:
    return DlibResNetEmbedder(**kwargs)
