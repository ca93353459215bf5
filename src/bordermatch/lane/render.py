"""Pixel operations of the lane simulator: a car scene, faces pasted behind glass, and the
degradations of a real lane camera. Pure functions of their inputs and a numpy Generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from bordermatch.lane.scenario import Range, SimParams, uniform
from bordermatch.types import Image

Rng = np.random.Generator


@dataclass(frozen=True, slots=True)
class SourceFace:
    """A photo to render, with its detected face box (x1, y1, x2, y2) and 5 landmarks."""

    image: Image
    box: NDArray[np.float32]
    landmarks: NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where and how one face appears in one frame."""

    cx: float  # face-box centre, frame pixels
    cy: float
    width: float  # face-box width before the yaw squeeze
    squeeze: float = 1.0  # horizontal foreshortening (angled views)
    cover_top: float = 0.0  # fraction of the face hidden from above (sun visor)
    cover_bottom: float = 0.0  # from below (headrest)
    cover_side: float = 0.0  # from the side facing away (far-side seat behind the near one)
    sunglasses: bool = False


def background(rng: Rng, size: tuple[int, int]) -> Image:
    """Booth/road backdrop with a car body and a dark cabin region."""
    w, h = size
    top = rng.uniform(120, 200, 3)
    bottom = rng.uniform(60, 110, 3)
    ramp = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    img: NDArray[np.floating] = top * (1 - ramp) + bottom * ramp
    img = np.broadcast_to(img, (h, w, 3)).astype(np.float32).copy()
    paint = rng.uniform(20, 220, 3)
    cv2.rectangle(img, (int(w * 0.12), int(h * 0.25)), (int(w * 0.88), int(h * 0.98)),
                  paint.tolist(), -1)
    cabin = rng.uniform(25, 55)
    cv2.rectangle(img, (int(w * 0.2), int(h * 0.3)), (int(w * 0.8), int(h * 0.8)),
                  (cabin, cabin, cabin * 1.05), -1)
    img += gaussian_noise(rng, img.shape, 3.0)
    return np.clip(img, 0, 255).astype(np.uint8)


def gaussian_noise(rng: Rng, shape: tuple[int, ...], sigma: float) -> NDArray[np.float32]:
    """Gaussian noise drawn at half resolution and upscaled: spatially correlated over ~2 px
    like demosaiced sensor noise, and 4x cheaper to draw. OpenCV's generator (much faster
    than numpy's) is seeded from ``rng``, so a seed still fixes the whole simulation."""
    h, w, c = shape
    cv2.setRNGSeed(int(rng.integers(2**31 - 1)))
    half = np.empty(((h + 1) // 2, (w + 1) // 2, c), np.float32)
    # cv2's stubs lack the scalar-tuple mean/stddev and type results as any int/float array.
    cv2.randn(half, (0.0,) * c, (float(sigma),) * c)  # type: ignore[call-overload]
    return cv2.resize(half, (w, h), interpolation=cv2.INTER_NEAREST)  # type: ignore[return-value]


def paste_face(canvas: NDArray[np.float32], src: SourceFace, pl: Placement,
               cabin_colour: float) -> None:
    """Composite the face (with some hair and neck) at the placement, in place."""
    x1, y1, x2, y2 = (float(v) for v in src.box)
    fw, fh = x2 - x1, y2 - y1
    scale = pl.width / max(fw, 1.0)
    sx, sy = scale * pl.squeeze, scale
    # Source region: the face box grown by 45% each way so hair and chin come along.
    cxs, cys = (x1 + x2) / 2, (y1 + y2) / 2
    hw, hh = fw * 0.95, fh * 0.95
    out_w, out_h = max(4, round(2 * hw * sx)), max(4, round(2 * hh * sy))
    m = np.array([[sx, 0, out_w / 2 - cxs * sx], [0, sy, out_h / 2 - cys * sy]], np.float64)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    patch = cv2.warpAffine(src.image, m, (out_w, out_h), flags=interp,
                           borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    alpha = np.zeros((out_h, out_w), np.float32)
    cv2.ellipse(alpha, (out_w // 2, out_h // 2), (int(out_w * 0.36), int(out_h * 0.45)),
                0, 0, 360, 1.0, -1)
    # cv2's stubs type every result as any int/float array; the blur keeps float32.
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(1.0, out_w * 0.04))  # type: ignore[assignment]
    lm = src.landmarks * [sx, sy] + [m[0, 2], m[1, 2]]
    face_h = fh * sy
    top = out_h / 2 - face_h / 2
    if pl.sunglasses:
        r = max(1, int(0.2 * pl.width * pl.squeeze))
        for ex, ey in lm[:2]:
            cv2.ellipse(patch, (int(ex), int(ey)), (r, max(1, int(r * 0.7))), 0, 0, 360,
                        (15, 15, 18), -1)
        cv2.line(patch, tuple(int(v) for v in lm[0]), tuple(int(v) for v in lm[1]),
                 (15, 15, 18), max(1, r // 4))
    occluder = np.zeros((out_h, out_w), np.float32)
    if pl.cover_top > 0:
        occluder[: int(top + pl.cover_top * face_h)] = 1.0
    if pl.cover_bottom > 0:
        occluder[int(top + (1 - pl.cover_bottom) * face_h):] = 1.0
    if pl.cover_side > 0:
        occluder[:, out_w - int(pl.cover_side * out_w * 0.8):] = 1.0
    ox, oy = round(pl.cx - out_w / 2), round(pl.cy - out_h / 2)
    _blend(canvas, patch, alpha, ox, oy)
    if occluder.any():
        shade = np.full_like(patch, cabin_colour * 0.8)
        _blend(canvas, shade, occluder * 0.97, ox, oy)


def _blend(canvas: NDArray[np.float32], patch: NDArray[np.float32], alpha: NDArray[np.float32],
           ox: int, oy: int) -> None:
    h, w = canvas.shape[:2]
    ph, pw = patch.shape[:2]
    cx1, cy1, cx2, cy2 = max(ox, 0), max(oy, 0), min(ox + pw, w), min(oy + ph, h)
    if cx1 >= cx2 or cy1 >= cy2:
        return
    p = patch[cy1 - oy: cy2 - oy, cx1 - ox: cx2 - ox]
    a = alpha[cy1 - oy: cy2 - oy, cx1 - ox: cx2 - ox, None]
    region = canvas[cy1:cy2, cx1:cx2]
    region *= 1 - a
    region += a * p


@dataclass(frozen=True, slots=True)
class GlassLook:
    """One camera's view through glass: fixed for the event, as tint and sky are."""

    transmission: float
    cast: NDArray[np.float32]
    reflection: NDArray[np.float32] | None  # (h, w, 1) additive sky reflection, 0-255 scale


def glass_look(rng: Rng, p: SimParams, size: tuple[int, int], transmission: Range) -> GlassLook:
    w, h = size
    cast = (1 + rng.uniform(-p.colour_cast, p.colour_cast, 3)).astype(np.float32)
    refl = None
    if rng.random() < p.reflection_prob:
        strength = uniform(rng, p.reflection_strength) * 255
        # A smooth diagonal sky gradient with a few soft streaks (trees, buildings).
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        angle = rng.uniform(0, np.pi)
        ramp = (np.cos(angle) * xx + np.sin(angle) * yy) / max(w, h)
        ramp = (ramp - ramp.min()) / max(1e-6, np.ptp(ramp))
        streaks = 0.5 + 0.5 * np.sin(ramp * rng.uniform(6, 20) + rng.uniform(0, 6))
        refl = (strength * ramp * streaks)[..., None].astype(np.float32)
    return GlassLook(uniform(rng, transmission), cast, refl)


def through_glass(canvas: NDArray[np.float32], look: GlassLook, region: tuple[int, int, int, int]
                  ) -> None:
    """Tint, colour cast and reflection on the cabin region (x1, y1, x2, y2), in place."""
    x1, y1, x2, y2 = region
    sub = canvas[y1:y2, x1:x2]
    sub *= look.transmission * look.cast
    if look.reflection is not None:
        sub += look.reflection[y1:y2, x1:x2]


def degrade(rng: Rng, p: SimParams, img: NDArray[np.float32]) -> Image:
    """Glare, motion blur and sensor noise on one frame (JPEG is applied when saving)."""
    h, w = img.shape[:2]
    if rng.random() < p.glare_prob:
        r = uniform(rng, p.glare_radius)
        cx, cy = rng.uniform(0.2 * w, 0.8 * w), rng.uniform(0.25 * h, 0.8 * h)
        # Beyond 4 radii the glint adds less than one grey level; skip those pixels.
        x1, x2 = max(0, int(cx - 4 * r)), min(w, int(cx + 4 * r) + 1)
        y1, y2 = max(0, int(cy - 4 * r)), min(h, int(cy + 4 * r) + 1)
        yy, xx = np.ogrid[y1:y2, x1:x2]
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r)).astype(np.float32)
        img[y1:y2, x1:x2] += 255 * 1.3 * blob[..., None]
    length = round(uniform(rng, p.motion_blur_px))
    if length >= 2:
        kernel = np.zeros((length, length), np.float32)
        angle = rng.uniform(-0.25, 0.25)  # the car moves mostly horizontally in the frame
        c = (length - 1) / 2
        for t in np.linspace(-c, c, length * 2):
            kernel[round(c + t * np.sin(angle)), round(c + t * np.cos(angle))] = 1
        # cv2's stubs type every result as any int/float array; ddepth -1 keeps float32.
        img = cv2.filter2D(img, -1, kernel / kernel.sum())  # type: ignore[assignment]
    img += gaussian_noise(rng, img.shape, uniform(rng, p.noise_sigma))
    return np.clip(img, 0, 255).astype(np.uint8)


def encode_jpeg(img: Image, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()
