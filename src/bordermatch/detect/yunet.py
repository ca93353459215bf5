"""YuNet (libfacedetection, 2023mar) on onnxruntime, with our own anchor-free decoding.

The network is fully convolutional; we make its spatial input size dynamic at load time so
one session serves any frame size (padded to a multiple of 32). Input is BGR, 0-255,
unnormalised; cls and obj outputs already pass through a sigmoid in the graph.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from bordermatch.detect.nms import concat_candidates, fit_scale, to_faces
from bordermatch.models.bundled import YUNET
from bordermatch.models.onnx_prep import prepare, session
from bordermatch.types import Face, Image

STRIDES = (8, 16, 32)


class YuNetDetector:
    name = "yunet"

    def __init__(
        self,
        score_threshold: float = 0.6,
        nms_iou: float = 0.3,
        top_k: int = 100,
        max_side: int = 1280,
        min_side: int = 500,
        threads: int = 0,
        spinning: bool = False,
    ) -> None:
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.top_k = top_k
        self.max_side = max_side
        # Small stills (a 250 px LFW crop, a cropped document photo) are enlarged for
        # detection only: YuNet's landmarks on ~100 px faces are coarse, and alignment error
        # cost SFace 99.00% -> 99.67% on one LFW fold (docs/benchmarks.md). Embedders still
        # read the original pixels through the mapped-back landmarks.
        self.min_side = min_side
        # No spinning: measured faster in the lane on the shared 2-core machine
        # (docs/benchmarks.md), where the recognizer and other processes need the cores.
        self._session = session(prepare(YUNET), threads, spinning)
        self._outputs = [o.name for o in self._session.get_outputs()]
        self._buffers = threading.local()

    def detect(self, image: Image) -> list[Face]:
        h, w = image.shape[:2]
        scale = fit_scale(h, w, self.max_side, self.min_side)
        blob, ph, pw = self._blob(image, scale)
        out = dict(zip(self._outputs, self._session.run(None, {"input": blob}), strict=True))
        boxes, landmarks, scores = decode(out, ph, pw, self.score_threshold)
        return to_faces(
            boxes, landmarks, scores,
            iou=self.nms_iou, top_k=self.top_k, scale=scale, detector=self.name,
        )

    def _blob(self, image: Image, scale: float) -> tuple[np.ndarray, int, int]:
        if scale != 1.0:
            interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC
            # cv2's stubs type every result as any int/float array; resize keeps uint8.
            image = cv2.resize(  # type: ignore[assignment]
                image, None, fx=scale, fy=scale, interpolation=interp)
        h, w = image.shape[:2]
        ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
        # Lane cameras send frames of one size: reusing the buffer avoids page-faulting a
        # fresh 11 MB array on every 1280x720 frame. One buffer per thread (the service
        # shares a detector across request threads).
        blob = getattr(self._buffers, "blob", None)
        if blob is None or blob.shape != (1, 3, ph, pw):
            blob = self._buffers.blob = np.zeros((1, 3, ph, pw), dtype=np.float32)
        else:
            blob[0, :, h:, :] = 0.0
            blob[0, :, :h, w:] = 0.0
        blob[0, :, :h, :w] = image[:, :, ::-1].transpose(2, 0, 1)  # RGB -> BGR, HWC -> CHW
        return blob, ph, pw


def decode(
    out: dict[str, np.ndarray], height: int, width: int, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (n, 4), landmarks (n, 10) and scores (n,) above threshold, in input pixels."""
    all_boxes, all_kps, all_scores = [], [], []
    for s in STRIDES:
        cols = width // s
        cls = np.clip(out[f"cls_{s}"].reshape(-1), 0.0, 1.0)
        obj = np.clip(out[f"obj_{s}"].reshape(-1), 0.0, 1.0)
        score = np.sqrt(cls * obj)
        idx = np.nonzero(score >= threshold)[0]
        if idx.size == 0:
            continue
        r, c = np.divmod(idx, cols)
        bbox = out[f"bbox_{s}"].reshape(-1, 4)[idx]
        kps = out[f"kps_{s}"].reshape(-1, 10)[idx]
        cx, cy = (c + bbox[:, 0]) * s, (r + bbox[:, 1]) * s
        bw, bh = np.exp(bbox[:, 2]) * s, np.exp(bbox[:, 3]) * s
        all_boxes.append(np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1))
        kx = (kps[:, 0::2] + c[:, None]) * s
        ky = (kps[:, 1::2] + r[:, None]) * s
        all_kps.append(np.stack([kx, ky], axis=2).reshape(-1, 10))
        all_scores.append(score[idx])
    return concat_candidates(all_boxes, all_kps, all_scores)


def create(**kwargs) -> YuNetDetector:
    return YuNetDetector(**kwargs)
