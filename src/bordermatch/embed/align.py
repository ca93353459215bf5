"""5-point similarity alignment to the ArcFace 112x112 template (pure functions)."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from bordermatch.types import Image

# Landmark positions of the insightface/ArcFace 112x112 template, which SFace also uses.
ARCFACE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)


def similarity_transform(src: NDArray, dst: NDArray) -> NDArray[np.float64]:
    """The 2x3 least-squares similarity (rotation, uniform scale, shift) taking src to dst.

    Umeyama (1991), without reflection. Raises ValueError for degenerate point sets.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"need matching (n>=2, 2) point sets, got {src.shape} and {dst.shape}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var_s = (s**2).sum() / len(src)
    if var_s <= 1e-12:
        raise ValueError("source points coincide")
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1.0
    rot = u @ sign @ vt
    scale = np.trace(np.diag(sig) @ sign) / var_s
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def align(
    image: Image,
    landmarks: NDArray,
    size: int = 112,
    template: NDArray = ARCFACE_112,
) -> Image:
    """Warp the face to ``size`` x ``size`` so its landmarks land on the template."""
    dst = template * (size / 112.0)
    m = similarity_transform(landmarks, dst)
    # cv2's stubs type every result as any int/float array; warpAffine keeps uint8.
    return cv2.warpAffine(  # type: ignore[return-value]
        image, m, (size, size), flags=cv2.INTER_LINEAR, borderValue=0)
