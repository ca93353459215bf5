"""Detector latency on a 1280x720 lane-like frame, and which small faces each finds.

The frame holds the two-person public-domain photo at about half size plus six copies of
one face shrunk to 12-40 px and degraded as if seen through a windscreen (lower contrast,
a glare gradient, sensor noise, JPEG at quality 60): the back-row passengers of a lane.
Every detector is timed in the same process as YuNet, the reference, so the ratio holds on
a busy machine.

    python benchmarks/detection_latency.py [--repeats 30] [--threads 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from _timing import machine_line, timed
from bordermatch.detect.centerface import CenterFaceDetector
from bordermatch.detect.yunet import YuNetDetector
from bordermatch.eval.detection import Rescaled, pairwise_iou
from bordermatch.io.images import load_image

PHOTOS = Path(__file__).resolve().parents[1] / "src" / "bordermatch" / "data" / "publicdomain"
SMALL_HEIGHTS = (12, 16, 20, 24, 32, 40)


def lane_frame() -> tuple[np.ndarray, np.ndarray]:
    """The frame and the boxes (x1, y1, x2, y2) of its small faces."""
    frame = np.full((720, 1280, 3), 70, np.uint8)
    people = load_image(PHOTOS / "two_people.jpg")
    people = cv2.resize(people, None, fx=0.55, fy=0.55, interpolation=cv2.INTER_AREA)
    frame[40:40 + people.shape[0], 40:40 + people.shape[1]] = people
    face_img = load_image(PHOTOS / "obama.jpg")
    ref = YuNetDetector(threads=1).detect(face_img)[0]
    boxes = []
    for i, target in enumerate(SMALL_HEIGHTS):
        f = target / ref.height
        small = cv2.resize(face_img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        small = small[: min(small.shape[0], 120), : min(small.shape[1], 100)]
        x0, y0 = 700 + (i % 3) * 190, 420 + (i // 3) * 150
        frame[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
        boxes.append(ref.box * f + [x0, y0, x0, y0])
    return through_glass(frame, x_from=680), np.asarray(boxes, np.float32)


def through_glass(frame: np.ndarray, x_from: int) -> np.ndarray:
    """Windscreen look right of ``x_from``: 55% contrast, glare, noise; then JPEG q60."""
    rng = np.random.default_rng(0)
    out = frame.astype(np.float32)
    region = out[:, x_from:]
    glare = np.linspace(0, 90, region.shape[1], dtype=np.float32)[None, :, None]
    region[:] = 0.55 * region + 40 + glare + rng.normal(0, 6, region.shape)
    out = np.clip(out, 0, 255).astype(np.uint8)
    _, jpg = cv2.imencode(".jpg", out[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 60])
    return np.ascontiguousarray(cv2.imdecode(jpg, cv2.IMREAD_COLOR)[:, :, ::-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0 = all)")
    args = ap.parse_args()
    print(machine_line())
    frame, small = lane_frame()
    t = args.threads
    detectors = {
        "yunet (reference)": YuNetDetector(threads=t),
        "yunet input x2": Rescaled(YuNetDetector(max_side=2560, threads=t), 2.0),
        "centerface x0.5": CenterFaceDetector(scale=0.5, threads=t),
        "centerface x1": CenterFaceDetector(threads=t),
        "centerface x2": CenterFaceDetector(scale=2.0, max_side=2560, threads=t),
        "centerface x1+x2": CenterFaceDetector(extra_scale=2.0, max_side=2560, threads=t),
    }
    ref_p50 = None
    print(f"{'detector':<20} {'p50 ms':>8} {'p90 ms':>8} {'fps':>6} {'ratio':>6}  faces  "
          f"small faces found (heights {', '.join(map(str, SMALL_HEIGHTS))} px)")
    for name, det in detectors.items():
        ms = timed(lambda det=det: det.detect(frame), args.repeats)
        faces = det.detect(frame)
        p50 = float(np.percentile(ms, 50))
        ref_p50 = ref_p50 or p50
        found = []
        if faces:
            iou = pairwise_iou(small, np.asarray([f.box for f in faces]))
            found = [h for h, row in zip(SMALL_HEIGHTS, iou, strict=True) if row.max() >= 0.5]
        print(f"{name:<20} {p50:8.1f} {np.percentile(ms, 90):8.1f} {1000 / ms.mean():6.1f} "
              f"{p50 / ref_p50:6.2f}  {len(faces):5d}  {found}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
