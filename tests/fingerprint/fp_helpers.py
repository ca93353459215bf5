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


def make_template(n: int = 30, seed: int = 0, position: int = 0, width: int = 300,
                  height: int = 400):
    """A random but valid FingerTemplate (no image behind it)."""
    from bordermatch.fingerprint.minutiae import FingerTemplate

    rng = np.random.default_rng(seed)
    return FingerTemplate(
        x=rng.integers(0, width, n).astype(np.int32),
        y=rng.integers(0, height, n).astype(np.int32),
        angle=(rng.integers(0, 256, n) * (360 / 256)).astype(np.float32),
        kind=rng.integers(1, 3, n).astype(np.uint8),
        quality=rng.integers(0, 101, n).astype(np.uint8),
        width=width, height=height, position=position)


def moved(t, degrees: float = 20.0, shift: tuple[float, float] = (15.0, -10.0)):
    """``t`` rotated about its centre and shifted: the same finger placed differently."""
    from bordermatch.fingerprint.minutiae import FingerTemplate

    r = np.radians(degrees)
    cx, cy = t.width / 2, t.height / 2
    x, y = t.x - cx, t.y - cy
    # Counter-clockwise on screen (y grows downwards), as the minutia angles are.
    xr = cx + x * np.cos(r) + y * np.sin(r) + shift[0]
    yr = cy - x * np.sin(r) + y * np.cos(r) + shift[1]
    keep = (xr >= 0) & (xr < t.width) & (yr >= 0) & (yr < t.height)
    return FingerTemplate(np.floor(xr[keep]).astype(np.int32), np.floor(yr[keep]).astype(np.int32),
                          ((t.angle[keep] + degrees) % 360).astype(np.float32), t.kind[keep],
                          t.quality[keep], t.width, t.height, t.position)


class FakeComparator:
    """Scores the number of minutiae two templates share exactly (no image, no NBIS)."""

    name = "fake"

    def prepare(self, template):
        return {(int(a), int(b)) for a, b in zip(template.x, template.y, strict=True)}

    def compare(self, probe, reference) -> float:
        return float(len(probe & reference))
