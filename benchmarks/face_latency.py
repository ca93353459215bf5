"""Face engine latency: detection on 1280x720 frames, SFace per face, batch throughput.

Each measurement runs beside a reference in the same process (OpenCV's own YuNet and SFace
wrappers on the same inputs), so the ratio stays meaningful on a noisy, shared machine.

    python benchmarks/face_latency.py [--repeats 50] [--threads 0]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from _timing import machine_line, timed
from bordermatch.detect.yunet import YuNetDetector
from bordermatch.embed.align import align
from bordermatch.embed.sface import SFaceEmbedder
from bordermatch.io.images import load_image
from bordermatch.models.bundled import SFACE, YUNET
from bordermatch.models.onnx_prep import prepare

PHOTOS = Path(__file__).resolve().parents[1] / "src" / "bordermatch" / "data" / "publicdomain"


def percentiles(ms: np.ndarray) -> str:
    return f"p50 {np.percentile(ms, 50):6.2f} ms  p95 {np.percentile(ms, 95):6.2f} ms"


def frame_1280x720() -> np.ndarray:
    """The two-person photo placed in a 1280x720 lane frame at its native size."""
    img = load_image(PHOTOS / "two_people.jpg")
    frame = np.full((720, 1280, 3), 70, np.uint8)
    h, w = min(720, img.shape[0]), min(1280, img.shape[1])
    frame[:h, :w] = img[:h, :w]
    return frame


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0 = all)")
    args = ap.parse_args()
    print(machine_line(f"opencv {cv2.__version__}"))

    frame = frame_1280x720()
    ours_det = YuNetDetector(threads=args.threads)
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "bordermatch-bench-yunet.onnx"
    tmp.write_bytes(prepare(YUNET))
    ref_det = cv2.FaceDetectorYN.create(str(tmp), "", (1280, 720), 0.6, 0.3, 100)
    bgr = np.ascontiguousarray(frame[:, :, ::-1])
    ours = timed(lambda: ours_det.detect(frame), args.repeats)
    ref = timed(lambda: ref_det.detect(bgr), args.repeats)
    print(f"detect 1280x720  bordermatch (onnxruntime): {percentiles(ours)}  faces="
          f"{len(ours_det.detect(frame))}")
    print(f"detect 1280x720  reference (cv2.FaceDetectorYN): {percentiles(ref)}  "
          f"ratio {np.median(ours) / np.median(ref):.2f}")

    faces = ours_det.detect(frame)
    emb = SFaceEmbedder(threads=args.threads)
    tmp_sf = tmp.with_name("bordermatch-bench-sface.onnx")
    tmp_sf.write_bytes(prepare(SFACE))
    ref_rec = cv2.FaceRecognizerSF.create(str(tmp_sf), "")
    chip = align(frame, faces[0].landmarks)
    ours_e = timed(lambda: emb.embed(frame, faces[:1]), args.repeats)
    ref_e = timed(lambda: ref_rec.feature(np.ascontiguousarray(chip[:, :, ::-1])), args.repeats)
    print(f"sface per face   bordermatch (align+embed): {percentiles(ours_e)}")
    print(f"sface per face   reference (cv2.FaceRecognizerSF, embed only): {percentiles(ref_e)}  "
          f"ratio {np.median(ours_e) / np.median(ref_e):.2f}")

    batch = [faces[i % len(faces)] for i in range(32)]
    t = time.perf_counter()
    rounds = max(1, args.repeats // 10)
    for _ in range(rounds):
        emb.embed(frame, batch)
    rate = rounds * len(batch) / (time.perf_counter() - t)
    print(f"sface batch of {len(batch)}: {rate:.1f} faces/s")
    t = time.perf_counter()
    for _ in range(rounds):
        ours_det.detect(frame)
        emb.embed(frame, faces)
    per_frame = (time.perf_counter() - t) / rounds
    print(f"detect+embed per 1280x720 frame ({len(faces)} faces): {per_frame * 1000:.1f} ms")
    tmp.unlink(missing_ok=True)
    tmp_sf.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
