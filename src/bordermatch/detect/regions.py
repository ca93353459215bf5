"""Coarse-to-fine detection: find faces on a downscaled frame, then detect again at full
resolution only in the regions around them.

A detector's cost grows with the pixels it sees. A lane frame is mostly car body, road and
booth; the occupants' faces sit together behind the glass. The coarse pass (a quarter of
the pixels at scale 0.5) only has to say *where* faces are; the fine pass on full-resolution
crops around them gives the boxes and landmarks that alignment uses, so the recognizer sees
the same chips as with one full-frame pass (docs/benchmarks.md measures both).

Crops start on multiples of the detector's coarsest stride (32 px for YuNet), so the fine
pass sees each face on the same feature grid as a full-frame pass would, and reach a margin
of one face width past every coarse box, so a neighbour the coarse pass missed (a small or
half-hidden face next to a found one) is still searched at full resolution. When the coarse
pass finds nothing the whole frame is searched at full resolution: an empty coarse answer
must never mean an empty car.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from bordermatch.protocols import Detector
from bordermatch.types import Face, Image

GRID = 32  # coarsest stride of YuNet and CenterFace


def shifted(faces: Sequence[Face], scale: float, dx: float, dy: float) -> list[Face]:
    """Faces found on a crop at ``(dx, dy)`` resized by ``scale``, in frame pixels."""
    s = 1.0 / scale
    off = np.array([dx, dy], np.float32)
    return [Face((f.box * s + np.tile(off, 2)).astype(np.float32),
                 (f.landmarks * s + off).astype(np.float32), f.score, f.detector)
            for f in faces]


def regions_around(boxes: NDArray[np.float32], height: int, width: int, margin: float = 1.0,
                   min_side: int = 0) -> list[tuple[int, int, int, int]]:
    """Grid-aligned (x1, y1, x2, y2) crops covering every box grown by ``margin`` box widths
    on each side; overlapping crops are merged so no face is searched twice. Each crop is at
    least ``min_side`` wide (detectors enlarge smaller inputs, which would change the scale
    the fine pass sees)."""
    rects = []
    for x1, y1, x2, y2 in np.asarray(boxes, np.float64).reshape(-1, 4):
        m = max(margin * (x2 - x1), GRID)
        rects.append(_aligned(x1 - m, y1 - m, x2 + m, y2 + m, height, width, min_side))
    merged = True
    while merged and len(rects) > 1:
        merged = False
        for i in range(len(rects)):
            for j in range(i + 1, len(rects)):
                a, b = rects[i], rects[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    rects[i] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]),
                                max(a[3], b[3]))
                    del rects[j]
                    merged = True
                    break
            if merged:
                break
    return rects


def _aligned(x1: float, y1: float, x2: float, y2: float, height: int, width: int,
             min_side: int) -> tuple[int, int, int, int]:
    ax1 = max(0, int(x1) // GRID * GRID)
    ay1 = max(0, int(y1) // GRID * GRID)
    ax2 = min(width, _ceil_grid(x2))
    ay2 = min(height, _ceil_grid(y2))
    if ax2 - ax1 < min_side:
        grow = _ceil_grid(min_side - (ax2 - ax1))
        ax1 = max(0, ax1 - grow // 2 // GRID * GRID)
        ax2 = min(width, ax1 + _ceil_grid(min_side))
        ax1 = max(0, min(ax1, (ax2 - min_side) // GRID * GRID))
    return ax1, ay1, ax2, ay2


def _ceil_grid(v: float) -> int:
    return -(-int(np.ceil(v)) // GRID) * GRID


def detect_coarse_to_fine(detector: Detector, image: Image, scale: float = 0.5,
                          margin: float = 1.0) -> list[Face]:
    """Faces of ``image`` at full resolution, searched only around what a pass at ``scale``
    finds (the whole frame when it finds nothing). ``scale >= 1`` is one full-frame pass."""
    if scale >= 1.0:
        return list(detector.detect(image))
    h, w = image.shape[:2]
    # cv2's stubs type every result as any int/float array; resize keeps uint8.
    small: Image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),  # type: ignore[assignment]
                              interpolation=cv2.INTER_AREA)
    coarse = shifted(detector.detect(small), small.shape[1] / w, 0.0, 0.0)
    if not coarse:
        return list(detector.detect(image))
    min_side = int(getattr(detector, "min_side", 0))
    faces: list[Face] = []
    for x1, y1, x2, y2 in regions_around(np.stack([f.box for f in coarse]), h, w, margin,
                                         min(min_side, w)):
        faces += shifted(detector.detect(image[y1:y2, x1:x2]), 1.0, x1, y1)
    return faces
