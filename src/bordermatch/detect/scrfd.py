"""SCRFD detectors from a user-supplied insightface-format model pack (see models/pack.py).

Layout of the insightface ``*_kps`` exports (buffalo_l ``det_10g``, buffalo_s ``det_500m``):
one input (1, 3, H, W) and nine outputs, a score (n, 1), box (n, 4) and keypoint (n, 10)
tensor for each of the strides 8, 16 and 32 (a leading batch axis of 1 may be present).
Each stride has 2 anchors per feature-map cell, cell-major: rows 2k and 2k+1 belong to cell
k. Anchor centres sit at the cell's top-left corner (x = col * stride). Scores are already
sigmoid outputs. Boxes are distances (left, top, right, bottom) and keypoints offsets
(dx, dy) from the anchor centre, both in units of the stride.

We tell the outputs apart by their last axis (1, 4, 10) and their row count (which fixes
the stride for the input size), not by their order or names, which differ between exports.
The image is letterboxed: scaled to fit the manifest's input size, keeping its aspect
ratio, and placed top-left on a zero canvas, as insightface does.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from bordermatch.detect.nms import concat_candidates, to_faces
from bordermatch.errors import ConfigError, ManifestError, ModelFormatError
from bordermatch.models.pack import InputSpec, ModelPack, resolve_pack
from bordermatch.types import Face, Image

STRIDES = (8, 16, 32)
ANCHORS = 2


class SCRFDDetector:
    name = "scrfd"

    def __init__(
        self,
        pack: ModelPack | str | Path | None = None,
        model: str | None = None,
        score_threshold: float = 0.5,
        nms_iou: float = 0.4,
        top_k: int = 300,
        threads: int = 0,
    ) -> None:
        if not 0.0 <= score_threshold <= 1.0:
            raise ConfigError(f"score_threshold must be in [0, 1], got {score_threshold}")
        self.pack = resolve_pack(pack)
        self.spec = self.pack.get("scrfd", model)
        size = self.spec.input
        if size.width % 32 or size.height % 32:
            raise ManifestError(f"{self.spec.name}: SCRFD input size must be multiples of 32, "
                                f"got {size.width}x{size.height}")
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.top_k = top_k
        self._session = self.pack.session(self.spec, threads)
        self._input = check_signature(self._session, size, self.spec.name)
        # One dry run on a blank canvas so a wrong output layout fails at start-up, not on
        # the first traveller.
        blank = np.zeros((size.height, size.width, 3), np.uint8)
        decode(self._session.run(None, {self._input: size.normalise(blank)}),
               size.height, size.width, 1.0)

    def detect(self, image: Image) -> list[Face]:
        spec = self.spec.input
        blob, scale, rh, rw = letterbox(image, spec)
        outputs = self._session.run(None, {self._input: blob})
        boxes, kps, scores = decode(outputs, spec.height, spec.width, self.score_threshold)
        boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, rw)
        boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, rh)
        return to_faces(
            boxes, kps, scores,
            iou=self.nms_iou, top_k=self.top_k, scale=scale, detector=self.name,
        )


def check_signature(sess, spec: InputSpec, name: str) -> str:
    """The input name, after checking the graph has the SCRFD-with-keypoints signature."""
    inputs = sess.get_inputs()
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        raise ModelFormatError(f"{name}: SCRFD has one NCHW input, got {[i.shape for i in inputs]}")
    fixed_hw = [d for d in inputs[0].shape[2:] if isinstance(d, int)]
    if len(fixed_hw) == 2 and fixed_hw != [spec.height, spec.width]:
        raise ModelFormatError(f"{name}: graph input is {fixed_hw[1]}x{fixed_hw[0]} but the "
                               f"manifest says {spec.width}x{spec.height}")
    if len(sess.get_outputs()) != 3 * len(STRIDES):
        raise ModelFormatError(
            f"{name}: expected 9 outputs (score, box, keypoints per stride 8/16/32), got "
            f"{len(sess.get_outputs())}; SCRFD exports without keypoints cannot be aligned"
        )
    return inputs[0].name


def letterbox(image: Image, spec: InputSpec) -> tuple[NDArray[np.float32], float, int, int]:
    """Normalised blob of the input size, the scale applied, and the resized image's H, W."""
    h, w = image.shape[:2]
    scale = min(spec.width / w, spec.height / h)
    rw, rh = max(1, round(w * scale)), max(1, round(h * scale))
    canvas = np.zeros((spec.height, spec.width, 3), np.uint8)
    canvas[:rh, :rw] = cv2.resize(image, (rw, rh), interpolation=cv2.INTER_LINEAR)
    blob = spec.normalise(canvas)
    # Padding must be what the network saw in training: zero *pixels*, not zero after
    # normalisation, so it is normalised along with the image above.
    return blob, scale, rh, rw


def anchor_centres(height: int, width: int, stride: int) -> NDArray[np.float32]:
    """(x, y) of each anchor, cell-major with ANCHORS consecutive rows per cell."""
    rows, cols = height // stride, width // stride
    ys, xs = np.mgrid[:rows, :cols]
    centres = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(np.float32) * stride
    return np.repeat(centres, ANCHORS, axis=0)


def group_outputs(
    outputs: list[NDArray], height: int, width: int
) -> dict[int, dict[int, NDArray[np.float32]]]:
    """{stride: {1: scores, 4: boxes, 10: keypoints}} from the nine outputs in any order."""
    by_rows = {(height // s) * (width // s) * ANCHORS: s for s in STRIDES}
    groups: dict[int, dict[int, NDArray[np.float32]]] = {s: {} for s in STRIDES}
    for out in outputs:
        arr = np.asarray(out, np.float32)
        arr = arr.reshape(-1, arr.shape[-1]) if arr.ndim else arr
        stride = by_rows.get(arr.shape[0]) if arr.ndim == 2 else None
        if stride is None or arr.shape[1] not in (1, 4, 10) or arr.shape[1] in groups[stride]:
            raise ModelFormatError(
                f"unexpected SCRFD output of shape {np.shape(out)} for a {width}x{height} input"
            )
        groups[stride][arr.shape[1]] = arr
    return groups


def decode(
    outputs: list[NDArray], height: int, width: int, threshold: float
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    """Boxes (n, 4), keypoints (n, 10) and scores (n,) above threshold, in input pixels."""
    all_boxes, all_kps, all_scores = [], [], []
    for stride, parts in group_outputs(outputs, height, width).items():
        scores = parts[1][:, 0]
        # Negative distances (an untrained or broken export) would give inside-out boxes.
        sane = (parts[4][:, 0] + parts[4][:, 2] > 0) & (parts[4][:, 1] + parts[4][:, 3] > 0)
        keep = np.nonzero((scores >= threshold) & sane)[0]
        if keep.size == 0:
            continue
        centres = anchor_centres(height, width, stride)[keep]
        dist = parts[4][keep] * stride
        all_boxes.append(np.concatenate([centres - dist[:, :2], centres + dist[:, 2:]], axis=1))
        offsets = parts[10][keep].reshape(-1, 5, 2) * stride
        all_kps.append((centres[:, None, :] + offsets).reshape(-1, 10))
        all_scores.append(scores[keep])
    return concat_candidates(all_boxes, all_kps, all_scores)


def create(**kwargs) -> SCRFDDetector:
    return SCRFDDetector(**kwargs)
