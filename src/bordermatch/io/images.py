"""Safe image decoding: every upload or file goes through here before any model sees it.

Rules (each has a test): 0 bytes -> EmptyImageError; too many bytes or pixels ->
ImageTooLargeError (pixels are checked from the header, before decoding, so a
decompression bomb never allocates); unknown or refused formats -> UnsupportedImageError;
corrupt or truncated data -> ImageDecodeError. Grayscale, palette, CMYK, 16-bit and alpha
are converted to 8-bit RGB, and EXIF orientation is applied.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

from bordermatch.config import ImageLimits
from bordermatch.errors import (
    EmptyImageError,
    ImageDecodeError,
    ImageNotFoundError,
    ImageTooLargeError,
    UnsupportedImageError,
)
from bordermatch.types import Image

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "PPM")
_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I"}


def load_image(path: str | Path, limits: ImageLimits | None = None) -> Image:
    limits = limits or ImageLimits()
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageNotFoundError(f"{path}: no such file") from None
    except OSError as exc:
        raise ImageNotFoundError(f"{path}: cannot read ({exc.strerror})") from None
    if path.is_dir():
        raise ImageNotFoundError(f"{path}: is a directory, not an image file")
    if size > limits.max_image_bytes:
        raise ImageTooLargeError(f"{path}: {size} bytes > limit {limits.max_image_bytes}")
    try:
        data = path.read_bytes()
    except OSError as exc:  # unreadable (permissions), a device, a FIFO...
        raise ImageNotFoundError(f"{path}: cannot read ({exc.strerror})") from None
    return decode_image(data, limits, name=str(path))


def decode_image(data: bytes, limits: ImageLimits | None = None, name: str = "image") -> Image:
    """Decode bytes into a contiguous uint8 RGB array, or raise a specific ImageError."""
    limits = limits or ImageLimits()
    if not data:
        raise EmptyImageError(f"{name}: 0 bytes")
    if len(data) > limits.max_image_bytes:
        raise ImageTooLargeError(f"{name}: {len(data)} bytes > limit {limits.max_image_bytes}")
    img = _open_checked(data, limits, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            img.load()
            img = ImageOps.exif_transpose(img)
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(f"{name}: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(f"{name}: corrupt or truncated image ({exc})") from None
    return to_rgb8(img, name)


def _open_checked(data: bytes, limits: ImageLimits, name: str) -> PILImage.Image:
    try:
        img = PILImage.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except UnidentifiedImageError:
        _raise_unidentified(data, name)
    except PILImage.DecompressionBombError as exc:
        raise ImageTooLargeError(f"{name}: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(f"{name}: unreadable image header ({exc})") from None
    w, h = img.size
    if w <= 0 or h <= 0:
        raise ImageDecodeError(f"{name}: image has no pixels ({w}x{h})")
    if w * h > limits.max_image_pixels:
        raise ImageTooLargeError(
            f"{name}: {w}x{h} = {w * h} pixels > limit {limits.max_image_pixels}"
        )
    return img


def _raise_unidentified(data: bytes, name: str) -> None:
    # Distinguish "a real image in a format we refuse" from "not an image at all". The
    # second open only parses the header; no refused decoder ever runs.
    try:
        with PILImage.open(io.BytesIO(data)) as other:
            fmt = other.format
    except Exception:
        raise ImageDecodeError(f"{name}: not a recognised image") from None
    raise UnsupportedImageError(
        f"{name}: format {fmt} is not accepted (use {', '.join(ACCEPTED_FORMATS)})"
    )


def to_rgb8(img: PILImage.Image, name: str = "image") -> Image:
    mode = img.mode
    if mode in _SIXTEEN_BIT_MODES:
        arr = np.asarray(img).astype(np.float64)
        # 16-bit data is scaled, not clipped: Pillow's own convert("L") would saturate.
        arr = np.clip(np.round(arr / 257.0), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(arr[..., None], 3, axis=2))
    if mode == "F":
        raise UnsupportedImageError(f"{name}: floating-point images are not accepted")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        # Document photos are taken on a light background; compositing on white keeps it so.
        background = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = PILImage.alpha_composite(background, rgba)
    rgb = img.convert("RGB")
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def encode_png(image: Image) -> bytes:
    buf = io.BytesIO()
    # Level 1: these crops are encrypted and purged within hours, so write speed matters more
    # than size (level 6, Pillow's default, cost ~170 ms per gate crop on 2 busy cores).
    PILImage.fromarray(image).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()
