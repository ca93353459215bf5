"""Every kind of bad image gets a specific error; odd-but-valid images convert correctly."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from bordermatch.config import ImageLimits
from bordermatch.errors import (
    EmptyImageError,
    ImageDecodeError,
    ImageNotFoundError,
    ImageTooLargeError,
    UnsupportedImageError,
)
from bordermatch.io.images import decode_image, load_image


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _rgb(w: int = 64, h: int = 48) -> Image.Image:
    arr = np.zeros((h, w, 3), np.uint8)
    arr[..., 0] = 200
    arr[:, : w // 2, 2] = 100
    return Image.fromarray(arr)


def test_jpeg_round_trip_is_rgb_uint8():
    out = decode_image(_encode(_rgb(), "JPEG", quality=95))
    assert out.dtype == np.uint8 and out.shape == (48, 64, 3)
    assert out[..., 0].mean() > 180  # red stays in channel 0: RGB, not BGR


def test_empty_bytes():
    with pytest.raises(EmptyImageError):
        decode_image(b"")


def test_missing_file(tmp_path):
    with pytest.raises(ImageNotFoundError):
        load_image(tmp_path / "nope.jpg")


def test_not_an_image():
    with pytest.raises(ImageDecodeError):
        decode_image(b"this is a passport number, not a photo" * 10)


def test_truncated_jpeg():
    data = _encode(_rgb(640, 480), "JPEG")
    with pytest.raises(ImageDecodeError):
        decode_image(data[: len(data) // 2])


def test_corrupt_png_crc():
    data = bytearray(_encode(_rgb(), "PNG"))
    data[40] ^= 0xFF  # inside the IDAT stream
    with pytest.raises(ImageDecodeError):
        decode_image(bytes(data))


def test_refused_format_is_unsupported_not_corrupt():
    with pytest.raises(UnsupportedImageError):
        decode_image(_encode(_rgb(), "GIF"))


def test_byte_limit():
    with pytest.raises(ImageTooLargeError):
        decode_image(_encode(_rgb(), "PNG"), ImageLimits(max_image_bytes=100))


def test_file_byte_limit_checked_before_reading(tmp_path):
    p = tmp_path / "big.png"
    p.write_bytes(_encode(_rgb(), "PNG"))
    with pytest.raises(ImageTooLargeError):
        load_image(p, ImageLimits(max_image_bytes=10))


def _png_bomb(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge grayscale canvas (IDAT of zeros)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    raw = zlib.compress(b"\x00" * (width + 1) * 16, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def test_decompression_bomb_rejected_from_header():
    bomb = _png_bomb(60_000, 60_000)  # 3.6 gigapixels in a few hundred bytes
    assert len(bomb) < 10_000
    with pytest.raises(ImageTooLargeError):
        decode_image(bomb)


def test_pixel_limit_is_configurable():
    data = _encode(_rgb(100, 100), "PNG")
    with pytest.raises(ImageTooLargeError):
        decode_image(data, ImageLimits(max_image_pixels=5_000))
    assert decode_image(data, ImageLimits(max_image_pixels=10_000)).shape == (100, 100, 3)


def test_grayscale_becomes_three_channels():
    gray = Image.fromarray(np.full((20, 30), 77, np.uint8), mode="L")
    out = decode_image(_encode(gray, "PNG"))
    assert out.shape == (20, 30, 3) and (out == 77).all()


def test_cmyk_jpeg_converts():
    cmyk = _rgb().convert("CMYK")
    out = decode_image(_encode(cmyk, "JPEG"))
    assert out.shape == (48, 64, 3)
    assert out[..., 0].mean() > 150


def test_sixteen_bit_is_scaled_not_clipped():
    arr = np.full((10, 10), 65535, np.uint16)
    arr[:5] = 32896  # mid-grey in 16 bits
    img = Image.fromarray(arr)
    assert img.mode == "I;16"
    out = decode_image(_encode(img, "PNG"))
    assert out[0, 0, 0] == 128 and out[9, 9, 0] == 255


def test_alpha_composited_on_white():
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, :5, 3] = 255  # left half opaque red, right half transparent
    out = decode_image(_encode(Image.fromarray(rgba, mode="RGBA"), "PNG"))
    assert tuple(out[0, 0]) == (255, 0, 0)
    assert tuple(out[0, 9]) == (255, 255, 255)


def test_exif_rotation_applied():
    img = _rgb(64, 48)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    out = decode_image(_encode(img, "JPEG", exif=exif.tobytes()))
    assert out.shape == (64, 48, 3)
