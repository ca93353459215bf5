"""Small helpers for the fingerprint tests (synthetic images)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def encode(arr: np.ndarray, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, **kw)
    return buf.getvalue()


def ridges(size: int = 300, period: float = 9.0, angle: float = 0.5) -> np.ndarray:
    """A synthetic ridge pattern (500 ppi ridge period ~9 px), for decoding tests."""
    yy, xx = np.mgrid[0:size, 0:size]
    wave = np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period)
    return (127 + 100 * wave).astype(np.uint8)
