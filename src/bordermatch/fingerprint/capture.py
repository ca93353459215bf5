"""Fingerprint image capture: decode PNG, TIFF, JPEG and WSQ into 8-bit grey at 500 ppi.

Resolution rule: the file's own statement wins when it states a plausible scan resolution
(WSQ NISTCOM ``PPI``, PNG ``pHYs``, TIFF/JPEG density); otherwise the declared setting
(``declared_ppi``, 500 by default) is used. Values below :data:`MIN_STATED_PPI` are what
image editors write when they do not know (1, 72, 96 dpi: every UPEK PNG says 96), so they
count as "not stated". MINDTCT's parameters and NFIQ 2 (ISO/IEC 29794-4) are defined for
500 ppi only, so any other resolution is rejected (:class:`WrongResolutionError`) rather
than resampled.

Errors: 0 bytes -> EmptyImageError; over the byte or pixel limits -> ImageTooLargeError;
an image format we refuse -> UnsupportedImageError; corrupt or not an image ->
ImageDecodeError; a missing file -> ImageNotFoundError.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from bordermatch.config import ImageLimits
from bordermatch.errors import (
    EmptyImageError,
    ImageDecodeError,
    ImageNotFoundError,
    ImageTooLargeError,
    UnsupportedImageError,
    WrongResolutionError,
)
from bordermatch.io.images import flatten_8bit, raise_unidentified

__all__ = [
    "ACCEPTED_FORMATS",
    "FingerprintImage",
    "decode_fingerprint",
    "load_fingerprint",
]

ACCEPTED_FORMATS = ("PNG", "TIFF", "JPEG", "WSQ")
NOMINAL_PPI = 500.0
PPI_TOLERANCE = 0.02  # 490-510 ppi: the tolerance of an FBI/PIV 500 ppi scanner
MIN_STATED_PPI = 250.0
MIN_SIDE_PX = 100  # under 5 mm at 500 ppi: no finger fits
_WSQ_SOI = b"\xff\xa0"
_NISTCOM_PPI = re.compile(rb"\nPPI (\d+)")


@dataclass(frozen=True, slots=True, eq=False)
class FingerprintImage:
    """A decoded fingerprint: ``pixels`` is 2-D uint8 grey (ridges dark), at ``ppi``."""

    pixels: NDArray[np.uint8]
    ppi: float
    ppi_source: Literal["file", "declared"]
    format: str

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    def png_bytes(self) -> bytes:
        """Lossless PNG of the grey pixels: the form the NBIS backend decodes."""
        buf = io.BytesIO()
        PILImage.fromarray(self.pixels, mode="L").save(buf, format="PNG", compress_level=1)
        return buf.getvalue()


def load_fingerprint(path: str | Path, declared_ppi: float = NOMINAL_PPI,
                     limits: ImageLimits | None = None) -> FingerprintImage:
    limits = limits or ImageLimits()
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageNotFoundError(f"{path}: no such file") from None
    if size > limits.max_image_bytes:
        raise ImageTooLargeError(f"{path}: {size} bytes > limit {limits.max_image_bytes}")
    return decode_fingerprint(path.read_bytes(), declared_ppi, limits, name=str(path))


def decode_fingerprint(data: bytes, declared_ppi: float = NOMINAL_PPI,
                       limits: ImageLimits | None = None,
                       name: str = "image") -> FingerprintImage:
    """Decode ``data`` into a :class:`FingerprintImage` or raise a named ImageError."""
    limits = limits or ImageLimits()
    if not data:
        raise EmptyImageError(f"{name}: 0 bytes")
    if len(data) > limits.max_image_bytes:
        raise ImageTooLargeError(f"{name}: {len(data)} bytes > limit {limits.max_image_bytes}")
    if data[:2] == _WSQ_SOI:
        pixels, stated, fmt = _decode_wsq(data, limits, name), _wsq_ppi(data), "WSQ"
    else:
        pixels, stated, fmt = _decode_raster(data, limits, name)
    if min(pixels.shape) < MIN_SIDE_PX:
        raise ImageDecodeError(f"{name}: {pixels.shape[1]}x{pixels.shape[0]} pixels is too "
                               f"small for a fingerprint")
    source: Literal["file", "declared"]
    if stated is not None and stated >= MIN_STATED_PPI:
        ppi, source = stated, "file"
    else:
        ppi, source = float(declared_ppi), "declared"
    if abs(ppi - NOMINAL_PPI) > PPI_TOLERANCE * NOMINAL_PPI:
        raise WrongResolutionError(
            f"{name}: {ppi:g} ppi ({source}); fingerprints must be captured at "
            f"{NOMINAL_PPI:g} ppi (+/-{PPI_TOLERANCE:.0%})"
        )
    return FingerprintImage(np.ascontiguousarray(pixels), ppi, source, fmt)


def _decode_wsq(data: bytes, limits: ImageLimits, name: str) -> NDArray[np.uint8]:
    try:
        import _wsq  # the NBIS WSQ codec of the `wsq` package (the fingerprint extra)
    except ImportError:
        raise UnsupportedImageError(
            f"{name}: WSQ needs the 'wsq' package (pip install 'bordermatch[fingerprint]')"
        ) from None
    try:
        buf, width, height, _ppi = _wsq.decompress(data)
    except Exception as exc:  # the C codec raises bare exceptions on corrupt data
        raise ImageDecodeError(f"{name}: corrupt WSQ ({exc})") from None
    if width * height > limits.max_image_pixels:
        raise ImageTooLargeError(f"{name}: {width}x{height} pixels > limit")
    if width <= 0 or height <= 0 or len(buf) != width * height:
        raise ImageDecodeError(f"{name}: corrupt WSQ ({width}x{height}, {len(buf)} bytes)")
    return np.frombuffer(bytes(buf), dtype=np.uint8).reshape(height, width)


def _wsq_ppi(data: bytes) -> float | None:
    # WSQ frames carry no resolution; NIST writes it in the NISTCOM comment ("PPI 500").
    # A value of -1 there means unknown.
    m = _NISTCOM_PPI.search(data[:4096])
    if m is None:
        return None
    value = float(m.group(1))
    return value if value > 0 else None


def _decode_raster(data: bytes, limits: ImageLimits, name: str
                   ) -> tuple[NDArray[np.uint8], float | None, str]:
    try:
        img = PILImage.open(io.BytesIO(data), formats=ACCEPTED_FORMATS[:3])
    except UnidentifiedImageError:
        raise_unidentified(data, name, ACCEPTED_FORMATS, " for fingerprints")
    except PILImage.DecompressionBombError as exc:
        raise ImageTooLargeError(f"{name}: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(f"{name}: unreadable image header ({exc})") from None
    w, h = img.size
    if w * h > limits.max_image_pixels:
        raise ImageTooLargeError(f"{name}: {w}x{h} = {w * h} pixels > limit")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            img.load()
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(f"{name}: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(f"{name}: corrupt or truncated image ({exc})") from None
    return _to_grey(img, name), _stated_ppi(img), str(img.format)


def _stated_ppi(img: PILImage.Image) -> float | None:
    dpi = img.info.get("dpi")
    if not dpi:
        return None
    try:
        x, y = float(dpi[0]), float(dpi[1])
    except (TypeError, ValueError, IndexError):
        return None
    if abs(x - y) > 1.0:
        return None  # anisotropic pixels: not a scan resolution; the setting decides
    return round(x, 1)  # PNG stores pixels per metre: 500 ppi reads back as 499.999


def _to_grey(img: PILImage.Image, name: str) -> NDArray[np.uint8]:
    return np.asarray(flatten_8bit(img, name).convert("L"), dtype=np.uint8)
