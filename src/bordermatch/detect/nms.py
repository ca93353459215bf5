"""Greedy non-maximum suppression and the shared post-processing of detector outputs."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bordermatch.types import Face


def nms(boxes: NDArray[np.float32], scores: NDArray[np.float32], iou: float) -> NDArray[np.int64]:
    """Indices kept, highest score first. Boxes are (n, 4) x1, y1, x2, y2."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes.T
    areas = np.maximum(0.0, x2 - x1) * np.maximum(0.0, y2 - y1)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        union = areas[i] + areas[rest] - inter
        overlap = np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)
        order = rest[overlap <= iou]
    return np.asarray(keep, dtype=np.int64)


def concat_candidates(
    boxes: list[np.ndarray], landmarks: list[np.ndarray], scores: list[np.ndarray]
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    """Join per-stride candidates into (n, 4) boxes, (n, 10) landmarks and (n,) scores."""
    if not boxes:
        empty = np.zeros((0,), np.float32)
        return empty.reshape(0, 4), empty.reshape(0, 10), empty
    return (
        np.concatenate(boxes).astype(np.float32),
        np.concatenate(landmarks).astype(np.float32),
        np.concatenate(scores).astype(np.float32),
    )


def to_faces(
    boxes: NDArray[np.float32],
    landmarks: NDArray[np.float32],
    scores: NDArray[np.float32],
    *,
    iou: float,
    top_k: int,
    scale: float,
    detector: str,
) -> list[Face]:
    """Suppress overlaps, undo the input scaling, and wrap each survivor in a Face."""
    if boxes.size == 0:
        return []
    kept = nms(boxes, scores, iou)[:top_k]
    inv = 1.0 / scale
    return [
        Face(
            box=(boxes[i] * inv).astype(np.float32),
            landmarks=(landmarks[i].reshape(5, 2) * inv).astype(np.float32),
            score=float(scores[i]),
            detector=detector,
        )
        for i in kept
    ]


def fit_scale(height: int, width: int, max_side: int, min_side: int = 0) -> float:
    """Resize factor that brings the longer side into ``[min_side, max_side]``."""
    longer = float(max(height, width))
    if longer > max_side:
        return max_side / longer
    if longer < min_side:
        return min_side / longer
    return 1.0
