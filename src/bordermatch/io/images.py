"""Safe image decoding: every upload or file goes through here before any model sees it.

Rules (each has a test): 0 bytes -> EmptyImageError; too many bytes or pixels ->
ImageTooLargeError (pixels are checked from the header, before decoding, so a
decompression bomb never allocates); unknown or refused formats -> UnsupportedImageError;
corrupt data -> ImageDecodeError; a JPEG or PNG whose header claims more pixels than its data
can encode -> TruncatedImageError, also before decoding (libjpeg would otherwise spend
seconds painting a 36 MP grey canvas from a few hundred bytes). At most
``max_concurrent_decodes`` images decode at once in the process (``DECODE_SLOTS``).
Grayscale, palette, CMYK, 16-bit and alpha are converted to 8-bit RGB, and EXIF orientation
is applied. ``strip_metadata`` removes EXIF, XMP, IPTC and comments from a photo before it is
stored.
"""

from __future__ import annotations

import contextlib
import io
import threading
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import numpy as np
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

from bordermatch.config import ImageLimits
from bordermatch.errors import (
    DecodeBusyError,
    EmptyImageError,
    ImageDecodeError,
    ImageNotFoundError,
    ImageTooLargeError,
    TruncatedImageError,
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
    img = _open_checked(data, limits.max_image_pixels, name)
    with decode_slot(limits):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", PILImage.DecompressionBombWarning)
                img.load()
                # In place: a lane frame is decoded ten times a vehicle, and each copy of
                # a 1280x720 frame costs about a millisecond (docs/benchmarks.md).
                ImageOps.exif_transpose(img, in_place=True)
        except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
            raise ImageTooLargeError(f"{name}: {exc}") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageDecodeError(f"{name}: corrupt or truncated image ({exc})") from None
        return to_rgb8(img, name)


def inspect_image(data: bytes, max_pixels: int, max_bytes: int,
                  name: str = "image") -> tuple[str, int, int]:
    """(format, width, height) from the header alone, with every pre-decode check applied.

    For callers with a tighter pixel budget than the decoder's (an API route), so that an
    oversized or lying image is refused before any decode work is queued.
    """
    if not data:
        raise EmptyImageError(f"{name}: 0 bytes")
    if len(data) > max_bytes:
        raise ImageTooLargeError(f"{name}: {len(data)} bytes > limit {max_bytes}")
    img = _open_checked(data, max_pixels, name)
    return img.format or "", img.size[0], img.size[1]


class DecodeSlots:
    """Process-wide bound on concurrent decodes, shared by every app and caller in a process.

    Re-entrant per thread: a request that holds a slot across its whole image work (the API
    does, because the decoded array lives until the request ends) decodes inside it without
    taking a second one. The capacity is passed on each acquire, so settings decide it.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._local = threading.local()
        self.active = 0

    @contextlib.contextmanager
    def hold(self, capacity: int, wait_s: float):
        if getattr(self._local, "held", False):
            yield
            return
        with self._cond:
            if not self._cond.wait_for(lambda: self.active < capacity, timeout=wait_s):
                raise DecodeBusyError(f"{self.active} images are being processed (limit "
                                      f"{capacity}); retry shortly",
                                      retry_after_s=max(1.0, wait_s))
            self.active += 1
        self._local.held = True
        try:
            yield
        finally:
            self._local.held = False
            with self._cond:
                self.active -= 1
                self._cond.notify()


DECODE_SLOTS = DecodeSlots()


def decode_slot(limits: ImageLimits):
    return DECODE_SLOTS.hold(limits.max_concurrent_decodes, limits.decode_wait_s)


def _open_checked(data: bytes, max_pixels: int, name: str) -> PILImage.Image:
    try:
        img = PILImage.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except UnidentifiedImageError:
        raise_unidentified(data, name)
    except PILImage.DecompressionBombError as exc:
        raise ImageTooLargeError(f"{name}: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(f"{name}: unreadable image header ({exc})") from None
    w, h = img.size
    if w <= 0 or h <= 0:
        raise ImageDecodeError(f"{name}: image has no pixels ({w}x{h})")
    if w * h > max_pixels:
        raise ImageTooLargeError(f"{name}: {w}x{h} = {w * h} pixels > limit {max_pixels}")
    if img.format == "JPEG":
        _check_jpeg_payload(data, w, h, name)
    elif img.format == "PNG":
        _check_png_payload(data, w, h, name)
    return img


def raise_unidentified(data: bytes, name: str, accepted: Sequence[str] = ACCEPTED_FORMATS,
                       purpose: str = "") -> NoReturn:
    """Distinguish "a real image in a format we refuse" from "not an image at all". The
    second open only parses the header; no refused decoder ever runs."""
    try:
        with PILImage.open(io.BytesIO(data)) as other:
            fmt = other.format
    except Exception:
        raise ImageDecodeError(f"{name}: not a recognised image") from None
    raise UnsupportedImageError(
        f"{name}: format {fmt} is not accepted{purpose} (use {', '.join(accepted)})"
    )


def flatten_8bit(img: PILImage.Image, name: str = "image") -> PILImage.Image:
    """An 8-bit image without transparency, ready for ``convert("RGB")`` or ``("L")``.

    16-bit data is scaled, not clipped (Pillow's own convert would saturate); floating-point
    images are refused; transparent areas become white (document photos are taken on a
    light background, and on a live-scan fingerprint no contact is white)."""
    mode = img.mode
    if mode in _SIXTEEN_BIT_MODES:
        arr = np.asarray(img).astype(np.float64)
        return PILImage.fromarray(np.clip(np.round(arr / 257.0), 0, 255).astype(np.uint8), "L")
    if mode == "F":
        raise UnsupportedImageError(f"{name}: floating-point images are not accepted")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = PILImage.alpha_composite(background, rgba)
    return img


def to_rgb8(img: PILImage.Image, name: str = "image") -> Image:
    rgb = flatten_8bit(img, name)
    if rgb.mode != "RGB":  # converting RGB to RGB would only copy it
        rgb = rgb.convert("RGB")
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def encode_png(image: Image) -> bytes:
    buf = io.BytesIO()
    # Level 1: these crops are encrypted and purged within hours, so write speed matters more
    # than size (level 6, Pillow's default, cost ~170 ms per gate crop on 2 busy cores).
    PILImage.fromarray(image).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


# -- does the data hold the pixels the header claims? ------------------------------------------
# Huffman-coded JPEG spends at least one bit per 8x8 luma block (its DC code; a baseline block
# also needs an end-of-block code). Arithmetic-coded and lossless JPEG have no such floor and
# are only checked for completeness.
_HUFFMAN_SOF = {0xC0, 0xC1, 0xC2}
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# Deflate cannot beat 1032:1 (a 258-byte match costs at least two bits), so a PNG's IDAT
# holds at least raw/1032 bytes.
_DEFLATE_MAX_RATIO = 1032
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _jpeg_segments(data: bytes, name: str) -> tuple[list[tuple[int, int, int]], int]:
    """Marker segments before the first scan as (marker, start, end), and the scan's start."""
    pos, n, segments = 2, len(data), []
    while True:
        if pos + 4 > n:
            raise TruncatedImageError(f"{name}: JPEG ends before its image data")
        if data[pos] != 0xFF:
            raise ImageDecodeError(f"{name}: corrupt JPEG marker structure")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 2
            continue
        if marker == 0xD9:
            raise TruncatedImageError(f"{name}: JPEG ends before its image data")
        end = pos + 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        if end > n or end < pos + 4:
            raise TruncatedImageError(f"{name}: JPEG segment runs past the end of the data")
        segments.append((marker, pos, end))
        if marker == 0xDA:
            return segments, end
        pos = end


def _check_jpeg_payload(data: bytes, w: int, h: int, name: str) -> None:
    segments, scan = _jpeg_segments(data, name)
    # Entropy-coded data stuffs every 0xFF, so the first FF D9 after the scan is the EOI.
    eoi = data.find(b"\xff\xd9", scan)
    if eoi < 0:
        raise TruncatedImageError(f"{name}: JPEG has no end-of-image marker (cut short)")
    if any(m in _HUFFMAN_SOF for m, _, _ in segments):
        blocks = -(-w // 8) * -(-h // 8)
        if (eoi - scan) * 8 < blocks:
            raise TruncatedImageError(
                f"{name}: {eoi - scan} bytes of JPEG data cannot hold {w}x{h} pixels")


def _png_chunks(data: bytes, name: str) -> list[tuple[bytes, int, int]]:
    """Chunks as (type, start, end), through IEND; refuses a PNG cut short."""
    pos, n, chunks = 8, len(data), []
    while True:
        if pos + 12 > n:
            raise TruncatedImageError(f"{name}: PNG ends before its IEND chunk")
        end = pos + 12 + int.from_bytes(data[pos:pos + 4], "big")
        if end > n:
            raise TruncatedImageError(f"{name}: PNG chunk runs past the end of the data")
        ctype = data[pos + 4:pos + 8]
        chunks.append((ctype, pos, end))
        if ctype == b"IEND":
            return chunks
        pos = end


def _check_png_payload(data: bytes, w: int, h: int, name: str) -> None:
    chunks = _png_chunks(data, name)
    ihdr = data[chunks[0][1] + 8:chunks[0][2] - 4]
    if chunks[0][0] != b"IHDR" or len(ihdr) != 13:
        raise ImageDecodeError(f"{name}: PNG does not start with IHDR")
    depth, color = ihdr[8], ihdr[9]
    raw = h * (1 + (w * _PNG_CHANNELS.get(color, 1) * depth + 7) // 8)
    idat = sum(e - s - 12 for t, s, e in chunks if t == b"IDAT")
    if idat * _DEFLATE_MAX_RATIO < raw:
        raise TruncatedImageError(f"{name}: {idat} bytes of PNG data cannot hold {w}x{h} pixels")


# -- metadata --------------------------------------------------------------------------------
# Kept: what decoding or colour needs. JFIF (APP0) and Adobe (APP14, says whether the data is
# YCbCr or CMYK/YCCK), and the ICC profile (APP2 "ICC_PROFILE"). Dropped: EXIF and XMP
# (APP1: camera serials, GPS, times), IPTC (APP13: captions, names), other APPn, comments,
# and anything after the end-of-image marker (MPF second pictures, vendor trailers).
_ORIENTATION = 0x0112
_PNG_KEEP = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP",
             b"sBIT", b"bKGD", b"pHYs"}


def strip_metadata(data: bytes) -> bytes:
    """The same photo without metadata; EXIF orientation alone is kept, so it still displays
    and decodes the same way. JPEG and PNG are rewritten segment by segment (pixels untouched);
    other formats are decoded and re-encoded as PNG (lossless)."""
    orientation = _orientation(data)
    if data[:2] == b"\xff\xd8":
        return _strip_jpeg(data, orientation)
    if data[:8] == _PNG_SIG:
        return _strip_png(data, orientation)
    return encode_png(decode_image(data))  # orientation applied by the decode


def _orientation(data: bytes) -> int:
    try:
        with PILImage.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as img:
            value = img.getexif().get(_ORIENTATION, 1)
    except Exception:
        raise ImageDecodeError("photo: not a recognised image") from None
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _exif_orientation_only(orientation: int) -> bytes:
    exif = PILImage.Exif()
    exif[_ORIENTATION] = orientation
    return exif.tobytes()  # b"Exif\0\0" + a TIFF block holding the one tag


def _strip_jpeg(data: bytes, orientation: int) -> bytes:
    segments, scan = _jpeg_segments(data, "photo")
    eoi = data.find(b"\xff\xd9", scan)
    if eoi < 0:
        raise TruncatedImageError("photo: JPEG has no end-of-image marker (cut short)")
    out = [b"\xff\xd8"]
    if orientation != 1:
        payload = _exif_orientation_only(orientation)
        out.append(b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload)
    for marker, start, end in segments:
        body = data[start + 4:end]
        keep = (marker == 0xE0 and body.startswith(b"JFIF")) or marker == 0xEE \
            or (marker == 0xE2 and body.startswith(b"ICC_PROFILE\0")) \
            or not (0xE0 <= marker <= 0xEF or marker == 0xFE)
        if keep:
            out.append(data[start:end])
    out.append(data[scan:eoi + 2])
    return b"".join(out)


def _strip_png(data: bytes, orientation: int) -> bytes:
    out = [_PNG_SIG]
    for ctype, start, end in _png_chunks(data, "photo"):
        if ctype == b"IDAT" and orientation != 1:  # once, before the first IDAT
            tiff = _exif_orientation_only(orientation)[6:]
            chunk = b"eXIf" + tiff
            out.append(len(tiff).to_bytes(4, "big") + chunk
                       + zlib.crc32(chunk).to_bytes(4, "big"))
            orientation = 1
        if ctype in _PNG_KEEP:
            out.append(data[start:end])
    return b"".join(out)
