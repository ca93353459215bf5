"""Draw detections on an image (for `bordermatch detect --out` and reports)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from bordermatch.types import Face, Image


def draw_faces(image: Image, faces: Sequence[Face], out: Path | str,
               subject: Face | None = None) -> None:
    """Boxes, landmarks and scores; the ``subject`` (if given) in orange, the others green."""
    canvas = np.ascontiguousarray(image[:, :, ::-1])  # OpenCV draws and writes BGR
    thick = max(1, round(max(image.shape[:2]) / 500))
    for f in faces:
        x1, y1, x2, y2 = (round(float(v)) for v in f.box)
        colour = (0, 140, 255) if f is subject else (0, 200, 0)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, thick)
        for x, y in f.landmarks:
            cv2.circle(canvas, (round(float(x)), round(float(y))), thick + 1, (0, 0, 255), -1)
        cv2.putText(canvas, f"{f.score:.2f}", (x1, max(0, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.5 * thick, colour, thick)
    if not cv2.imwrite(str(out), canvas):
        raise OSError(f"could not write {out}")
